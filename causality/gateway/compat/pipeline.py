"""Storing mapped events through the same path as ``/api/v1/events/batch``.

Mapped envelopes are encoded as one ``{"events": [...]}`` body and checked by the gateway's
``EventValidator``, so a compat event is held to exactly the contract an SDK event is; then
``publish_accepted`` rate-limits, publishes and counts them like any other ingestion. The
one addition is the fallback: an event sent under a catalogued name whose properties do not
fit that type is validated again as a ``custom`` event, because these clients cannot see
per-event errors and a silent drop would lose data that is only mistyped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from causality.auth.api_keys import AuthenticatedKey
from causality.events.errors import BatchTooLarge
from causality.events.model import Event
from causality.events.validation import Rejection
from causality.gateway.compat.envelope import Mapped, with_type_error
from causality.gateway.compat.values import Json, MappingError
from causality.gateway.ingest import count_rejections, publish_accepted
from causality.gateway.state import GatewayState

_encode: Final = msgspec.json.Encoder().encode

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one event of the request, in the client's order."""

    status: Status
    field: str | None = None
    reason: str | None = None

    @property
    def stored(self) -> bool:
        """Accepted now or before: the client must not resend it."""
        return self.status != "rejected"

    def describe(self) -> str:
        """``field: reason`` for error messages."""
        return f"{self.field}: {self.reason}"


def rejected(field: str, reason: str) -> Outcome:
    """An outcome for an event refused before or during validation."""
    return Outcome("rejected", field, reason)


def _validate(
    state: GatewayState, key: AuthenticatedKey, envelopes: list[tuple[int, Json]], now_ms: int
) -> dict[int, Event | Rejection]:
    """Validate envelopes as one batch body; results keyed by the client's indexes."""
    results: dict[int, Event | Rejection] = {}
    positions: list[int] = []
    parts: list[bytes] = []
    for index, envelope in envelopes:
        try:
            parts.append(_encode(envelope))
        except (TypeError, ValueError, OverflowError) as exc:
            results[index] = Rejection(index=index, field="properties", reason=str(exc))
            continue
        positions.append(index)
    if not parts:
        return results
    body = b'{"events":[' + b",".join(parts) + b"]}"
    outcome = state.validator.validate_batch(body, app_id=key.app_id, now_ms=now_ms)
    for event, position in zip(outcome.accepted, outcome.accepted_indexes, strict=True):
        results[positions[position]] = event
    for rejection in outcome.rejected:
        index = positions[rejection.index]
        results[index] = Rejection(index=index, field=rejection.field, reason=rejection.reason)
    return results


async def store(
    state: GatewayState,
    key: AuthenticatedKey,
    items: Sequence[Mapped | MappingError],
    *,
    now_ms: int,
) -> list[Outcome]:
    """Validate, fall back where allowed, publish; one outcome per item, in order.

    Raises ``BatchTooLarge`` over ``max_batch_events``, ``ApiError`` 429 when the key is
    rate limited and ``BusUnavailable`` when JetStream does not acknowledge.
    """
    limit = state.settings.max_batch_events
    if len(items) > limit:
        raise BatchTooLarge(len(items), limit)
    mapped = {i: item for i, item in enumerate(items) if isinstance(item, Mapped)}
    results = _validate(state, key, [(i, m.envelope) for i, m in mapped.items()], now_ms)
    retry: list[tuple[int, Json]] = []
    for index, result in results.items():
        fallback = mapped[index].fallback
        if (
            isinstance(result, Rejection)
            and fallback is not None
            and result.field.startswith("properties")
        ):
            retry.append((index, with_type_error(fallback, result.field, result.reason)))
    results.update(_validate(state, key, retry, now_ms))

    outcomes: list[Outcome] = []
    accepted: list[tuple[int, Event]] = []
    refused: list[Rejection] = []
    for index, item in enumerate(items):
        if isinstance(item, MappingError):
            refused.append(Rejection(index=index, field=item.field, reason=item.reason))
            outcomes.append(rejected(item.field, item.reason))
            continue
        result = results[index]
        if isinstance(result, Rejection):
            refused.append(result)
            outcomes.append(rejected(result.field, result.reason))
        else:
            accepted.append((index, result))
            outcomes.append(Outcome("accepted"))
    count_rejections(state, refused)
    if accepted:
        events = [event for _, event in accepted]
        flags = await publish_accepted(state, key, events, total=len(items))
        for (index, _), duplicate in zip(accepted, flags, strict=True):
            if duplicate:
                outcomes[index] = Outcome("duplicate")
    return outcomes

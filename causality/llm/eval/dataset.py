"""The evaluation data: the question set with its gold SQL, and the warehouse it runs on.

Questions live in ``questions.toml`` next to this module (a ``.json`` file with the same
fields works too, for ``--questions``); ``load_questions`` checks them and names the item and
field of anything wrong.

Gold SQL is only a fair yardstick if it gives the same answer every time, so the dataset's
content is a pure function of ``(days, seed, events_per_day)``: the demo ``TrafficGenerator``
runs on a simulated clock (a daily rhythm in UTC and slow growth), every event gets an id
derived from the seed, and the envelopes go through the gateway's ``EventValidator`` and the
sink's ``PartitionedWriter`` exactly like live traffic. ``end`` (a UTC midnight, by default
today's) only shifts the timestamps: it is the dataset's fixed "now", and the gold SQL
reads it as ``max(timestamp)``, never from the wall clock. Ending the data today keeps a
model's ``now()``-relative filters (the prompt asks for "the last 30 days" by default)
meaningful; an older dataset still scores the same against its gold SQL.
"""

from __future__ import annotations

import math
import random
import re
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import fsspec
import msgspec

from causality.demo.traffic import TrafficGenerator
from causality.events.arrow import events_to_table
from causality.events.model import Event
from causality.events.validation import EventValidator
from causality.warehouse.writer import PartitionedWriter

EVAL_APP_IDS: Final[tuple[str, ...]] = ("shop-mobile", "web-store", "backend")
"""The demo's apps: a mobile shop (ios and android), a web store and a backend."""
DEFAULT_SEED: Final = 20250602
DEFAULT_EVENTS_PER_DAY: Final = 20_000
STREAM_NAME: Final = "CAUSALITY_EVAL"
RECEIVE_DELAY_MS: Final = 1_500
GROWTH_PER_DAY: Final = 0.02
"""Each day has 2 % more traffic than the one before, so trends have a slope."""
_MINUTE_MS: Final = 60_000
_DAY_MS: Final = 86_400_000
_BATCH_LIMIT: Final = 1_000


QUESTIONS_FILE: Final = "questions.toml"
_ID: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Question(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One item of the question set; ``follows`` names the earlier question it continues."""

    id: str
    question: str
    gold_sql: str
    tags: tuple[str, ...] = ()
    ordered: bool = False
    follows: str | None = None


class QuestionSetError(ValueError):
    """The question file is unreadable or an item is invalid (the message names which)."""


def load_questions(path: str | Path | None = None) -> list[Question]:
    """The question set: the packaged ``questions.toml``, or a ``.toml``/``.json`` file."""
    if path is None:
        name = QUESTIONS_FILE
        text = resources.files("causality.llm.eval").joinpath(QUESTIONS_FILE).read_text("utf-8")
        suffix = ".toml"
    else:
        name = str(path)
        suffix = Path(path).suffix.lower()
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise QuestionSetError(f"{name}: cannot read: {exc}") from exc
    try:
        if suffix == ".json":
            data: Any = msgspec.json.decode(text)
        else:
            data = tomllib.loads(text)
    except (msgspec.DecodeError, tomllib.TOMLDecodeError) as exc:
        raise QuestionSetError(f"{name}: not valid {suffix.lstrip('.') or 'toml'}: {exc}") from exc
    items = data.get("question", data.get("questions")) if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise QuestionSetError(f"{name}: expected a non-empty list of [[question]] items")
    return _checked(name, items)


def select_questions(
    questions: Sequence[Question], *, tags: Sequence[str] = (), limit: int | None = None
) -> list[Question]:
    """The questions carrying any of ``tags`` (all when empty), the first ``limit`` of them."""
    wanted = {t.strip().lower() for t in tags if t.strip()}
    chosen = [q for q in questions if not wanted or wanted.intersection(q.tags)]
    return chosen if limit is None else chosen[: max(limit, 0)]


def _checked(name: str, items: list[Any]) -> list[Question]:
    out: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{name}: question[{index}]"
        try:
            question = msgspec.convert(item, Question)
        except msgspec.ValidationError as exc:
            raise QuestionSetError(f"{where}: {exc}") from None
        where = f"{where} ({question.id!r})"
        problem = _problem(question, seen)
        if problem:
            raise QuestionSetError(f"{where}: {problem}")
        seen.add(question.id)
        out.append(question)
    return out


def _problem(question: Question, seen: set[str]) -> str:
    """What is wrong with one item, naming the field; empty when nothing is."""
    if not _ID.match(question.id):
        return "id: use lowercase letters, digits and '-'"
    if question.id in seen:
        return "id: used twice"
    if not question.question.strip():
        return "question: empty"
    if not question.gold_sql.strip():
        return "gold_sql: empty"
    if any(not _ID.match(tag) for tag in question.tags):
        return "tags: use lowercase letters, digits and '-'"
    if question.follows is not None and question.follows not in seen:
        return f"follows: {question.follows!r} is not an earlier question"
    return ""


class EvalDataset(msgspec.Struct, frozen=True, kw_only=True):
    """What was built: where, which span (``end_ms`` exclusive) and how many events and files."""

    path: str
    days: int
    seed: int
    start_ms: int
    end_ms: int
    events: int
    files: int
    app_ids: tuple[str, ...] = EVAL_APP_IDS


def build_eval_warehouse(
    path: str | Path,
    *,
    days: int = 7,
    seed: int = DEFAULT_SEED,
    events_per_day: int = DEFAULT_EVENTS_PER_DAY,
    end: datetime | None = None,
) -> EvalDataset:
    """Write ``days`` days of demo traffic ending at ``end`` as Parquet under ``path``.

    ``end`` is rounded down to a UTC midnight (default: today's) and is exclusive. ``path``
    becomes the warehouse root (``warehouse_uri``); it must be empty or absent, so a dataset
    is never mixed with another one.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if events_per_day < 100:
        raise ValueError("events_per_day must be at least 100")
    root = Path(path).resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValueError(f"path {str(root)!r} must be an empty or new directory")
    root.mkdir(parents=True, exist_ok=True)
    writer = PartitionedWriter(
        fs=fsspec.filesystem("file"), root=str(root), partitioning="daily", stream=STREAM_NAME
    )
    end = midnight(end)
    end_ms = int(end.timestamp() * 1000)
    start_ms = end_ms - days * _DAY_MS
    total = files = 0
    for day_events in generate_days(days=days, seed=seed, events_per_day=events_per_day, end=end):
        groups = writer.plan([e.app_id for e in day_events], [e.timestamp_ms for e in day_events])
        seqs = range(total + 1, total + 1 + len(day_events))
        written = writer.write(events_to_table(day_events), seqs=seqs, groups=groups)
        total += len(day_events)
        files += len(written)
    return EvalDataset(
        path=str(root),
        days=days,
        seed=seed,
        start_ms=start_ms,
        end_ms=end_ms,
        events=total,
        files=files,
    )


def generate_days(
    *,
    days: int,
    seed: int = DEFAULT_SEED,
    events_per_day: int = DEFAULT_EVENTS_PER_DAY,
    end: datetime | None = None,
) -> Iterator[list[Event]]:
    """The validated events of each day, oldest day first (the same lists for the same args)."""
    end_ms = int(midnight(end).timestamp() * 1000)
    start_ms = end_ms - days * _DAY_MS
    clock = _SimulatedClock(start_ms / 1000)
    generator = TrafficGenerator(app_ids=EVAL_APP_IDS, seed=seed, clock=clock)
    ids = random.Random(seed ^ 0x5EED)
    validator = EventValidator(
        backfill_horizon_ms=(days + 1) * _DAY_MS,
        max_future_ms=0,
        max_batch_events=_BATCH_LIMIT,
    )
    owed = 0.0
    for day in range(days):
        day_start = start_ms + day * _DAY_MS
        per_minute = events_per_day * (1.0 + GROWTH_PER_DAY * day) / 1440
        out: list[Event] = []
        for minute in range(1440):
            minute_start = day_start + minute * _MINUTE_MS
            owed += per_minute * _hour_factor(minute // 60)
            size = int(owed)
            owed -= size
            if not size:
                continue
            batch: dict[str, list[dict[str, Any]]] = {app_id: [] for app_id in EVAL_APP_IDS}
            for k in range(size):
                # events spread over the minute; the generator jitters up to 2 s into the past
                clock.now_s = (minute_start + (k + 1) * _MINUTE_MS / (size + 1)) / 1000
                for app_id, envelopes in generator.next_batch(size=1).items():
                    for envelope in envelopes:
                        envelope["id"] = str(_uuid7(envelope["timestamp_ms"], ids))
                        batch[app_id].append(envelope)
            received_ms = minute_start + _MINUTE_MS + RECEIVE_DELAY_MS
            for app_id, envelopes in batch.items():
                if envelopes:
                    out.extend(_validated(validator, app_id, envelopes, received_ms))
        yield out


def midnight(moment: datetime | None = None) -> datetime:
    """The UTC midnight at or before ``moment`` (default: now); naive times are taken as UTC."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class _SimulatedClock:
    """The generator's clock, moved forward by the builder instead of by time passing."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _validated(
    validator: EventValidator, app_id: str, envelopes: list[dict[str, Any]], now_ms: int
) -> list[Event]:
    """Validate like the gateway; a rejected demo event means the demo broke the contract."""
    body = msgspec.json.encode({"events": envelopes})
    result = validator.validate_batch(body, app_id=app_id, now_ms=now_ms)
    if result.rejected:
        first = result.rejected[0]
        raise ValueError(
            f"demo event rejected by the validator: {first.field}: {first.reason} "
            f"({len(result.rejected)} of {result.total} in the batch)"
        )
    return result.accepted


def _hour_factor(hour: int) -> float:
    """A daily rhythm in UTC: quietest at 04:00, busiest at 16:00 (mean about 1)."""
    return (0.35 + 0.65 * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2) / 0.675


def _uuid7(timestamp_ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 (RFC 9562) for ``timestamp_ms`` whose random bits come from ``rng``."""
    value = (timestamp_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rng.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= rng.getrandbits(62)
    return uuid.UUID(int=value)

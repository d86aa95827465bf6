"""Which rules and detectors an event concerns: scope lookup, then compiled conditions.

With hundreds of rules, most of them scoped to one app, category or event type, evaluating
every condition on every event would waste the engine's time on rules that cannot match.
``ScopeIndex`` files each item under its scope (app_id, event_category, event_type, each
possibly None = any) and, for an event, collects the items of the 8 scope keys the event can
match. That candidate list is cached per (app, category, type) triple, so the common case is
one dict lookup, then only in-scope conditions run, already in priority order.

An item whose condition raises at runtime never takes the engine down: the error is counted
(``errors``) and the item treated as not matching. An item whose stored condition no longer
compiles is left out of the index and reported in ``rejected``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Final, Generic, Protocol, TypeVar

from causality.events.model import Event
from causality.reactions.conditions import Condition, InvalidCondition, compile_condition
from causality.reactions.paths import EventView

log = logging.getLogger(__name__)

# A bound on the per-triple candidate cache; traffic has few distinct (app, category, type)
# triples, but a bound keeps hostile or buggy input from growing it without limit.
CACHE_MAX_ENTRIES: Final = 4096

ScopeKey = tuple[str | None, str | None, str | None]


class Scoped(Protocol):
    """What the index reads from a rule or detector (both model structs fit)."""

    @property
    def id(self) -> str: ...
    @property
    def app_id(self) -> str | None: ...
    @property
    def event_category(self) -> str | None: ...
    @property
    def event_type(self) -> str | None: ...
    @property
    def condition(self) -> Any: ...
    @property
    def priority(self) -> int: ...
    @property
    def enabled(self) -> bool: ...


T = TypeVar("T", bound=Scoped)


def scope_matches(item: Scoped, event: Event) -> bool:
    """Whether ``event`` is in ``item``'s scope (None matches anything), ignoring the condition.

    For custom events ``event_type`` is ``"custom"``; scope on a custom event's name with a
    condition on ``event_name``.
    """
    return (
        (item.app_id is None or item.app_id == event.app_id)
        and (item.event_category is None or item.event_category == event.event_category)
        and (item.event_type is None or item.event_type == event.event_type)
    )


def _event_keys(app_id: str | None, category: str | None, event_type: str | None) -> set[ScopeKey]:
    """The (at most 8) scope keys an event can match; a set, so no bucket is read twice."""
    return {
        (app, cat, kind)
        for app in (app_id, None)
        for cat in (category, None)
        for kind in (event_type, None)
    }


class ScopeIndex(Generic[T]):
    """Enabled rules or detectors, indexed by scope, each condition compiled once.

    Built anew from each loaded configuration (it is immutable apart from its counters and
    cache), so a configuration change swaps the whole index at once.
    """

    def __init__(
        self,
        entries: list[tuple[T, Condition]],
        rejected: dict[str, str],
    ) -> None:
        self._items: tuple[T, ...] = tuple(item for item, _ in entries)
        self._buckets: dict[ScopeKey, list[tuple[int, T, Condition]]] = {}
        for rank, (item, condition) in enumerate(entries):
            key = (item.app_id, item.event_category, item.event_type)
            self._buckets.setdefault(key, []).append((rank, item, condition))
        self._cache: dict[ScopeKey, tuple[tuple[T, Condition], ...]] = {}
        self.rejected = rejected
        """Ids of enabled items left out because their condition did not compile -> why."""
        self.errors = 0
        """How many condition evaluations raised (each counted as no match)."""
        self.last_error: tuple[str, str] | None = None
        """(item id, error) of the latest evaluation that raised, for status pages."""

    @classmethod
    def build(cls, items: Iterable[T]) -> ScopeIndex[T]:
        """Index the enabled ``items`` in (priority desc, id) order, compiling each condition."""
        entries: list[tuple[T, Condition]] = []
        rejected: dict[str, str] = {}
        for item in items:
            if not item.enabled:
                continue
            try:
                condition = compile_condition(item.condition)
            except InvalidCondition as error:
                log.warning("skipping %s: its condition does not compile: %s", item.id, error)
                rejected[item.id] = str(error)
                continue
            entries.append((item, condition))
        entries.sort(key=lambda entry: (-entry[0].priority, entry[0].id))
        return cls(entries, rejected)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> tuple[T, ...]:
        """Every indexed item, in (priority desc, id) order."""
        return self._items

    def _candidates(self, key: ScopeKey) -> tuple[tuple[T, Condition], ...]:
        candidates = self._cache.get(key)
        if candidates is not None:
            return candidates
        merged: list[tuple[int, T, Condition]] = []
        for scope in _event_keys(*key):
            merged.extend(self._buckets.get(scope, ()))
        merged.sort(key=lambda entry: entry[0])
        candidates = tuple((item, condition) for _, item, condition in merged)
        if len(self._cache) >= CACHE_MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = candidates
        return candidates

    def in_scope(self, event: Event) -> list[T]:
        """The items whose scope covers ``event``, conditions not evaluated, in order."""
        key = (event.app_id, event.event_category, event.event_type)
        return [item for item, _ in self._candidates(key)]

    def matching(self, view: EventView) -> list[T]:
        """The items whose scope and condition match the event, in (priority desc, id) order."""
        event = view.event
        candidates = self._candidates((event.app_id, event.event_category, event.event_type))
        matched: list[T] = []
        for item, condition in candidates:
            try:
                if condition(view):
                    matched.append(item)
            except Exception as error:
                self.errors += 1
                self.last_error = (item.id, repr(error))
        return matched

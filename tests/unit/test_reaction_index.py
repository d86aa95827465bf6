"""The scope index: which rules/detectors an event reaches, in what order, and error isolation."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from causality.events.model import Event
from causality.reactions import index as index_module
from causality.reactions.index import ScopeIndex, scope_matches
from causality.reactions.model import Detector, Rule
from causality.reactions.paths import EventView


def make_event(props: Any = None, **fields: Any) -> Event:
    base: dict[str, Any] = {
        "id": "e1",
        "idempotency_key": "k1",
        "app_id": "shop",
        "device_id": "d1",
        "event_category": "commerce",
        "event_type": "purchase",
        "timestamp_ms": 1_000,
        "received_at_ms": 1_005,
    }
    base.update(fields)
    raw = msgspec.Raw(msgspec.json.encode({} if props is None else props))
    return Event(**base, properties=raw)


def rule(rule_id: str, **fields: Any) -> Rule:
    return Rule(id=rule_id, name=rule_id, **fields)


class CountingView(EventView):
    """Counts reads of the payload, to prove which conditions ran."""

    __slots__ = ("reads",)

    def __init__(self, event: Event) -> None:
        super().__init__(event)
        self.reads = 0

    def properties(self) -> Any:
        self.reads += 1
        return super().properties()


class BrokenView(EventView):
    """A view whose payload access raises, standing in for any bug inside a condition."""

    __slots__ = ()

    def properties(self) -> Any:
        raise RuntimeError("payload exploded")


def ids(items: list[Any]) -> list[str]:
    return [item.id for item in items]


def test_scope_combinations() -> None:
    rules = [
        rule("any"),
        rule("app", app_id="shop"),
        rule("other-app", app_id="blog"),
        rule("cat", event_category="commerce"),
        rule("other-cat", event_category="user"),
        rule("type", event_type="purchase"),
        rule("other-type", event_type="add_to_cart"),
        rule("app-cat-type", app_id="shop", event_category="commerce", event_type="purchase"),
        rule("app-cat-other", app_id="shop", event_category="commerce", event_type="refund"),
        rule("app-type", app_id="shop", event_type="purchase"),
        rule("cat-type", event_category="commerce", event_type="purchase"),
        rule("other-app-cat", app_id="blog", event_category="commerce"),
    ]
    index = ScopeIndex.build(rules)
    event = make_event()
    expected = ["any", "app", "app-cat-type", "app-type", "cat", "cat-type", "type"]
    assert ids(index.matching(EventView(event))) == expected
    assert ids(index.in_scope(event)) == expected
    for item in rules:
        assert scope_matches(item, event) is (item.id in expected)


def test_order_is_priority_desc_then_id_across_scopes() -> None:
    rules = [
        rule("b", priority=5),
        rule("a", app_id="shop", priority=5),
        rule("z", event_type="purchase", priority=10),
        rule("c", event_category="commerce", priority=-1),
        rule("d", app_id="shop", event_type="purchase", priority=0),
        rule("e", priority=0),
    ]
    index = ScopeIndex.build(reversed(rules))
    assert ids(index.matching(EventView(make_event()))) == ["z", "a", "b", "d", "e", "c"]
    assert ids(list(index.items)) == ["z", "a", "b", "d", "e", "c"]


def test_conditions_filter_and_none_matches_all() -> None:
    rules = [
        rule("big", condition={"field": "properties.amount", "op": "gte", "value": 100}),
        rule("small", condition={"field": "properties.amount", "op": "lt", "value": 100}),
        rule("always"),
    ]
    index = ScopeIndex.build(rules)
    assert ids(index.matching(EventView(make_event({"amount": 100})))) == ["always", "big"]
    assert ids(index.matching(EventView(make_event({"amount": 99.5})))) == ["always", "small"]
    assert ids(index.matching(EventView(make_event({})))) == ["always"]


def test_out_of_scope_conditions_never_run() -> None:
    reads_payload = {"field": "properties.amount", "op": "exists"}
    rules = [
        rule("blog", app_id="blog", condition=reads_payload),
        rule("user", event_category="user", condition=reads_payload),
        rule("signup", event_type="signup", condition=reads_payload),
        rule("in-scope", app_id="shop", condition={"field": "user_id", "op": "exists"}),
    ]
    index = ScopeIndex.build(rules)
    view = CountingView(make_event({"amount": 1}, user_id="u1"))
    assert ids(index.matching(view)) == ["in-scope"]
    assert view.reads == 0
    in_scope = ScopeIndex.build(
        [*rules, rule("shop-amount", app_id="shop", condition=reads_payload)]
    )
    view = CountingView(make_event({"amount": 1}, user_id="u1"))
    assert ids(in_scope.matching(view)) == ["in-scope", "shop-amount"]
    assert view.reads == 1


def test_disabled_items_are_skipped() -> None:
    index = ScopeIndex.build([rule("on"), rule("off", enabled=False)])
    assert len(index) == 1
    assert ids(index.matching(EventView(make_event()))) == ["on"]


def test_invalid_stored_condition_is_rejected_not_fatal() -> None:
    bad = rule("bad", condition={"field": "properties.x", "op": "like", "value": "a"})
    index = ScopeIndex.build([bad, rule("good")])
    assert len(index) == 1
    assert "unknown operator 'like'" in index.rejected["bad"]
    assert ids(index.matching(EventView(make_event()))) == ["good"]


def test_a_condition_that_raises_is_counted_and_skipped() -> None:
    rules = [
        rule("payload", priority=2, condition={"field": "properties.x", "op": "exists"}),
        rule("envelope", priority=1, condition={"field": "app_id", "op": "eq", "value": "shop"}),
        rule("payload-too", condition={"field": "properties.y", "op": "eq", "value": 1}),
    ]
    index = ScopeIndex.build(rules)
    assert ids(index.matching(BrokenView(make_event()))) == ["envelope"]
    assert index.errors == 2
    assert index.last_error is not None
    assert index.last_error[0] == "payload-too"
    assert "payload exploded" in index.last_error[1]
    assert ids(index.matching(EventView(make_event({"x": 1})))) == ["payload", "envelope"]
    assert index.errors == 2


def test_custom_events_scope_on_type_custom_and_condition_on_name() -> None:
    failed = rule(
        "checkout-failed",
        event_type="custom",
        condition={"field": "event_name", "op": "eq", "value": "checkout_failed"},
    )
    index = ScopeIndex.build([failed])
    custom = make_event(event_category="custom", event_type="custom", event_name="checkout_failed")
    other = make_event(event_category="custom", event_type="custom", event_name="opened")
    assert ids(index.matching(EventView(custom))) == ["checkout-failed"]
    assert index.matching(EventView(other)) == []


def test_detectors_are_indexed_too() -> None:
    detectors = [
        Detector(id="d2", name="rate", kind="rate", app_id="shop", priority=1),
        Detector(
            id="d1",
            name="big orders",
            kind="threshold",
            event_type="purchase",
            condition={"field": "properties.amount", "op": "exists"},
        ),
        Detector(id="d3", name="off", kind="count", enabled=False),
    ]
    index: ScopeIndex[Detector] = ScopeIndex.build(detectors)
    assert ids(index.matching(EventView(make_event({"amount": 5})))) == ["d2", "d1"]
    assert ids(index.matching(EventView(make_event()))) == ["d2"]


def test_results_stay_right_when_the_scope_cache_is_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_module, "CACHE_MAX_ENTRIES", 2)
    rules = [rule(f"type-{n}", event_type=f"t{n}") for n in range(5)] + [rule("all")]
    index = ScopeIndex.build(rules)
    for _ in range(2):
        for n in range(5):
            matched = index.matching(EventView(make_event(event_type=f"t{n}")))
            assert ids(matched) == ["all", f"type-{n}"]


def test_empty_index() -> None:
    index: ScopeIndex[Rule] = ScopeIndex.build([])
    assert len(index) == 0
    assert index.matching(EventView(make_event())) == []

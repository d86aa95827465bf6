"""The condition language: every operator's verdicts, validation errors, and explain == compile."""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec
import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from causality.events.model import DeviceContext, Event
from causality.reactions import conditions
from causality.reactions.conditions import (
    MISSING,
    InvalidCondition,
    compile_condition,
    explain_condition,
    validate_condition,
)
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


def verdict(tree: Any, event: Event) -> bool:
    """Compile and explain must agree on every case; return the shared verdict."""
    compiled = compile_condition(tree)(EventView(event))
    explained = explain_condition(tree, EventView(event))["matched"]
    assert compiled is explained
    return compiled


def leaf(field: str, op: str, value: Any = MISSING) -> dict[str, Any]:
    node: dict[str, Any] = {"field": field, "op": op}
    if value is not MISSING:
        node["value"] = value
    return node


P = "properties.x"
NONE = {"x": None}
ABSENT: dict[str, Any] = {}

# (op, value, properties, expected) on properties.x
PROPERTY_CASES = [
    # eq: numbers by value, no bool/number or string/number coercion, MISSING never equal
    ("eq", 5, {"x": 5}, True),
    ("eq", 5, {"x": 5.0}, True),
    ("eq", 5.0, {"x": 5}, True),
    ("eq", 5, {"x": 6}, False),
    ("eq", 5, {"x": "5"}, False),
    ("eq", 1, {"x": True}, False),
    ("eq", True, {"x": 1}, False),
    ("eq", True, {"x": True}, True),
    ("eq", False, {"x": False}, True),
    ("eq", False, {"x": 0}, False),
    ("eq", 0, {"x": False}, False),
    ("eq", "Zürich", {"x": "Zürich"}, True),
    ("eq", "Zürich", {"x": "zürich"}, False),
    ("eq", "", {"x": ""}, True),
    ("eq", "a", {"x": ["a"]}, False),
    ("eq", 5, ABSENT, False),
    ("eq", 5, NONE, False),
    # ne is the negation of eq: true when missing
    ("ne", 5, {"x": 5}, False),
    ("ne", 5, {"x": 5.0}, False),
    ("ne", 5, {"x": 6}, True),
    ("ne", 5, {"x": "5"}, True),
    ("ne", 1, {"x": True}, True),
    ("ne", 5, ABSENT, True),
    ("ne", 5, NONE, True),
    # ordering at and around the bound, ints vs floats, non-numbers false
    ("gt", 10, {"x": 10}, False),
    ("gt", 10, {"x": 10.0}, False),
    ("gt", 10, {"x": 10.000001}, True),
    ("gt", 10, {"x": 11}, True),
    ("gt", 10.5, {"x": 10}, False),
    ("gt", 10.5, {"x": 11}, True),
    ("gte", 10, {"x": 10}, True),
    ("gte", 10, {"x": 10.0}, True),
    ("gte", 10, {"x": 9.999999}, False),
    ("lt", 10, {"x": 10}, False),
    ("lt", 10, {"x": 9.999999}, True),
    ("lt", 0, {"x": -1}, True),
    ("lte", 10, {"x": 10}, True),
    ("lte", 10, {"x": 10.000001}, False),
    ("lte", -2.5, {"x": -2.5}, True),
    ("gt", 2**53, {"x": 2**53 + 1}, True),  # large ints compare exactly, not via float
    ("gt", 0, {"x": "11"}, False),
    ("gt", 0, {"x": True}, False),
    ("lt", 2, {"x": False}, False),
    ("gt", 0, {"x": [1]}, False),
    ("gt", 0, ABSENT, False),
    ("gte", 0, NONE, False),
    ("lt", 0, ABSENT, False),
    ("lte", 0, NONE, False),
    # in / not_in
    ("in", ["a", "b"], {"x": "a"}, True),
    ("in", ["a", "b"], {"x": "c"}, False),
    ("in", ["a", "b"], {"x": "A"}, False),
    ("in", [1, 2], {"x": 1.0}, True),
    ("in", [1, 2], {"x": True}, False),
    ("in", [True], {"x": 1}, False),
    ("in", [True], {"x": True}, True),
    ("in", ["1"], {"x": 1}, False),
    ("in", ["a"], {"x": ["a"]}, False),
    ("in", ["a"], {"x": {"a": 1}}, False),
    ("in", ["a"], ABSENT, False),
    ("in", ["a"], NONE, False),
    ("not_in", ["a", "b"], {"x": "a"}, False),
    ("not_in", ["a", "b"], {"x": "c"}, True),
    ("not_in", [1], {"x": 1.0}, False),
    ("not_in", [1], {"x": True}, True),
    ("not_in", ["a"], ABSENT, True),
    ("not_in", ["a"], NONE, True),
    # contains: substring on text, membership on lists
    ("contains", "lo w", {"x": "hello world"}, True),
    ("contains", "", {"x": "anything"}, True),
    ("contains", "xyz", {"x": "hello"}, False),
    ("contains", "é", {"x": "café"}, True),
    ("contains", "a", {"x": ["a", "b"]}, True),
    ("contains", "a", {"x": ["ab"]}, False),
    ("contains", 1, {"x": [2, 1.0]}, True),
    ("contains", 1, {"x": [True]}, False),
    ("contains", True, {"x": [1]}, False),
    ("contains", True, {"x": [False, True]}, True),
    ("contains", 1, {"x": "1"}, False),
    ("contains", "1", {"x": 12}, False),
    ("contains", "a", {"x": {"a": 1}}, False),
    ("contains", "a", ABSENT, False),
    ("contains", "a", NONE, False),
    # starts_with: strings only
    ("starts_with", "checkout", {"x": "checkout/step1"}, True),
    ("starts_with", "checkout", {"x": "checkout"}, True),
    ("starts_with", "checkout", {"x": "my checkout"}, False),
    ("starts_with", "Check", {"x": "checkout"}, False),
    ("starts_with", "1", {"x": 12}, False),
    ("starts_with", "a", {"x": ["a"]}, False),
    ("starts_with", "a", ABSENT, False),
    # regex: RE2 search on strings only
    ("regex", r"^order-\d+$", {"x": "order-123"}, True),
    ("regex", r"^order-\d+$", {"x": "order-12x"}, False),
    ("regex", "err", {"x": "an error here"}, True),
    ("regex", "(?i)ERROR", {"x": "an error"}, True),
    ("regex", "ERROR", {"x": "an error"}, False),
    ("regex", "ï+", {"x": "naïïve"}, True),
    ("regex", "1", {"x": 123}, False),
    ("regex", "a", {"x": ["a"]}, False),
    ("regex", ".*", ABSENT, False),
    # exists: present means "not absent and not null"
    ("exists", True, {"x": 0}, True),
    ("exists", True, {"x": False}, True),
    ("exists", True, {"x": ""}, True),
    ("exists", True, {"x": []}, True),
    ("exists", True, ABSENT, False),
    ("exists", True, NONE, False),
    ("exists", False, ABSENT, True),
    ("exists", False, NONE, True),
    ("exists", False, {"x": 0}, False),
]


@pytest.mark.parametrize(("op", "value", "props", "expected"), PROPERTY_CASES)
def test_operator_on_properties(op: str, value: Any, props: dict[str, Any], expected: bool) -> None:
    assert verdict(leaf(P, op, value), make_event(props)) is expected


def test_exists_without_value_means_true() -> None:
    assert verdict(leaf(P, "exists"), make_event({"x": 1})) is True
    assert verdict(leaf(P, "exists"), make_event({})) is False


def test_envelope_fields() -> None:
    event = make_event(user_id="u1", event_type="custom", event_name="Checkout Failed")
    assert verdict(leaf("user_id", "eq", "u1"), event)
    assert verdict(leaf("user_id", "exists"), event)
    assert not verdict(leaf("session_id", "exists"), event)  # None -> missing
    assert verdict(leaf("session_id", "ne", "s"), event)
    assert not verdict(leaf("session_id", "eq", "s"), event)
    assert verdict(leaf("event_name", "regex", "(?i)failed$"), event)
    assert verdict(leaf("timestamp_ms", "eq", 1000), event)
    assert verdict(leaf("timestamp_ms", "eq", 1000.0), event)
    assert verdict(leaf("timestamp_ms", "gte", 1000), event)
    assert not verdict(leaf("timestamp_ms", "gt", 1000), event)
    assert verdict(leaf("received_at_ms", "in", [1, 1005]), event)


def test_device_context_fields() -> None:
    device = DeviceContext(platform="ios", screen_width=390, is_jailbroken=True, locale="de-CH")
    event = make_event(device_context=device)
    assert verdict(leaf("device_context.platform", "eq", "ios"), event)
    assert verdict(leaf("device_context.platform", "in", ["android", "ios"]), event)
    assert verdict(leaf("device_context.platform", "not_in", ["web"]), event)
    assert verdict(leaf("device_context.screen_width", "gte", 390), event)
    assert not verdict(leaf("device_context.screen_width", "lt", 390), event)
    assert verdict(leaf("device_context.is_jailbroken", "eq", True), event)
    assert not verdict(leaf("device_context.is_emulator", "eq", False), event)  # None
    assert verdict(leaf("device_context.locale", "starts_with", "de"), event)
    bare = make_event()  # no device context at all
    assert not verdict(leaf("device_context.platform", "eq", "ios"), bare)
    assert not verdict(leaf("device_context.platform", "exists"), bare)
    assert verdict(leaf("device_context.platform", "ne", "ios"), bare)


def test_nested_properties_and_list_indexes() -> None:
    event = make_event({"cart": {"items": [{"sku": "A1", "qty": 2}, {"sku": "B2"}]}})
    assert verdict(leaf("properties.cart.items.0.qty", "gte", 2), event)
    assert verdict(leaf("properties.cart.items.1.sku", "starts_with", "B"), event)
    assert not verdict(leaf("properties.cart.items.2.sku", "exists"), event)
    assert verdict(leaf("properties.cart.items.2.sku", "exists", False), event)


def test_groups() -> None:
    event = make_event({"a": 1, "b": "x"})
    yes, no = leaf("properties.a", "eq", 1), leaf("properties.b", "eq", "y")
    assert verdict({"all": [yes]}, event)
    assert verdict({"all": [yes, yes, yes]}, event)
    assert not verdict({"all": [yes, no]}, event)
    assert not verdict({"all": [yes, yes, no]}, event)
    assert verdict({"any": [no, yes]}, event)
    assert verdict({"any": [no, no, yes]}, event)
    assert not verdict({"any": [no]}, event)
    assert not verdict({"any": [no, no, no]}, event)
    assert verdict({"not": no}, event)
    assert not verdict({"not": yes}, event)
    assert verdict({"not": {"all": [yes, {"not": {"any": [no, yes]}}]}}, event)


def test_no_condition_matches_everything() -> None:
    view = EventView(make_event())
    validate_condition(None)
    assert compile_condition(None)(view) is True
    assert explain_condition(None, view) == {"op": "always", "matched": True}


def test_explain_trace() -> None:
    event = make_event({"amount": 12.5, "tags": ["a"]}, user_id=None)
    tree = {
        "all": [
            leaf("properties.amount", "gt", 10),
            {"not": leaf("user_id", "exists")},
            leaf("properties.tags", "contains", "b"),
        ]
    }
    assert explain_condition(tree, EventView(event)) == {
        "op": "all",
        "matched": False,
        "children": [
            {
                "field": "properties.amount",
                "op": "gt",
                "value": 10,
                "actual": 12.5,
                "matched": True,
            },
            {
                "op": "not",
                "matched": True,
                "children": [
                    {"field": "user_id", "op": "exists", "missing": True, "matched": False}
                ],
            },
            {
                "field": "properties.tags",
                "op": "contains",
                "value": "b",
                "actual": ["a"],
                "matched": False,
            },
        ],
    }
    msgspec.json.encode(explain_condition(tree, EventView(event)))  # JSON-able


def nest(levels: int) -> dict[str, Any]:
    tree: dict[str, Any] = leaf("user_id", "exists")
    for _ in range(levels - 1):
        tree = {"not": tree}
    return tree


def test_limits_accept_their_maximum() -> None:
    validate_condition(nest(10))
    validate_condition({"any": [leaf("user_id", "exists")] * 199})  # 200 nodes
    validate_condition(leaf(P, "in", list(range(1000))))
    validate_condition(leaf(P, "eq", "s" * 1000))
    validate_condition(leaf(P, "regex", "a" * 1000))


GOOD = leaf("user_id", "eq", "u")

# (tree, field, reason fragment)
INVALID = [
    (5, "condition", "must be an object"),
    ([GOOD], "condition", "must be an object"),
    ({}, "condition.field", "is required"),
    ({"all": []}, "condition.all", "non-empty list"),
    ({"any": {"field": "user_id"}}, "condition.any", "non-empty list"),
    ({"all": [GOOD, 3]}, "condition.all[1]", "must be an object"),
    ({"all": [GOOD], "any": [GOOD]}, "condition", "exactly one of"),
    ({"all": [GOOD], "field": "user_id"}, "condition", "exactly one of"),
    ({"any": [GOOD, {**GOOD, "bogus": 1}]}, "condition.any[1].bogus", "unknown key"),
    ({"not": {"field": "user_id", "op": "eq", "values": ["u"]}}, "condition.not.values", "unknown"),
    ({"field": "user_id", "value": "u"}, "condition.op", "is required"),
    (leaf("user_id", "equals", "u"), "condition.op", "unknown operator 'equals'"),
    (leaf("user_id", "EQ", "u"), "condition.op", "expected one of eq, ne"),
    ({"field": "user_id", "op": 3, "value": 1}, "condition.op", "unknown operator a number"),
    (
        {"all": [GOOD, {"any": [leaf("user_id", "like", "u")]}]},
        "condition.all[1].any[0].op",
        "unknown operator",
    ),
    (leaf("usr_id", "eq", "u"), "condition.field", "unknown field 'usr_id'"),
    (leaf("device_context.os", "eq", "u"), "condition.field", "unknown device_context field"),
    (leaf("properties.a..b", "exists"), "condition.field", "empty segment"),
    (leaf("properties.1.2.3.4.5.6.7.8.9", "exists"), "condition.field", "too deep"),
    (leaf(7, "exists"), "condition.field", "must be a string path"),
    (nest(11), "condition" + ".not" * 10, "deeper than 10 levels"),
    ({"any": [GOOD] * 200}, "condition", "more than 200 nodes"),
    (leaf(P, "eq"), "condition.value", "is required for eq"),
    (leaf(P, "gt"), "condition.value", "is required for gt"),
    (leaf(P, "eq", None), "condition.value", "must not be null"),
    (leaf(P, "eq", [1]), "condition.value", "must be a string, number or boolean"),
    (leaf(P, "eq", {"a": 1}), "condition.value", "got an object"),
    (leaf(P, "eq", math.nan), "condition.value", "finite"),
    (leaf(P, "eq", "s" * 1001), "condition.value", "longer than 1000 chars"),
    (leaf("timestamp_ms", "eq", "abc"), "condition.value", "type mismatch"),
    (leaf("timestamp_ms", "eq", 1.5), "condition.value", "whole-number field"),
    (leaf("timestamp_ms", "eq", True), "condition.value", "got a boolean"),
    (leaf("device_context.is_jailbroken", "eq", 1), "condition.value", "boolean field"),
    (leaf("device_context.is_emulator", "ne", "true"), "condition.value", "boolean field"),
    (leaf("device_context.platform", "eq", "windows"), "condition.value", "not a valid"),
    (leaf("user_id", "eq", 5), "condition.value", "string field, got a number (5)"),
    (leaf(P, "in", []), "condition.value", "non-empty list"),
    (leaf(P, "in", "a"), "condition.value", "non-empty list"),
    (leaf(P, "not_in", list(range(1001))), "condition.value", "more than 1000 items"),
    (leaf(P, "in", ["a", None]), "condition.value[1]", "must not be null"),
    (leaf(P, "in", ["a", ["b"]]), "condition.value[1]", "got a list"),
    (leaf("device_context.platform", "in", ["ios", "pc"]), "condition.value[1]", "not a valid"),
    (leaf("screen_width", "in", [1]), "condition.field", "unknown field"),
    (leaf("device_context.screen_width", "in", [1, "2"]), "condition.value[1]", "mismatch"),
    (leaf(P, "gt", "5"), "condition.value", "must be a number for gt"),
    (leaf(P, "lte", True), "condition.value", "must be a number"),
    (leaf(P, "gte", math.inf), "condition.value", "finite"),
    (leaf("user_id", "gt", 1), "condition.op", "needs a numeric field"),
    (leaf("device_context.is_emulator", "lt", 1), "condition.op", "boolean field"),
    (leaf("timestamp_ms", "contains", "1"), "condition.op", "needs a string field"),
    (leaf("device_context.is_emulator", "regex", "t"), "condition.op", "needs a string field"),
    (leaf("user_id", "contains", 5), "condition.value", "must be a string for contains"),
    (leaf(P, "contains", ["a"]), "condition.value", "got a list"),
    (leaf(P, "starts_with", 1), "condition.value", "must be a string for starts_with"),
    (leaf(P, "regex", 1), "condition.value", "must be a string for regex"),
    (leaf(P, "regex", "("), "condition.value", "invalid regular expression: missing )"),
    (leaf(P, "regex", r"(a)\1"), "condition.value", "invalid regular expression"),
    (leaf(P, "regex", "(?=a)"), "condition.value", "invalid regular expression"),
    (leaf(P, "regex", "a" * 1001), "condition.value", "longer than 1000 chars"),
    (leaf(P, "exists", "yes"), "condition.value", "must be true or false"),
    (leaf(P, "exists", None), "condition.value", "got null"),
]


@pytest.mark.parametrize(("tree", "field", "fragment"), INVALID)
def test_validation_errors(tree: Any, field: str, fragment: str) -> None:
    for check in (validate_condition, compile_condition):
        with pytest.raises(InvalidCondition) as caught:
            check(tree)
        assert caught.value.field == field
        assert fragment in caught.value.reason
        assert str(caught.value) == f"{field}: {caught.value.reason}"


def test_where_prefixes_the_field() -> None:
    with pytest.raises(InvalidCondition) as caught:
        validate_condition({"all": [leaf("user_id", "gt", 1)]}, where="body.condition")
    assert caught.value.field == "body.condition.all[0].op"


# -- property test: compile == explain == an independent reference interpreter ----------------

SCALARS = st.one_of(
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.0, 1.0, 1.5, -2.5]),
    st.sampled_from(["", "a", "ab", "b", "é", "ab c", "1"]),
)
STRINGS = st.sampled_from(["", "a", "ab", "b", "é", "1"])
PATTERNS = st.sampled_from(["a", "^a", "b$", "(?i)A", "é", "[0-9]", "^$"])
PLATFORMS = st.sampled_from(["ios", "android", "web", "server"])

# field -> (value strategy for eq/in, operators it supports, extra strategy for ordering)
FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "properties.a": (SCALARS, ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains")),
    "properties.b.c": (SCALARS, ("eq", "ne", "in", "not_in", "gte", "lt", "contains")),
    "properties.l.0": (SCALARS, ("eq", "ne", "in", "gt", "lte")),
    "properties.l": (SCALARS, ("contains", "eq", "not_in")),
    "user_id": (STRINGS, ("eq", "ne", "in", "not_in", "contains")),
    "timestamp_ms": (st.integers(-1, 2), ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte")),
    "device_context.platform": (PLATFORMS, ("eq", "ne", "in", "not_in", "contains")),
    "device_context.is_emulator": (st.booleans(), ("eq", "ne", "in", "not_in")),
    "device_context.screen_width": (st.integers(0, 3), ("eq", "ne", "gt", "lte", "in")),
}
TEXT_FIELDS = ("properties.a", "properties.l.0", "user_id", "device_context.platform")


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(FIELDS)))
    values, ops = FIELDS[field]
    extra = ("exists", "starts_with", "regex") if field in TEXT_FIELDS else ("exists",)
    op = draw(st.sampled_from(ops + extra))
    if op in ("in", "not_in"):
        return leaf(field, op, draw(st.lists(values, min_size=1, max_size=3)))
    if op in ("gt", "gte", "lt", "lte"):
        return leaf(field, op, draw(st.one_of(st.integers(-2, 3), st.sampled_from([0.5, 1.0]))))
    if op == "starts_with":
        return leaf(field, op, draw(STRINGS))
    if op == "regex":
        return leaf(field, op, draw(PATTERNS))
    if op == "exists":
        return draw(
            st.sampled_from([leaf(field, op), leaf(field, op, True), leaf(field, op, False)])
        )
    return leaf(field, op, draw(values))


TREES = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=8,
)
PROP_VALUES = st.one_of(
    st.none(),
    SCALARS,
    st.lists(st.one_of(st.none(), SCALARS), max_size=3),
    st.fixed_dictionaries({"c": st.one_of(st.none(), SCALARS)}),
)
EVENTS = st.builds(
    make_event,
    props=st.dictionaries(st.sampled_from(["a", "b", "l"]), PROP_VALUES, max_size=3),
    user_id=st.one_of(st.none(), STRINGS),
    timestamp_ms=st.integers(-1, 2),
    device_context=st.one_of(
        st.none(),
        st.builds(
            DeviceContext,
            platform=st.one_of(st.none(), PLATFORMS),
            is_emulator=st.one_of(st.none(), st.booleans()),
            screen_width=st.one_of(st.none(), st.integers(0, 3)),
        ),
    ),
)


def reference_get(event: Event, field: str) -> Any:
    root, _, rest = field.partition(".")
    if root == "properties":
        value: Any = msgspec.json.decode(event.properties)
        for segment in rest.split("."):
            if isinstance(value, dict) and segment in value:
                value = value[segment]
            elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
                value = value[int(segment)]
            else:
                return MISSING
    elif root == "device_context":
        value = None if event.device_context is None else getattr(event.device_context, rest)
    else:
        value = getattr(event, field)
    return MISSING if value is None else value


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def same(a: Any, b: Any) -> bool:
    return kind(a) == kind(b) and kind(a) in ("bool", "number", "str") and a == b


def reference(tree: dict[str, Any], event: Event) -> bool:
    if "all" in tree:
        return all([reference(child, event) for child in tree["all"]])
    if "any" in tree:
        return any([reference(child, event) for child in tree["any"]])
    if "not" in tree:
        return not reference(tree["not"], event)
    actual, op, value = reference_get(event, tree["field"]), tree["op"], tree.get("value", True)
    number = kind(actual) == "number"
    checks = {
        "eq": lambda: same(actual, value),
        "ne": lambda: not same(actual, value),
        "in": lambda: any(same(actual, item) for item in value),
        "not_in": lambda: not any(same(actual, item) for item in value),
        "gt": lambda: number and actual > value,
        "gte": lambda: number and actual >= value,
        "lt": lambda: number and actual < value,
        "lte": lambda: number and actual <= value,
        "contains": lambda: (
            (isinstance(actual, str) and isinstance(value, str) and value in actual)
            or (isinstance(actual, list) and any(same(item, value) for item in actual))
        ),
        "starts_with": lambda: isinstance(actual, str) and actual.startswith(value),
        "regex": lambda: isinstance(actual, str) and re.search(value, actual) is not None,
        "exists": lambda: (actual is not MISSING) is value,
    }
    return bool(checks[op]())


@settings(max_examples=400, deadline=None)
@given(tree=TREES, event=EVENTS)
def test_compile_explain_and_reference_agree(tree: dict[str, Any], event: Event) -> None:
    expected = reference(tree, event)
    assert compile_condition(tree)(EventView(event)) is expected
    assert explain_condition(tree, EventView(event))["matched"] is expected


@pytest.mark.parametrize("max_mem", [8 << 20, 8192])
def test_regex_without_a_set_still_searches(monkeypatch: pytest.MonkeyPatch, max_mem: int) -> None:
    """With 8 KiB this pattern compiles as one regex but not as a set: search takes over."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = max_mem
    monkeypatch.setattr(conditions, "_RE2_OPTIONS", options)
    tree = leaf(P, "regex", "(?i)ord[a-z]{3,9}-[0-9]+x")
    assert verdict(tree, make_event({"x": "see ORDERED-123x"}))
    assert not verdict(tree, make_event({"x": "see ORDERED-x"}))
    assert verdict(leaf(P, "regex", "^$"), make_event({"x": ""}))


def test_regex_on_long_text() -> None:
    text = "ab" * 50_000 + "needle" + "ba" * 50_000
    assert verdict(leaf(P, "regex", "ne+dle"), make_event({"x": text}))
    assert not verdict(leaf(P, "regex", "^needle"), make_event({"x": text}))

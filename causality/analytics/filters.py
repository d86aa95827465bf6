"""Property filters and event selectors, compiled to sqlglot conditions.

A property is either a warehouse column of EVENTS.md by name (``platform``, ``screen_width``)
or a path into the JSON ``properties`` column (``properties.params.utm_source``) whose
segments are identifiers, so the path is safe inside a JSONPath literal. Values only enter
the SQL as sqlglot literals.

Semantics of the operators (a JSON ``null`` counts as not set):

- ``eq``, ``gt``, ``gte``, ``lt``, ``lte``, ``contains``, ``in``: false when the property is
  not set; numbers compare numerically (JSON text cast with TRY_CAST to DOUBLE), booleans as
  ``true``/``false``; ``contains`` is a case-insensitive substring test;
- ``neq``, ``not_contains``: true when the property is not set (as PostHog's "is not");
- ``is_set`` / ``is_not_set``: take no value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import msgspec
import pyarrow as pa
from sqlglot import exp

from causality.analytics.errors import InvalidInsight
from causality.events.arrow import EVENTS_SCHEMA
from causality.events.catalogue import CATEGORY_OF, CUSTOM_TYPE

CountedBy = Literal["device", "user"]
FilterOp = Literal[
    "eq", "neq", "gt", "gte", "lt", "lte", "contains", "not_contains", "is_set", "is_not_set", "in"
]  # fmt: skip
Scalar = str | int | float | bool
MAX_IN_VALUES: Final = 100
MAX_FILTERS: Final = 20

_NOT_FILTERABLE: Final = frozenset({"properties", "timestamp", "received_at"})
COLUMN_TYPES: Final[dict[str, pa.DataType]] = {
    f.name: f.type for f in EVENTS_SCHEMA if f.name not in _NOT_FILTERABLE
}
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_DEPTH: Final = 8
_ORDERED: Final = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}


class PropertyFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"property": "properties.price_cents", "op": "gt", "value": 1000}``."""

    property: str
    op: FilterOp
    value: Scalar | list[Scalar] | None = None


class EventSelector(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which events: a catalogued ``event_type`` (or ``custom`` + ``event_name``) and filters.

    No ``event_type`` means any event. ``label`` overrides the name shown in charts.
    """

    event_type: str | None = None
    event_name: str | None = None
    filters: list[PropertyFilter] = []
    label: str | None = None


@dataclass(frozen=True)
class Property:
    """A resolved property: its SQL value and what kind of values it holds."""

    kind: Literal["json", "string", "number", "bool"]
    expr: exp.Expression

    def text(self) -> exp.Expression:
        """As text, for breakdowns (numbers and booleans cast to VARCHAR)."""
        if self.kind in ("json", "string"):
            return self.expr.copy()
        return exp.cast(self.expr.copy(), "VARCHAR")

    def number(self) -> exp.Expression | None:
        """As a number, or None when the property cannot hold numbers."""
        if self.kind == "json":
            return exp.TryCast(this=self.expr.copy(), to=exp.DataType.build("DOUBLE"))
        return self.expr.copy() if self.kind == "number" else None


def resolve_property(name: str, field: str) -> Property:
    """Resolve a column name or ``properties.<path>``; anything else names ``field``."""
    if name.startswith("properties."):
        segments = name.split(".")[1:]
        if len(segments) > _MAX_DEPTH or not all(_SEGMENT.match(s) for s in segments):
            raise InvalidInsight(
                field, "property paths are properties.<key>[.<key>…] with keys of A-Z a-z 0-9 _"
            )
        path = exp.Literal.string("$." + ".".join(segments))
        return Property(
            "json", exp.JSONExtractScalar(this=exp.column("properties"), expression=path)
        )
    column_type = COLUMN_TYPES.get(name)
    if column_type is None:
        shown = name if len(name) <= 64 else name[:64] + "…"
        raise InvalidInsight(field, f"unknown property {shown!r}: a column or properties.<key>")
    column = exp.column(name)
    if pa.types.is_boolean(column_type):
        return Property("bool", column)
    if pa.types.is_integer(column_type):
        return Property("number", column)
    return Property("string", column)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _literal(prop: Property, value: Scalar, field: str) -> tuple[exp.Expression, exp.Expression]:
    """The (operand, literal) pair comparing ``prop`` with a scalar ``value``."""
    if prop.kind == "json":
        if isinstance(value, bool):
            return prop.text(), exp.Literal.string("true" if value else "false")
        if _is_number(value):
            number = prop.number()
            assert number is not None
            return number, exp.Literal.number(value)
        return prop.text(), exp.Literal.string(str(value))
    if prop.kind == "bool" and isinstance(value, bool):
        return prop.expr.copy(), exp.Boolean(this=value)
    if prop.kind == "number" and _is_number(value):
        return prop.expr.copy(), exp.Literal.number(value)
    if prop.kind == "string" and isinstance(value, str):
        return prop.expr.copy(), exp.Literal.string(value)
    raise InvalidInsight(field, f"expected a {prop.kind} value for this property")


def compile_filter(flt: PropertyFilter, field: str) -> exp.Expression:
    """One filter as a condition (semantics in the module docstring)."""
    prop = resolve_property(flt.property, f"{field}.property")
    op, value, value_field = flt.op, flt.value, f"{field}.value"
    if op in ("is_set", "is_not_set"):
        if value is not None:
            raise InvalidInsight(value_field, f"{op} takes no value")
        is_null = exp.Is(this=prop.expr.copy(), expression=exp.Null())
        return exp.not_(is_null) if op == "is_set" else is_null
    if value is None:
        raise InvalidInsight(value_field, f"{op} needs a value")
    unset = exp.Is(this=prop.expr.copy(), expression=exp.Null())
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN_VALUES:
            raise InvalidInsight(value_field, f"in needs a list of 1 to {MAX_IN_VALUES} values")
        pairs = [_literal(prop, item, f"{value_field}[{i}]") for i, item in enumerate(value)]
        if len({pair[0].sql() for pair in pairs}) != 1:
            raise InvalidInsight(value_field, "in needs values of one kind (all text or numbers)")
        return exp.In(this=pairs[0][0], expressions=[pair[1] for pair in pairs])
    if isinstance(value, list):
        raise InvalidInsight(value_field, f"{op} needs a single value")
    if op in ("contains", "not_contains"):
        if not isinstance(value, str) or prop.kind not in ("json", "string"):
            raise InvalidInsight(value_field, f"{op} needs a text value and a text property")
        found = exp.GT(
            this=exp.StrPosition(
                this=exp.Lower(this=prop.text()), substr=exp.Lower(this=exp.Literal.string(value))
            ),
            expression=exp.Literal.number(0),
        )
        return found if op == "contains" else exp.or_(unset, exp.not_(found))
    if op in _ORDERED:
        if not _is_number(value) or prop.number() is None:
            raise InvalidInsight(value_field, f"{op} needs a number and a numeric property")
        number = prop.number()
        assert number is not None
        return _ORDERED[op](this=number, expression=exp.Literal.number(value))
    operand, literal = _literal(prop, value, value_field)
    if op == "eq":
        return exp.EQ(this=operand, expression=literal)
    return exp.or_(unset, exp.NEQ(this=operand, expression=literal))


def compile_filters(filters: list[PropertyFilter], field: str) -> list[exp.Expression]:
    """All filters of a list, each validated under ``field[i]``."""
    if len(filters) > MAX_FILTERS:
        raise InvalidInsight(field, f"at most {MAX_FILTERS} filters")
    return [exp.paren(compile_filter(f, f"{field}[{i}]")) for i, f in enumerate(filters)]


def selector_condition(
    selector: EventSelector, field: str, *, extra: list[PropertyFilter] | None = None
) -> exp.Expression:
    """The WHERE condition selecting a step's/series' events (plus query-wide filters)."""
    conditions: list[exp.Expression] = []
    if selector.event_type is not None:
        if selector.event_type not in CATEGORY_OF:
            raise InvalidInsight(f"{field}.event_type", "not a catalogued event type or custom")
        conditions.append(exp.column("event_type").eq(exp.Literal.string(selector.event_type)))
    if selector.event_name is not None:
        if selector.event_type != CUSTOM_TYPE:
            raise InvalidInsight(f"{field}.event_name", "only custom events have an event_name")
        conditions.append(exp.column("event_name").eq(exp.Literal.string(selector.event_name)))
    conditions += compile_filters(selector.filters, f"{field}.filters")
    conditions += compile_filters(extra or [], "filters")
    return exp.and_(*conditions) if conditions else exp.true()


def selector_label(selector: EventSelector) -> str:
    """The name a chart shows for a selector."""
    return selector.label or selector.event_name or selector.event_type or "All events"


def actor_column(counted_by: CountedBy) -> exp.Expression:
    """Who is counted: the device, or the identified user (anonymous events then drop out)."""
    return exp.column("device_id" if counted_by == "device" else "user_id")

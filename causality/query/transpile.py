"""What sqlglot's printer cannot know when our DuckDB-flavoured SQL goes to Trino.

sqlglot transpiles functions and syntax (``->>`` to ``json_extract_scalar``, ``list`` to
``array_agg``, ``time_bucket`` to ``date_bin``...). Three gaps need our schema or DuckDB's
semantics, and are closed here on the tree before printing:

- ``GROUP BY ALL`` means "every non-aggregate select item" in DuckDB and something else in
  Trino (the ALL set quantifier), so it is expanded to the ordinals of those items.
- DuckDB casts ``timestamp >= '2024-01-01'`` implicitly; Trino refuses to compare a
  timestamp with a varchar. String literals compared with the event time columns (or their
  ``CAST(... AS DATE)`` / ``date_trunc``) are cast to the matching type.
- Trino has no QUALIFY. sqlglot's rewrite wraps the SELECT in a filtering subquery but leaves
  ORDER BY/LIMIT/OFFSET inside it, where Trino ignores the order and limits before
  filtering; they are moved to the wrapper.

The result should be written in the portable subset (``INTERVAL '7' DAY`` rather than
``current_date - 7``; no ``* EXCLUDE``); tests/unit/test_trino_dialect.py pins that subset.
"""

from __future__ import annotations

from typing import Final

from sqlglot import exp, transforms

from causality.query.errors import QueryError

_TIME_COLUMNS: Final = frozenset({"timestamp", "received_at"})
_COMPARISONS: Final = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_MODIFIERS: Final = ("order", "limit", "offset")


def for_trino(tree: exp.Query) -> exp.Query:
    """Apply the rewrites in place where possible; returns the (possibly new) root."""
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.upper() == "HASH":
            node.replace(_trino_hash(node.expressions))
    for median in list(tree.find_all(exp.Median)):
        # Trino has no exact median (sqlglot would print PERCENTILE_CONT, which it lacks)
        median.replace(exp.ApproxQuantile(this=median.this, quantile=exp.Literal.number(0.5)))
    for select in list(tree.find_all(exp.Select)):
        _expand_group_by_all(select)
    for node in list(tree.find_all(*_COMPARISONS, exp.Between)):
        _cast_time_literals(node)
    for select in reversed(list(tree.find_all(exp.Select))):
        if select.args.get("qualify"):
            parent, key, index = select.parent, select.arg_key, select.index
            replacement = _eliminate_qualify(select)  # wraps ``select``, detaching it
            if parent is None or key is None:
                tree = replacement
            else:
                parent.set(key, replacement, index)
    return tree


def _trino_hash(args: list[exp.Expression]) -> exp.Expression:
    """DuckDB's 64-bit ``hash(a, b, ...)`` (builders key actors and paths by it) as a Trino
    bigint: xxhash64 of the arguments joined by a unit separator, NULLs as empty strings."""
    parts = [
        exp.func(
            "COALESCE", exp.cast(a.copy(), exp.DataType.build("varchar")), exp.Literal.string("")
        )
        for a in args
    ]
    joined = (
        parts[0]
        if len(parts) == 1
        else exp.func("CONCAT_WS", exp.func("CHR", exp.Literal.number(31)), *parts)
    )
    return exp.func("FROM_BIG_ENDIAN_64", exp.func("XXHASH64", exp.func("TO_UTF8", joined)))


def _expand_group_by_all(select: exp.Select) -> None:
    group = select.args.get("group")
    if group is None or not group.args.get("all"):
        return
    ordinals = [
        exp.Literal.number(i)
        for i, item in enumerate(select.expressions, start=1)
        if not item.find(exp.AggFunc)
    ]
    select.set("group", exp.Group(expressions=ordinals) if ordinals else None)


def _cast_time_literals(node: exp.Expression) -> None:
    if isinstance(node, exp.Between):
        operands, others = [node.this], ["low", "high"]
    else:
        operands, others = [node.this, node.expression], ["this", "expression"]
    kinds = [k for k in map(_time_kind, operands) if k is not None]
    if not kinds:
        return
    for key in others:
        value = node.args.get(key)
        if isinstance(value, exp.Literal) and value.is_string:
            node.set(key, exp.cast(value, exp.DataType.build(kinds[0])))


def _time_kind(node: exp.Expression) -> str | None:
    """``timestamp`` or ``date`` when ``node`` is an event time column or derived from one."""
    if isinstance(node, exp.Column):
        return "timestamp" if node.name.lower() in _TIME_COLUMNS else None
    if isinstance(node, exp.Cast) and node.to.is_type("date"):
        return "date" if _time_kind(node.this) else None
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        return "timestamp" if _time_kind(node.this) else None
    return None


def _eliminate_qualify(select: exp.Select) -> exp.Select:
    named = {name.lower() for name in select.named_selects}
    moved = {key: select.args.get(key) for key in _MODIFIERS}
    for key in _MODIFIERS:
        select.set(key, None)
    order = moved["order"]
    if order is not None:
        for ordered in order.expressions:
            key = ordered.this
            if isinstance(key, exp.Literal) and key.is_int:
                continue
            if isinstance(key, exp.Column) and key.name.lower() in named:
                key.set("table", None)
                continue
            raise QueryError(
                "on Trino, ORDER BY in a query with QUALIFY may only name selected columns "
                f"or positions (not {key.sql('duckdb')})"
            )
    wrapper = transforms.eliminate_qualify(select)
    assert isinstance(wrapper, exp.Select)
    for key, value in moved.items():
        if value is not None:
            wrapper.set(key, value)
    return wrapper

"""Every query returns a bounded page of rows, whatever its author wrote.

The author's own ``LIMIT``/``OFFSET`` define their result; a caller pages through it with
``offset`` and a page size ``limit`` (capped at ``max_limit``). The rewritten query asks the
engine for one row more than the page whenever the result may go on, so the engine can say
"truncated" without a second query; when the author's LIMIT ends inside the page, it asks
for exactly what remains.

    SELECT ... LIMIT 1000000   (page 100, offset 0)    ->  ... LIMIT 101        (100 rows shown)
    SELECT ... LIMIT 50 OFFSET 10 (page 100, offset 20) ->  ... LIMIT 30 OFFSET 30
"""

from __future__ import annotations

from sqlglot import exp

from causality.query.errors import UnsafeQuery


def apply_limit(
    tree: exp.Query, *, limit: int, max_limit: int, offset: int = 0
) -> tuple[exp.Query, int]:
    """Set LIMIT/OFFSET on the root; returns the tree and the rows the caller may show."""
    if limit < 1 or max_limit < 1 or offset < 0:
        raise ValueError("limit and max_limit must be positive and offset not negative")
    page = min(limit, max_limit)
    authored = _authored_limit(tree.args.get("limit"))
    authored_offset = _count(tree.args["offset"].expression) if tree.args.get("offset") else 0
    if authored is not None and authored - offset <= page:
        rows = fetch = max(authored - offset, 0)
    else:
        rows, fetch = page, page + 1
    tree.set("limit", exp.Limit(expression=exp.Literal.number(fetch)))
    total_offset = authored_offset + offset
    tree.set(
        "offset", exp.Offset(expression=exp.Literal.number(total_offset)) if total_offset else None
    )
    return tree, rows


def _authored_limit(node: exp.Expression | None) -> int | None:
    if node is None:
        return None
    options = node.args.get("limit_options")
    if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
        raise UnsafeQuery("LIMIT ... PERCENT and WITH TIES are not supported; give a row count")
    if isinstance(node, exp.Fetch):
        return _count(node.args.get("count"))
    return _count(node.expression)


def _count(node: exp.Expression | None) -> int:
    if isinstance(node, exp.Literal) and node.is_int and int(node.this) >= 0:
        return int(node.this)
    shown = node.sql("duckdb") if node is not None else "nothing"
    raise UnsafeQuery(f"LIMIT and OFFSET must be whole numbers, not {shown}")

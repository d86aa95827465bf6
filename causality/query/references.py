"""What each table reference in a query names: a CTE in scope, or a table of the catalog.

Safety and scoping must agree on this, so it is decided once, here. A name counts as a CTE
only where the SQL engine would resolve it to that CTE: inside the body of the WITH that
defines it, or in a later CTE of the same WITH (and in itself when the WITH is RECURSIVE).
Anywhere else the same name reaches the catalog, so a CTE called ``duckdb_settings`` in one
subquery does not make ``duckdb_settings`` in another subquery look harmless. Where engines
are more lenient (forward references under RECURSIVE), we are stricter: the reference is
treated as a catalog name and refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp


def name_of(node: exp.Expression) -> str:
    """Lower-case name of a table or CTE alias (DuckDB and Trino ignore case, even quoted)."""
    return node.name.lower()


def visible_ctes(table: exp.Table) -> set[str]:
    """Names of the CTEs a table reference at this position may resolve to."""
    names: set[str] = set()
    child: exp.Expression = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = node.expressions
            index = next((i for i, cte in enumerate(ctes) if cte is child), len(ctes))
            upto = index + 1 if node.args.get("recursive") else index
            names.update(name_of(cte.args["alias"]) for cte in ctes[:upto] if cte.args.get("alias"))
        else:
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With) and with_ is not child:
                names.update(
                    name_of(cte.args["alias"]) for cte in with_.expressions if cte.args.get("alias")
                )
        child, node = node, node.parent
    return names


def catalog_tables(tree: exp.Expression) -> Iterator[exp.Table]:
    """Table references that reach the catalog: every ``exp.Table`` that is not a CTE in scope.

    Table functions (``FROM read_csv(...)``) are included: their ``this`` is a function.
    """
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Identifier) and not table.args.get("db"):
            if name_of(table) in visible_ctes(table):
                continue
        yield table

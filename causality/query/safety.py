"""The first wall: is this text one read-only SELECT over the tables analysts may read?

Anything a person, a builder or a model writes goes through ``check_select`` before it is
rewritten and run. The checks run cheapest first, and nothing of the submitted text reaches
an engine: what runs is re-printed from the checked tree, so comments, quoting and spacing
tricks that confuse one parser and not another are gone by construction.

1. Size: at most ``MAX_SQL_CHARS`` characters and ``MAX_TOKENS`` tokens.
2. Characters: control, format (zero-width, BOM, bidi overrides), private-use, unassigned
   and line/paragraph-separator characters are refused everywhere, string literals included:
   inside a literal they are the "Trojan Source" trick (what a reviewer sees differs from
   what runs), and a query that needs one can write ``chr(8203)``. Outside string literals
   and quoted names the text must be ASCII, so a full-width ``SELECT`` (U+FF33...) or a
   Cyrillic ``e`` (U+0435) in ``events`` is refused with its position instead of being
   "normalised" (NFKC would also rewrite literals and silently change which rows match).
3. Nesting: bracket and CASE depth at most ``MAX_NESTING`` before parsing (sqlglot's parser
   is recursive); a RecursionError from anything deeper is still reported as UnsafeQuery.
4. One statement, whose root is a SELECT or a set operation of SELECTs (CTEs allowed).
5. The whole tree: no statement, DML, DDL, INTO or parameter node anywhere (a DELETE inside
   a CTE included); table references only to ``ALLOWED_TABLES`` or a CTE in scope, never
   qualified by a schema or catalog, never a table function; functions per ``functions.py``.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from causality.query.errors import UnsafeQuery
from causality.query.functions import ALLOWED_ANONYMOUS, DENIED_TYPED
from causality.query.references import catalog_tables, name_of, visible_ctes

MAX_SQL_CHARS: Final = 100_000
MAX_TOKENS: Final = 20_000
MAX_NESTING: Final = 32
MAX_TREE_DEPTH: Final = 1_000

ALLOWED_TABLES: Final[frozenset[str]] = frozenset({"events", "event_columns"})
"""What analysts may name in FROM: the clean events table and its column catalogue."""

_READ_DIALECT: Final = "duckdb"
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_ALLOWED_CONTROLS: Final = frozenset("\t\n\r")
_LITERAL_TOKENS: Final = frozenset(
    {
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.BYTE_STRING,
        TokenType.BIT_STRING,
        TokenType.HEX_STRING,
        TokenType.UNICODE_STRING,
    }
)
_OPENERS: Final = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSERS: Final = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})
_DENIED_NODES: Final[tuple[type[exp.Expression], ...]] = (
    exp.DDL,
    exp.DML,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Attach,
    exp.Detach,
    exp.Pragma,
    exp.Set,
    exp.Command,
    exp.Install,
    exp.Use,
    exp.Describe,
    exp.Summarize,
    exp.Show,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Grant,
    exp.Revoke,
    exp.Analyze,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.LoadData,
    exp.Kill,
    exp.Export,
    exp.Execute,
    exp.Declare,
    exp.Comment,
    exp.Lock,
)
_TABLE_ARGS: Final = frozenset({"this", "alias", "pivots", "sample"})
# function nodes whose name is whatever the author typed (checked against the allow-list)
_NAMED_BY_AUTHOR: Final[tuple[type[exp.Expression], ...]] = tuple(
    getattr(exp, name)
    for name in (
        "Anonymous",
        "AnonymousAggFunc",
        "CombinedAggFunc",
        "CombinedParameterizedAgg",
        "ParameterizedAgg",
    )
    if hasattr(exp, name)
)


def check_select(sql: str) -> exp.Query:
    """Parse ``sql`` and return its tree if it is one read-only SELECT; else UnsafeQuery."""
    if not isinstance(sql, str) or not sql.strip():
        raise UnsafeQuery("the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise UnsafeQuery(f"the query is longer than {MAX_SQL_CHARS:,} characters")
    _check_characters(sql)
    try:
        dialect = Dialect.get_or_raise(_READ_DIALECT)
        tokens = dialect.tokenize(sql)
        _check_tokens(sql, tokens)
        statements = [s for s in dialect.parser().parse(tokens, sql) if s is not None]
        if len(statements) != 1:
            raise UnsafeQuery(f"expected exactly one statement, found {len(statements)}")
        root = _query_root(statements[0], first_word=tokens[0].text if tokens else "")
        _check_depth(root)
        _check_tree(root)
    except (ParseError, TokenError) as exc:
        raise UnsafeQuery(f"could not parse the query: {_first_line(str(exc))}") from None
    except RecursionError:
        raise UnsafeQuery("the query is nested too deeply to analyse") from None
    return root


def _check_characters(sql: str) -> None:
    for position, char in enumerate(sql):
        if char in _ALLOWED_CONTROLS or (char.isascii() and char.isprintable()):
            continue
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            raise UnsafeQuery(
                f"invisible or control character {_describe(char)} at position {position}; "
                "write it as chr() inside a string if it is really needed",
                position,
            )


def _check_tokens(sql: str, tokens: list[Token]) -> None:
    if len(tokens) > MAX_TOKENS:
        raise UnsafeQuery(f"the query has more than {MAX_TOKENS:,} tokens")
    depth, previous_end = 0, 0
    for token in tokens:
        _check_gap(sql, previous_end, token.start)
        previous_end = token.end + 1
        kind = token.token_type
        if kind not in _LITERAL_TOKENS and kind is not TokenType.IDENTIFIER:
            raw = sql[token.start : token.end + 1]
            for offset, char in enumerate(raw):
                if not char.isascii():
                    raise UnsafeQuery(
                        f"non-ASCII character {_describe(char)} at position "
                        f"{token.start + offset} outside a string or quoted name; "
                        "SQL keywords and names must be plain ASCII",
                        token.start + offset,
                    )
        if kind in _OPENERS or kind is TokenType.CASE:
            depth += 1
            if depth > MAX_NESTING:
                raise UnsafeQuery(
                    f"the query nests deeper than {MAX_NESTING} levels of brackets or CASE",
                    token.start,
                )
        elif kind in _CLOSERS or kind is TokenType.END:
            depth = max(depth - 1, 0)
    _check_gap(sql, previous_end, len(sql))


def _check_gap(sql: str, start: int, end: int) -> None:
    """Between tokens only whitespace and comments remain; only comments may be non-ASCII."""
    gap = sql[start:end]
    if gap.isascii():
        return
    i = 0
    while i < len(gap):
        if gap.startswith("--", i):
            newline = gap.find("\n", i)
            i = len(gap) if newline < 0 else newline + 1
        elif gap.startswith("/*", i):
            close = gap.find("*/", i + 2)
            i = len(gap) if close < 0 else close + 2
        elif not gap[i].isascii():
            raise UnsafeQuery(
                f"non-ASCII character {_describe(gap[i])} at position {start + i} outside a "
                "string or quoted name; use plain spaces between words",
                start + i,
            )
        else:
            i += 1


def _query_root(statement: exp.Expression, *, first_word: str) -> exp.Query:
    root = statement
    while isinstance(root, exp.Subquery) and set(_present_args(root)) == {"this"}:
        root = root.this
    if isinstance(root, exp.Select | exp.SetOperation):
        return root
    if isinstance(root, exp.Subquery):
        raise UnsafeQuery("write the query without parentheses around it")
    kind = _statement_name(root) if isinstance(root, _DENIED_NODES) else first_word.upper()
    raise UnsafeQuery(f"only SELECT queries are allowed, not {kind}")


def _check_depth(root: exp.Expression) -> None:
    """Iteratively, since long chains of AND/OR/|| parse fine but nest deeply."""
    stack: list[tuple[exp.Expression, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise UnsafeQuery(f"the query nests deeper than {MAX_TREE_DEPTH} expressions")
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_tree(root: exp.Query) -> None:
    for node in root.walk():
        if isinstance(node, _DENIED_NODES):
            raise UnsafeQuery(f"{_statement_name(node)} is not allowed: only read-only SELECT")
        if isinstance(node, exp.Into):
            raise UnsafeQuery("SELECT ... INTO is not allowed: it writes a table")
        if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
            raise UnsafeQuery("query parameters and variables are not supported")
        if isinstance(node, exp.CTE):
            _check_cte_name(node)
        elif isinstance(node, exp.Func):
            _check_function(node)
    for table in catalog_tables(root):
        _check_table(table)


def _check_cte_name(cte: exp.CTE) -> None:
    alias = cte.args.get("alias")
    name = name_of(alias) if alias is not None else ""
    if name in ALLOWED_TABLES:
        raise UnsafeQuery(f"a CTE may not be named {name!r}: that is a table name")


def _check_function(node: exp.Func) -> None:
    if isinstance(node, _NAMED_BY_AUTHOR):
        name = node.name.lower()
        if name not in ALLOWED_ANONYMOUS:
            raise UnsafeQuery(f"function {name}() is not allowed")
    elif type(node).__name__ in DENIED_TYPED:
        raise UnsafeQuery(f"function {node.sql_name().lower()}() is not allowed")


def _check_table(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        name = table.this.sql_name() if isinstance(table.this, exp.Func) else table.this.key
        raise UnsafeQuery(
            f"table functions are not allowed in FROM ({name.lower()}); read from "
            "`events`, or unnest(...) a list such as unnest(generate_series(...))"
        )
    if table.args.get("db") or table.args.get("catalog"):
        raise UnsafeQuery(
            f"qualified table names are not allowed ({table.sql(_READ_DIALECT)}); "
            f"the tables are {_allowed_list()}"
        )
    name = name_of(table)
    if name not in ALLOWED_TABLES:
        ctes = visible_ctes(table)
        hint = f" or a CTE ({', '.join(sorted(ctes))})" if ctes else ""
        raise UnsafeQuery(f"unknown table {table.name!r}: use {_allowed_list()}{hint}")
    extra = sorted(set(_present_args(table)) - _TABLE_ARGS)
    if extra:
        raise UnsafeQuery(f"unsupported clause on table {name!r}: {', '.join(extra)}")


def _present_args(node: exp.Expression) -> list[str]:
    return [key for key, value in node.args.items() if value not in (None, [], False)]


def _statement_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper()


def _allowed_list() -> str:
    return " or ".join(f"`{t}`" for t in sorted(ALLOWED_TABLES, reverse=True))


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "syntax error"

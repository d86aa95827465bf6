"""Roles, ordered viewer < editor < admin: each role may do everything the lower ones may.

viewer: read dashboards, run queries. editor: also save queries, dashboards and rules.
admin: also manage users, apps and ingestion keys.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A user's or token's role; compares by privilege (``Role.VIEWER < Role.ADMIN``)."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for viewer, 1 for editor, 2 for admin."""
        return _RANK[self]

    # StrEnum would compare alphabetically ("admin" < "editor"); privilege order is what
    # every caller means, also against a plain role string (which must name a role).
    def __lt__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank < rank

    def __le__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank <= rank

    def __gt__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank > rank

    def __ge__(self, other: object) -> bool:
        rank = _rank_of(other)
        return NotImplemented if rank is None else self.rank >= rank


def _rank_of(other: object) -> int | None:
    """The rank of a Role or role string (ValueError for another string), None otherwise."""
    if isinstance(other, str):
        return Role(other).rank
    return None


_RANK: dict[Role, int] = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


def allows(have: Role, need: Role) -> bool:
    """Whether a principal holding ``have`` may do what requires ``need``."""
    return have.rank >= need.rank


def lower_of(a: Role, b: Role) -> Role:
    """The less privileged of two roles (a token's effective role under its owner's)."""
    return a if a.rank <= b.rank else b

"""Roles are ordered by privilege, not alphabetically, and each includes the ones below."""

from __future__ import annotations

import pickle

import msgspec
import pytest

from causality.auth.roles import Role, allows, lower_of

ORDER = [Role.VIEWER, Role.EDITOR, Role.ADMIN]


def test_order_is_privilege_not_alphabet() -> None:
    assert Role.VIEWER < Role.EDITOR < Role.ADMIN
    assert sorted([Role.ADMIN, Role.VIEWER, Role.EDITOR]) == ORDER
    assert max(ORDER) is Role.ADMIN and min(ORDER) is Role.VIEWER
    assert [r.rank for r in ORDER] == [0, 1, 2]


@pytest.mark.parametrize("have", ORDER)
@pytest.mark.parametrize("need", ORDER)
def test_allows_matrix(have: Role, need: Role) -> None:
    assert allows(have, need) is (ORDER.index(have) >= ORDER.index(need))


def test_lower_of_is_the_token_ceiling() -> None:
    assert lower_of(Role.ADMIN, Role.VIEWER) is Role.VIEWER
    assert lower_of(Role.VIEWER, Role.ADMIN) is Role.VIEWER
    assert lower_of(Role.EDITOR, Role.EDITOR) is Role.EDITOR


def test_roles_are_their_wire_strings() -> None:
    assert Role("admin") is Role.ADMIN and Role.EDITOR == "editor"
    assert msgspec.json.encode({"role": Role.VIEWER}) == b'{"role":"viewer"}'
    assert msgspec.json.decode(b'"editor"', type=Role) is Role.EDITOR
    with pytest.raises(msgspec.ValidationError, match="Invalid enum value 'root'"):
        msgspec.json.decode(b'"root"', type=Role)
    assert pickle.loads(pickle.dumps(Role.ADMIN)) is Role.ADMIN


def test_comparing_with_strings_uses_privilege_too() -> None:
    assert Role.ADMIN > "viewer" and "viewer" < Role.ADMIN and Role.EDITOR >= "editor"
    with pytest.raises(ValueError):
        _ = Role.ADMIN > "root"
    with pytest.raises(TypeError):
        _ = Role.ADMIN < 3  # type: ignore[operator]

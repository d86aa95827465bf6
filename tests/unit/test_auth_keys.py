from __future__ import annotations

import hashlib
import pickle
import re

import msgspec
import pytest

from causality.auth.api_keys import AuthenticatedKey, generate_key, hash_key, key_prefix
from causality.auth.errors import AuthError, AuthUnavailable, InvalidApiKey, MissingApiKey


def test_generated_keys_are_marked_urlsafe_and_unique() -> None:
    keys = {generate_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert re.fullmatch(r"ck_[A-Za-z0-9_-]{43}", key), key


def test_hash_is_sha256_hex_and_deterministic() -> None:
    key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert hash_key(key) == hash_key(key)
    assert hash_key(key) != hash_key(generate_key())


def test_prefix_is_first_ten_characters() -> None:
    key = generate_key()
    assert key_prefix(key) == key[:10]
    assert key_prefix(key).startswith("ck_")


@pytest.mark.parametrize(
    ("error", "code"),
    [(MissingApiKey(), "missing_api_key"), (InvalidApiKey(), "invalid_api_key")],
)
def test_client_errors_carry_stable_code_and_field(error: AuthError, code: str) -> None:
    assert error.code == code
    assert error.field == "X-API-Key"
    assert error.exposed and not error.transient
    assert str(error)


@pytest.mark.parametrize(
    "error", [MissingApiKey(), InvalidApiKey("custom"), AuthUnavailable("db down")]
)
def test_errors_survive_pickling(error: AuthError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert clone.code == error.code


def test_unavailable_is_transient_and_internal() -> None:
    assert AuthUnavailable("x").transient
    assert not AuthUnavailable("x").exposed


def test_authenticated_key_round_trips_through_msgspec() -> None:
    key = AuthenticatedKey(key_id="0b6f0a4e-2a43-4b8e-9a55-1b7f8e9f0c11", app_id="shop-1a2b")
    assert msgspec.json.decode(msgspec.json.encode(key), type=AuthenticatedKey) == key
    assert pickle.loads(pickle.dumps(key)) == key

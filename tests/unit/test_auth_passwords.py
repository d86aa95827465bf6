"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import pickle

import pytest
from argon2 import PasswordHasher

from causality.auth.errors import LoginRateLimited, WeakPassword
from causality.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    burn_verification,
    check_policy,
    generate_password,
    hash_password,
    needs_rehash,
    rehash,
    verify_password,
)

GOOD = "correct horse battery"


@pytest.fixture(scope="module")
def good_hash() -> str:
    return hash_password(GOOD)


def test_hash_is_salted_argon2id_and_verifies(good_hash: str) -> None:
    assert good_hash.startswith("$argon2id$")
    assert GOOD not in good_hash
    assert verify_password(good_hash, GOOD)
    assert not verify_password(good_hash, GOOD + "!")
    assert not verify_password(good_hash, GOOD.upper())
    assert rehash(GOOD) != good_hash  # a fresh salt every time


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "at least 10"),
        ("x" * (MIN_PASSWORD_LENGTH - 1), "at least 10"),
        (" " * 12, "whitespace"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_policy_refuses(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason) as info:
        check_policy(password)
    assert info.value.field == "password" and info.value.code == "weak_password"
    with pytest.raises(WeakPassword):
        hash_password(password)


def test_policy_accepts_ten_characters() -> None:
    check_policy("x" * MIN_PASSWORD_LENGTH)
    check_policy("ünïcödé pässwörd")


def test_needs_rehash_for_weaker_parameters(good_hash: str) -> None:
    assert not needs_rehash(good_hash)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(GOOD)
    assert needs_rehash(weak)
    assert verify_password(weak, GOOD)  # still accepted, so the login can upgrade it


def test_corrupt_hash_never_verifies() -> None:
    assert not verify_password("not-a-hash", GOOD)
    assert not verify_password("$argon2id$v=19$m=65536,t=3,p=4$garbage", GOOD)
    assert needs_rehash("not-a-hash")


def test_burn_verification_checks_nothing_real() -> None:
    burn_verification(GOOD)  # only spends time; must not raise for any input
    burn_verification("")


def test_generated_passwords_meet_the_policy_and_differ() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        check_policy(password)


def test_auth_errors_survive_pickling() -> None:
    err = pickle.loads(pickle.dumps(LoginRateLimited(42)))
    assert isinstance(err, LoginRateLimited) and err.retry_after_s == 42
    weak = pickle.loads(pickle.dumps(WeakPassword("too short")))
    assert str(weak) == "too short"

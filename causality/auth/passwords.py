"""Password hashing with argon2id, and the password policy.

argon2id is slow and memory-hard on purpose: passwords are low-entropy secrets, so an attacker
holding the table must pay for every guess (unlike API keys, where SHA-256 suffices). Hashing
takes tens of milliseconds, so async callers run these functions in a worker thread.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from causality.auth.errors import WeakPassword

MIN_PASSWORD_LENGTH = 10
# argon2 accepts any length; the cap only stops a megabyte "password" from costing a hash
MAX_PASSWORD_LENGTH = 1024

# RFC 9106's second recommended profile (argon2-cffi's default): argon2id, t=3, 64 MiB, p=4.
# A module-level hasher is fine: it is immutable configuration, not a resource.
_hasher = PasswordHasher()


def check_policy(password: str) -> None:
    """Raise ``WeakPassword`` unless the password is 10 to 1024 characters and not blank."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise WeakPassword("password must not be only whitespace")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string with its own salt and parameters) of a policy-checked
    password."""
    check_policy(password)
    return _hasher.hash(password)


def rehash(password: str) -> str:
    """A fresh hash with today's parameters for a password that just verified (no policy
    check: the policy may have tightened since, and the user must still get in)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; False for a mismatch and for a corrupt hash alike."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_verification(password: str) -> None:
    """Spend the time of one verification against a throwaway hash.

    Called when the email is unknown, so that a failed login takes as long whether or not the
    account exists: response time must not reveal which emails have accounts.
    """
    verify_password(_dummy_hash(), password)


def generate_password() -> str:
    """A random password (about 128 bits) for first-run admins and admin-created users."""
    return secrets.token_urlsafe(16)

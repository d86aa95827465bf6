"""API key material: generation, hashing and display prefix.

Kept apart from the authenticator so that ``causality.store.api_keys`` can create keys while
``causality.auth.api_keys`` reads them, without an import cycle.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "ck_"
DISPLAY_PREFIX_LENGTH = 10


def generate_key() -> str:
    """A new plaintext key: ``ck_`` plus 256 random bits, URL-safe, shown to the user once.

    The ``ck_`` marker lets secret scanners and users recognise a Causality key.
    """
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(plaintext: str) -> str:
    """SHA-256 hex digest of a key, the only form stored.

    A fast hash is right here: keys are 256-bit random, so brute force is hopeless however fast
    the hash, and authentication runs on every request. Slow salted hashes (argon2, bcrypt) are
    for low-entropy secrets such as passwords.
    """
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def key_prefix(plaintext: str) -> str:
    """The first characters of a key, stored in clear so users can tell their keys apart."""
    return plaintext[:DISPLAY_PREFIX_LENGTH]

"""Personal API token and session id material: generation and the stored (hashed) form.

Tokens and session ids are 256-bit random strings, so SHA-256 (``hash_key``) is the right
stored form, exactly as for ingestion keys: brute force is hopeless, and the hash is cheap
enough to compute on every request.
"""

from __future__ import annotations

import secrets

from causality.auth.keys import hash_key

TOKEN_PREFIX = "ct_"
TOKEN_DISPLAY_PREFIX_LENGTH = 10
MAX_SECRET_LENGTH = 128

__all__ = ["TOKEN_PREFIX", "generate_secret", "generate_token", "hash_key", "token_prefix"]


def generate_token() -> str:
    """A new personal API token, ``ct_`` plus 256 random bits; shown to its owner once.

    The ``ct_`` marker (``ck_`` for ingestion keys) tells secret scanners and people which kind
    of credential leaked.
    """
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_prefix(plaintext: str) -> str:
    """The first characters of a token, kept in clear so owners can tell tokens apart."""
    return plaintext[:TOKEN_DISPLAY_PREFIX_LENGTH]


def generate_secret() -> str:
    """256 random bits, URL-safe: session ids and CSRF tokens."""
    return secrets.token_urlsafe(32)

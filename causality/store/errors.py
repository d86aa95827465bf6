"""Errors of the store, classified for the gateway (which alone maps them to HTTP).

``exposed`` errors carry a message meant for the API caller; ``transient`` ones may succeed on
retry. ``code`` is stable for clients to match on; messages may change.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of store errors."""

    code: str = "store_error"
    exposed: bool = False
    transient: bool = False


class StoreUnavailable(StoreError):
    """PostgreSQL is unreachable or refused the connection: retry later (HTTP 503)."""

    code = "store_unavailable"
    transient = True


class MigrationError(StoreError):
    """A migration file is malformed or failed to apply; the message names it."""

    code = "migration_failed"


class InvalidAppId(StoreError):
    """The app id is not lowercase ``[a-z0-9][a-z0-9_-]{0,62}``, so unsafe in NATS subjects."""

    code = "invalid_app_id"
    exposed = True


class InvalidAppName(StoreError):
    """The app name is empty."""

    code = "invalid_app_name"
    exposed = True


class AppExists(StoreError):
    """An app with this id already exists."""

    code = "app_exists"
    exposed = True


class AppNotFound(StoreError):
    """No app has this id."""

    code = "app_not_found"
    exposed = True


class InvalidEmail(StoreError):
    """The email address is empty, too long or not of the form ``local@domain``."""

    code = "invalid_email"
    exposed = True


class UserExists(StoreError):
    """Another user has this email (compared case-insensitively)."""

    code = "user_exists"
    exposed = True


class UserNotFound(StoreError):
    """No user has this id."""

    code = "user_not_found"
    exposed = True


class LastAdmin(StoreError):
    """The change would leave no enabled admin, and nobody could manage users any more."""

    code = "last_admin"
    exposed = True

"""Who is calling: API keys for SDKs; users, sessions, roles and personal tokens for people.

Import the modules themselves (``causality.auth.api_keys``...); this package re-exports nothing
so that ``causality.store`` can use the key helpers without import cycles.
"""

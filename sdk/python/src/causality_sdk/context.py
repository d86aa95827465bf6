"""The ``device_context`` a server-side SDK can honestly report.

A server has no screen, carrier or battery; what it knows is that it is a server, which OS it
runs and which SDK sent the event. Keys are limited to the contract's fields (EVENTS.md):
the gateway rejects every event carrying an unknown key, so a typo here is caught at
construction instead of losing all events at runtime.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from typing import Any

from causality_sdk._version import __version__

DEVICE_CONTEXT_FIELDS = frozenset(
    {
        "platform",
        "os_version",
        "app_version",
        "build_number",
        "device_model",
        "manufacturer",
        "screen_width",
        "screen_height",
        "locale",
        "timezone",
        "network_type",
        "carrier",
        "is_jailbroken",
        "is_emulator",
        "sdk_version",
    }
)
SDK_VERSION = f"causality-python/{__version__}"
_TEXT_MAX = 256  # the gateway's cap on device strings


def device_context(
    *, app_version: str | None = None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``platform: server``, the OS and the SDK version, plus ``app_version`` and ``extra``.

    Raises ``ValueError`` for a key that is not a device_context field (hostnames, process
    ids and the like belong in event properties, not here).
    """
    context: dict[str, Any] = {
        "platform": "server",
        "os_version": f"{platform.system()} {platform.release()}".strip()[:_TEXT_MAX],
        "sdk_version": SDK_VERSION,
    }
    if app_version is not None:
        context["app_version"] = app_version
    if extra:
        unknown = sorted(set(extra) - DEVICE_CONTEXT_FIELDS)
        if unknown:
            raise ValueError(
                f"not device_context fields: {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(DEVICE_CONTEXT_FIELDS))})"
            )
        context.update(extra)
    return {k: v for k, v in context.items() if v is not None}

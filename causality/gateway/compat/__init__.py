"""Vendor-compatible ingestion: Segment's and PostHog's HTTP APIs on the gateway.

Teams switch by pointing their existing Segment, RudderStack or PostHog clients at the
gateway with a Causality API key as the write key / project key. Each vendor call is mapped
to event-contract envelopes (``segment_mapping``, ``posthog_mapping``; the table is in
docs/compat.md) and stored through the same validation and publishing path as
``/api/v1/events/batch``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from causality.gateway.compat import posthog, segment


def routes() -> list[BaseRoute]:
    """Every compatibility route, for ``build_gateway_app`` to mount."""
    return [*segment.routes(), *posthog.routes()]

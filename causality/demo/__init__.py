"""Synthetic but believable traffic for ``causality up --demo``.

An empty install shows empty dashboards; the demo fills them with the events a small shop
would produce (a mobile app, a web store, a backend) so every chart, funnel and query has
something to show. ``TrafficGenerator`` makes the events, ``stream_traffic`` sends them
through the public gateway like real SDKs.
"""

from __future__ import annotations

from causality.demo.sender import DemoStats, stream_traffic
from causality.demo.traffic import TrafficGenerator, infer_kind

__all__ = ["DemoStats", "TrafficGenerator", "infer_kind", "stream_traffic"]

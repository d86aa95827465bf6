"""What `causality status` reports: stream depth, sink and reaction consumer lag, and
warehouse files (alerts and deliveries: `causality alerts list`, `causality deliveries list`)."""

from __future__ import annotations

from typing import Any

from nats.js.errors import NotFoundError

from causality.bus.connection import connect
from causality.config import Settings
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.layout import events_glob


async def collect_status(settings: Settings) -> dict[str, dict[str, Any]]:
    """Read-only snapshot; each section says plainly when its service is not reachable."""
    report: dict[str, dict[str, Any]] = {}
    url = settings.nats_url or f"nats://127.0.0.1:{settings.embedded_nats_port}"
    try:
        nc = await connect(url, name="causality-status", connect_timeout_s=2.0)
    except Exception as exc:
        report["stream"] = {
            "error": f"NATS at {url} not reachable ({exc}); is `causality up` running?"
        }
    else:
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(settings.stream_name)
                report["stream"] = {
                    "name": settings.stream_name,
                    "messages": info.state.messages,
                    "bytes": info.state.bytes,
                    "first_seq": info.state.first_seq,
                    "last_seq": info.state.last_seq,
                }
                consumer = await js.consumer_info(settings.stream_name, settings.sink_consumer)
                report["consumer"] = {
                    "name": settings.sink_consumer,
                    "lag (pending)": consumer.num_pending,
                    "unacked": consumer.num_ack_pending,
                    "redelivered": consumer.num_redelivered,
                    "delivered_seq": consumer.delivered.stream_seq if consumer.delivered else 0,
                    "acked_seq": consumer.ack_floor.stream_seq if consumer.ack_floor else 0,
                }
                try:
                    rx = await js.consumer_info(settings.stream_name, settings.reaction_consumer)
                    report["reactions"] = {
                        "name": settings.reaction_consumer,
                        "lag (pending)": rx.num_pending,
                        "unacked": rx.num_ack_pending,
                        "redelivered": rx.num_redelivered,
                    }
                except NotFoundError:
                    report["reactions"] = {"error": "no reaction engine has started yet"}
                dlq = await js.stream_info(settings.dlq_stream_name)
                report["dead_letters"] = {"messages": dlq.state.messages}
            except NotFoundError:
                report["stream"] = {"error": "stream not created yet (start the gateway)"}
        finally:
            await nc.close()
    fs, root = open_warehouse(settings)
    files = fs.glob(events_glob(root), detail=True)
    sizes = (
        [int(info.get("size") or 0) for info in files.values()] if isinstance(files, dict) else []
    )
    report["warehouse"] = {
        "uri": settings.warehouse,
        "files": len(sizes),
        "bytes": sum(sizes),
    }
    return report

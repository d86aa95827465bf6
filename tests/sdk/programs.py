"""Programs the SDK integration tests run as child processes: exits, crashes and forks.

``python -m tests.sdk.programs SCENARIO HOST API_KEY [ARG...]``. Each prints JSON lines on
stdout (what it tracked, its stats) for the test to check against the gateway.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from typing import Any

from causality_sdk import Client

QUIET_INTERVAL_S = 3600.0
QUIET_AT = 1_000_000
"""Options under which nothing is sent before close, flush or exit."""


def _emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def _stats(client: Client) -> dict[str, int]:
    return dataclasses.asdict(client.stats())


def at_exit(host: str, key: str, n: str) -> None:
    """Track and return without close(): the atexit hook must deliver."""
    client = Client(key, host, flush_interval=QUIET_INTERVAL_S, flush_at=QUIET_AT)
    keys = [client.custom("exit test", {"i": i}) for i in range(int(n))]
    _emit(keys=keys)


def fork(host: str, key: str, workers: str, queue_path: str) -> None:
    """A pre-fork server: the client is made in the master, then used in every worker."""
    client = Client(
        key,
        host,
        queue_path=queue_path or None,
        flush_interval=QUIET_INTERVAL_S,
        flush_at=QUIET_AT,
    )
    for i in range(5):
        client.custom("master before fork", {"i": i})
    children = []
    for w in range(int(workers)):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for i in range(7):
                    client.custom("worker", {"worker": w, "i": i})
                delivered = client.flush(timeout=60)
                _emit(role="worker", flushed=delivered, stats=_stats(client))
                code = 0
            finally:
                os._exit(code)  # like a worker killed after its flush: no atexit, no cleanup
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    for i in range(3):
        client.custom("master after fork", {"i": i})
    client.close(timeout=60)
    _emit(role="master", child_codes=codes, stats=_stats(client))


def disk_down(host: str, key: str, queue_path: str, n: str) -> None:
    """Track while the gateway is down, give up at close: the events stay in the file."""
    client = Client(
        key, host, queue_path=queue_path, retry_base=0.1, retry_cap=0.5, shutdown_timeout=1.0
    )
    keys = [client.custom("disk test", {"i": i, "pid": os.getpid()}) for i in range(int(n))]
    client.close()
    _emit(keys=keys, stats=_stats(client))


def disk_crash(host: str, key: str, queue_path: str, n: str) -> None:
    """Track while the gateway is down, then die without close() or atexit."""
    client = Client(key, host, queue_path=queue_path, flush_interval=0.2, retry_base=0.1)
    keys = [client.custom("crash test", {"i": i}) for i in range(int(n))]
    time.sleep(1.0)  # the sender moves its buffer to the file while it retries
    _emit(keys=keys)
    os._exit(3)


def disk_drain(host: str, key: str, queue_path: str) -> None:
    """A new process on the same file tracks nothing and delivers what it finds."""
    client = Client(key, host, queue_path=queue_path, retry_base=0.1, retry_cap=0.5)
    delivered = client.flush(timeout=60)
    client.close()
    _emit(flushed=delivered, stats=_stats(client))


SCENARIOS = {
    "at_exit": at_exit,
    "fork": fork,
    "disk_down": disk_down,
    "disk_crash": disk_crash,
    "disk_drain": disk_drain,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](*sys.argv[2:])

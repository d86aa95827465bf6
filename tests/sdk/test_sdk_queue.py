"""The bounded queues: drop-oldest with a counter, leases, and the SQLite file across owners."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from causality_sdk.queue import MemoryQueue, SQLiteQueue


def _bodies(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"i":{i}}}'.encode() for i in range(start, start + n)]


def test_memory_queue_drops_the_oldest_and_counts() -> None:
    q = MemoryQueue(max_size=3)
    for body in _bodies(5):
        q.put(body)
    assert (q.pending(), q.dropped, q.added) == (3, 2, 5)
    batch = q.lease(max_events=10, max_bytes=10_000)
    assert batch is not None and batch.bodies == _bodies(3, start=2)


def test_memory_lease_respects_count_and_bytes_but_takes_at_least_one() -> None:
    q = MemoryQueue(max_size=100)
    for body in _bodies(10):
        q.put(body)
    first = q.lease(max_events=4, max_bytes=10_000)
    assert first is not None and len(first) == 4
    second = q.lease(max_events=100, max_bytes=17)  # two 7-byte events plus commas
    assert second is not None and second.bodies == _bodies(2, start=4)
    q.put(b"x" * 50)
    rest = q.lease(max_events=100, max_bytes=10)
    assert rest is not None and len(rest) == 1, "an event over max_bytes still goes, alone"


def test_memory_release_puts_a_batch_back_at_the_head_within_the_bound() -> None:
    q = MemoryQueue(max_size=4)
    for body in _bodies(4):
        q.put(body)
    batch = q.lease(max_events=2, max_bytes=10_000)
    assert batch is not None
    for body in _bodies(2, start=4):  # arrived while the batch was on the wire
        q.put(body)
    assert q.dropped == 0, "a leased batch does not count against the bound"
    q.release(batch)
    assert q.dropped == 2  # the oldest two, which are the released ones
    again = q.lease(max_events=10, max_bytes=10_000)
    assert again is not None and again.bodies == _bodies(4, start=2)


def test_memory_queue_starts_empty_after_fork() -> None:
    q = MemoryQueue(max_size=10)
    q.put(b"{}")
    q.after_fork_in_child()
    assert (q.pending(), q.added, q.dropped) == (0, 0, 0)


def test_sqlite_queue_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    q = SQLiteQueue(path, max_size=100)
    for body in _bodies(5):
        q.put(body)
    assert q.buffered() == 5 and q.pending() == 5
    leased = q.lease(max_events=2, max_bytes=10_000)
    assert leased is not None and leased.bodies == _bodies(2)
    q.close()  # writes the buffer, frees the lease

    q2 = SQLiteQueue(path, max_size=100)
    assert q2.pending() == 5
    batch = q2.lease(max_events=10, max_bytes=10_000)
    assert batch is not None and batch.bodies == _bodies(5)
    q2.ack(batch)
    assert q2.pending() == 0
    q2.close()


def test_sqlite_queue_drops_the_oldest_free_events_past_its_bound(tmp_path: Path) -> None:
    q = SQLiteQueue(tmp_path / "q.db", max_size=4)
    for body in _bodies(3):
        q.put(body)
    leased = q.lease(max_events=2, max_bytes=10_000)  # events 0, 1 are on the wire
    assert leased is not None
    for body in _bodies(4, start=3):
        q.put(body)
    q.persist()
    assert q.dropped == 3  # 7 stored, bound 4: the oldest *free* ones (2, 3, 4) go
    rest = q.lease(max_events=10, max_bytes=10_000)
    assert rest is not None and rest.bodies == _bodies(2, start=5)
    q.close()


def test_sqlite_leases_are_exclusive_between_owners(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    a = SQLiteQueue(path, max_size=100)
    b = SQLiteQueue(path, max_size=100)
    for body in _bodies(6):
        a.put(body)
    a.persist()
    first = a.lease(max_events=4, max_bytes=10_000)
    second = b.lease(max_events=4, max_bytes=10_000)
    assert first is not None and second is not None
    assert first.bodies == _bodies(4) and second.bodies == _bodies(2, start=4)
    assert b.lease(max_events=4, max_bytes=10_000) is None
    b.release(second)
    a.release(first)
    assert b.pending() == 6
    a.close()
    b.close()


def test_an_expired_lease_goes_to_the_next_owner(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    a = SQLiteQueue(path, max_size=100, lease_s=-1)  # every lease has already run out
    b = SQLiteQueue(path, max_size=100)
    a.put(b"{}")
    assert a.lease(max_events=1, max_bytes=100) is not None
    taken = b.lease(max_events=1, max_bytes=100)
    assert taken is not None and taken.bodies == [b"{}"]
    a.close()
    b.close()


def test_leases_of_a_dead_process_are_freed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    script = (
        "import os, sys\n"
        "from causality_sdk.queue import SQLiteQueue\n"
        "q = SQLiteQueue(sys.argv[1], max_size=10)\n"
        "q.put(b'{}')\n"
        "assert q.lease(max_events=1, max_bytes=100) is not None\n"
        "os._exit(0)  # a crash mid-send: no close, the lease stays\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    q = SQLiteQueue(path, max_size=10)
    assert q.pending() == 1
    q.close()


def test_sqlite_queue_after_fork_is_a_new_owner(tmp_path: Path) -> None:
    # in a child interpreter: forking pytest itself would copy its (Ray, server) threads
    script = (
        "import os, sys\n"
        "from causality_sdk.queue import SQLiteQueue\n"
        "q = SQLiteQueue(sys.argv[1], max_size=10)\n"
        "q.put(b'{}')\n"
        "parent_lease = q.lease(max_events=1, max_bytes=100)\n"
        "assert parent_lease is not None\n"
        "q.put(b'[]')  # buffered in the parent only\n"
        "pid = os.fork()\n"
        "if pid == 0:  # its own connection and owner; the parent's lease and buffer untouched\n"
        "    q.after_fork_in_child()\n"
        "    ok = q.buffered() == 0 and q.lease(max_events=5, max_bytes=100) is None\n"
        "    os._exit(0 if ok else 1)\n"
        "assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0\n"
        "q.ack(parent_lease)\n"
        "q.close()\n"
        "assert SQLiteQueue(sys.argv[1], max_size=10).pending() == 1  # the parent's b'[]'\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "q.db")], check=True, timeout=60)


def test_bounds_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        MemoryQueue(max_size=0)
    with pytest.raises(ValueError):
        SQLiteQueue(tmp_path / "q.db", max_size=0)

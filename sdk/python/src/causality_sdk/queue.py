"""Where events wait for delivery: in memory, or in a SQLite file that survives restarts.

Both queues hold encoded envelopes (bytes), so a batch body is assembled by joining them and
nothing is serialized twice. Both are bounded and drop the *oldest* waiting event when full:
when the gateway is unreachable for long, recent behavior is worth more than old, and the
application's memory (or disk) must not grow without limit. Every drop is counted.

Delivery leases a batch, then acks it (delivered, or refused for good) or releases it (put
back at the head, e.g. when the client closes while the gateway is down). A leased batch is
never dropped by overflow: it may be on the wire at that moment.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_LEASE_S = 60.0


@dataclass
class Batch:
    """Leased events: their encoded envelopes and the queue's handles for them."""

    bodies: list[bytes]
    handles: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.bodies)


class EventQueue(Protocol):
    """What the delivery worker needs from a queue; put() must never block for long."""

    dropped: int
    added: int

    def put(self, body: bytes) -> None: ...
    def buffered(self) -> int: ...
    def lease(self, *, max_events: int, max_bytes: int) -> Batch | None: ...
    def renew(self, batch: Batch) -> None: ...
    def ack(self, batch: Batch) -> None: ...
    def release(self, batch: Batch) -> None: ...
    def persist(self) -> None: ...
    def pending(self) -> int: ...
    def close(self) -> None: ...
    def after_fork_in_child(self) -> None: ...


def _take(source: deque[bytes], max_events: int, max_bytes: int) -> list[bytes]:
    """Pop from the left while both limits hold; always at least one event."""
    taken: list[bytes] = []
    size = 0
    while source and len(taken) < max_events:
        nxt = len(source[0]) + 1  # the comma joining it into the batch
        if taken and size + nxt > max_bytes:
            break
        taken.append(source.popleft())
        size += nxt
    return taken


class MemoryQueue:
    """A bounded FIFO in this process's memory; lost when the process ends undelivered."""

    def __init__(self, *, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self.dropped = 0
        self.added = 0
        self._items: deque[bytes] = deque()
        self._lock = threading.Lock()

    def put(self, body: bytes) -> None:
        with self._lock:
            if len(self._items) >= self.max_size:
                self._items.popleft()
                self.dropped += 1
            self._items.append(body)
            self.added += 1

    def buffered(self) -> int:
        """Events not yet leased (a cheap read, for deciding when to wake the sender)."""
        return len(self._items)

    def lease(self, *, max_events: int, max_bytes: int) -> Batch | None:
        with self._lock:
            taken = _take(self._items, max_events, max_bytes)
        return Batch(taken) if taken else None

    def renew(self, batch: Batch) -> None:
        """Nothing to renew: only this process sees the queue."""

    def ack(self, batch: Batch) -> None:
        """Nothing to do: the leased events already left the deque."""

    def release(self, batch: Batch) -> None:
        with self._lock:
            self._items.extendleft(reversed(batch.bodies))
            while len(self._items) > self.max_size:
                self._items.popleft()
                self.dropped += 1

    def persist(self) -> None:
        """Nothing to persist: memory is all there is."""

    def pending(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Nothing to close; undelivered events are simply gone (the client logs them)."""

    def after_fork_in_child(self) -> None:
        """The child starts empty: the parent still holds (and will deliver) these events."""
        self._lock = threading.Lock()  # the parent's may have been held at fork time
        self._items = deque()
        self.dropped = 0
        self.added = 0


# Connections a forked child inherited. SQLite forbids using them in the child, and closing
# them there could checkpoint or remove the parent's WAL, so they are kept, untouched, until
# the child exits.
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    body BLOB NOT NULL,
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0
)
"""


def _owner_alive(owner: str) -> bool:
    """Whether the process named in a lease owner (``pid-token``) still runs on this host.

    A queue file is local to one host (SQLite over network filesystems is unsafe anyway).
    A reused pid only delays the batch until its lease runs out.
    """
    try:
        pid = int(owner.split("-", 1)[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


class SQLiteQueue:
    """A bounded FIFO in a SQLite file: events survive restarts and crashes of the process.

    ``put`` only appends to an in-memory buffer (no disk I/O on the caller's thread); the
    delivery worker writes that buffer to the file before every lease and at least every
    flush interval, and ``close`` writes what is left. So a clean exit loses nothing, and a
    crash loses at most the last interval's events.

    Several processes may share one file (workers forked from one master, or a restarted
    process finding its predecessor's events): a batch is leased to one owner (pid and a
    random token) for ``lease_s`` seconds and renewed while it is being retried; a lease
    whose owner died runs out and the events go to whoever leases next. A lease that runs
    out during a very long retry may send a batch twice, which the gateway's idempotency
    keys make harmless. Leases of processes found dead when the file is opened are freed
    at once.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_size: int, lease_s: float = DEFAULT_LEASE_S
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.path = Path(path)
        self.max_size = max_size
        self.lease_s = lease_s
        self.dropped = 0
        self.added = 0
        self._buffer: deque[bytes] = deque()
        self._moving = 0
        self._buffer_lock = threading.Lock()
        self._db_lock = threading.Lock()
        self._owner = self._new_owner()
        self._con = self._connect()
        self._left_at_close: int | None = None
        self._release_dead_owners()

    @staticmethod
    def _new_owner() -> str:
        return f"{os.getpid()}-{secrets.token_hex(6)}"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE), so two processes
        # never both read the same free rows before either marks them leased
        con = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        con.execute("PRAGMA journal_mode=WAL")  # writers do not block readers
        con.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes, not power loss
        con.execute(_SCHEMA)
        return con

    def _release_dead_owners(self) -> None:
        """Free leases of processes that no longer run (they crashed mid-send), so a
        restarted process delivers their batches now rather than when the lease runs out."""
        with self._transaction() as con:
            owners = [
                owner
                for (owner,) in con.execute(
                    "SELECT DISTINCT lease_owner FROM events WHERE lease_owner IS NOT NULL"
                )
                if not _owner_alive(owner)
            ]
            con.executemany(
                "UPDATE events SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?",
                ((owner,) for owner in owners),
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def put(self, body: bytes) -> None:
        with self._buffer_lock:
            if len(self._buffer) >= self.max_size:
                self._buffer.popleft()
                self.dropped += 1
            self._buffer.append(body)
            self.added += 1

    def buffered(self) -> int:
        """Events put since the last write to the file."""
        return len(self._buffer)

    def persist(self) -> None:
        """Write the buffered events to the file, then drop the oldest free ones past the bound."""
        with self._buffer_lock:
            if not self._buffer:
                return
            bodies, self._buffer = self._buffer, deque()
            self._moving = len(bodies)  # counted by pending() until they are in the file
        try:
            self._write(bodies)
        finally:
            self._moving = 0

    def _write(self, bodies: deque[bytes]) -> None:
        with self._transaction() as con:
            con.executemany("INSERT INTO events (body) VALUES (?)", ((b,) for b in bodies))
            low, high = con.execute("SELECT min(seq), max(seq) FROM events").fetchone()
            if high - low + 1 <= self.max_size:  # an upper bound of the count, from the index
                return
            (count,) = con.execute("SELECT count(*) FROM events").fetchone()
            excess = count - self.max_size
            if excess > 0:
                cur = con.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                    "WHERE lease_until < ? ORDER BY seq LIMIT ?)",
                    (time.time(), excess),
                )
                self.dropped += cur.rowcount

    def lease(self, *, max_events: int, max_bytes: int) -> Batch | None:
        self.persist()
        now = time.time()
        with self._transaction() as con:
            rows = con.execute(
                "SELECT seq, body FROM events WHERE lease_until < ? ORDER BY seq LIMIT ?",
                (now, max_events),
            ).fetchall()
            bodies: list[bytes] = []
            handles: list[int] = []
            size = 0
            for seq, body in rows:
                size += len(body) + 1
                if bodies and size > max_bytes:
                    break
                bodies.append(bytes(body))
                handles.append(seq)
            con.executemany(
                "UPDATE events SET lease_owner = ?, lease_until = ? WHERE seq = ?",
                ((self._owner, now + self.lease_s, seq) for seq in handles),
            )
        return Batch(bodies, handles) if bodies else None

    def renew(self, batch: Batch) -> None:
        until = time.time() + self.lease_s
        with self._transaction() as con:
            con.executemany(
                "UPDATE events SET lease_until = ? WHERE seq = ? AND lease_owner = ?",
                ((until, seq, self._owner) for seq in batch.handles),
            )

    def ack(self, batch: Batch) -> None:
        with self._transaction() as con:
            con.executemany("DELETE FROM events WHERE seq = ?", ((s,) for s in batch.handles))

    def release(self, batch: Batch) -> None:
        with self._transaction() as con:
            con.executemany(
                "UPDATE events SET lease_owner = NULL, lease_until = 0 "
                "WHERE seq = ? AND lease_owner = ?",
                ((seq, self._owner) for seq in batch.handles),
            )

    def pending(self) -> int:
        """Events waiting to be leased: buffered, or free in the file (whoever put them)."""
        if self._left_at_close is not None:
            return self._left_at_close
        with self._buffer_lock:  # before the file: persist() moves events the other way
            in_memory = len(self._buffer) + self._moving
        with self._db_lock:
            (stored,) = self._con.execute(
                "SELECT count(*) FROM events WHERE lease_until < ?", (time.time(),)
            ).fetchone()
        return in_memory + int(stored)

    def close(self) -> None:
        """Write what is buffered, free this process's leases, close the file."""
        self.persist()
        with self._transaction() as con:
            con.execute(
                "UPDATE events SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?",
                (self._owner,),
            )
        self._left_at_close = self.pending()
        with self._db_lock:
            self._con.close()

    def after_fork_in_child(self) -> None:
        """A new owner with its own connection; the parent keeps its buffer and leases."""
        _INHERITED_CONNECTIONS.append(self._con)
        self._buffer_lock = threading.Lock()
        self._db_lock = threading.Lock()
        self._buffer = deque()
        self._moving = 0
        self.dropped = 0
        self.added = 0
        self._owner = self._new_owner()
        self._con = self._connect()

"""What both benchmarks share: free ports, child processes that always die, figures, tables."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil


def free_port() -> int:
    """A TCP port nobody listens on right now (never 8000 / 4222, which developers use)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in (8000, 4222):
            return port


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, right-aligned except the first two columns."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def machine_note() -> str:
    """CPU count and load, because every figure here depends on them."""
    load = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at start; Python {sys.version.split()[0]}"
    )


class ChildProcess:
    """A child in its own process group, stopped with its whole tree however we exit.

    ``stop`` closes stdin (the polite request), then SIGTERM, then SIGKILL to the group and
    to every descendant seen while it ran (Ray daemons may leave the group).
    """

    def __init__(self, args: Sequence[str], *, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self._seen: dict[int, float] = {}

    @property
    def pid(self) -> int:
        return self.proc.pid

    def descendants(self) -> list[psutil.Process]:
        """The live process tree below the child (remembered for the final sweep)."""
        try:
            found = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for p in found:
            with contextlib.suppress(psutil.Error):
                self._seen.setdefault(p.pid, p.create_time())
        return found

    def log_tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        return ""

    def stop(self, *, grace_s: float) -> None:
        """Ask, then insist; never returns with a process of ours still running."""
        self.descendants()
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(OSError):
                    assert self.proc.stdin is not None
                    self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        self.proc.send_signal(signal.SIGTERM)
                    try:
                        self.proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        pass
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            self._sweep()
        finally:
            self._log.close()

    def _sweep(self) -> None:
        """Kill descendants that outlived the child, matched by pid and start time."""
        deadline = time.monotonic() + 5
        for pid, created in self._seen.items():
            try:
                p = psutil.Process(pid)
                if p.create_time() != created:
                    continue  # the pid was reused by someone else's process
                if time.monotonic() < deadline:
                    with contextlib.suppress(psutil.TimeoutExpired):
                        p.wait(timeout=max(0.0, deadline - time.monotonic()))
                        continue
                p.kill()
            except psutil.Error:
                continue


@contextlib.contextmanager
def py_spy(pid: int | None, out: Path | None, *, seconds: float) -> Iterator[None]:
    """Record a py-spy profile of ``pid`` (all threads, native frames off) while the block runs."""
    if pid is None or out is None:
        yield
        return
    spy = Path(sys.executable).with_name("py-spy")
    proc = subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds) + 1),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def top_frames(raw: Path, *, n: int = 15) -> list[tuple[float, float, str]]:
    """From a py-spy raw (collapsed stacks) file: (self %, total %, frame) of the top frames."""
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    samples = 0
    with contextlib.suppress(OSError), open(raw) as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            samples += count
            frames = stack.split(";")
            self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
            for frame in set(frames):
                total_counts[frame] = total_counts.get(frame, 0) + count
    if not samples:
        return []
    ranked = sorted(self_counts.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return [(100 * c / samples, 100 * total_counts.get(f, 0) / samples, f) for f, c in ranked]


def attribute(raw: Path, buckets: Sequence[tuple[str, str]]) -> dict[str, float]:
    """Percent of py-spy samples per bucket: the first bucket whose needle is in the stack.

    Order buckets from the innermost code (msgspec decoding) to the outermost (the HTTP
    server, the event loop), so each sample lands where the work was actually done.
    """
    hits = dict.fromkeys([name for name, _ in buckets] + ["other"], 0)
    samples = 0
    with contextlib.suppress(OSError), open(raw) as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            samples += count
            owner = next((name for name, needle in buckets if needle in stack), "other")
            hits[owner] += count
    return {name: 100 * n / samples if samples else 0.0 for name, n in hits.items()}

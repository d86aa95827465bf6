"""Run a local PostgreSQL with pgserver for the one-command stack.

pgserver ships PostgreSQL binaries in a wheel and starts one server per data directory,
listening on a unix socket only (nothing on the network). Production passes ``postgres_dsn``
instead and never gets here.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import signal
import subprocess
import time
import warnings
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import quote

from causality.embedded.errors import ServerBinaryNotFound, ServerStartError

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SUPERUSER = "postgres"
_STOP_TIMEOUT_S = 10.0


def _import_pgserver() -> ModuleType:
    """Import pgserver lazily: it creates users and lock files at import, which only the
    embedded stack needs."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); pgserver only
            # keeps its lock file there, and the /tmp fallback is fine for that.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pgserver
    except ImportError as exc:
        raise ServerBinaryNotFound(
            "pgserver is not installed; install it (pip install pgserver) or set "
            "postgres_dsn to an external PostgreSQL"
        ) from exc
    return pgserver


def _process_alive(pid: int) -> bool:
    """Whether pid runs and is not a zombie (zombies linger where PID 1 does not reap)."""
    import psutil  # a dependency of pgserver

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL for one data directory, with the app database created.

    pgserver reference-counts the processes using a data directory in a file and stops the
    server when the last one lets go. A process that crashed never lets go, so ``start()``
    first drops dead processes from that list; otherwise ``stop()`` would leave the server
    running forever.
    """

    def __init__(self, *, data_dir: Path, database: str = "causality") -> None:
        if not _DATABASE_NAME.match(database):
            raise ValueError(f"database name must match {_DATABASE_NAME.pattern}: {database!r}")
        self._data_dir = Path(data_dir).expanduser().resolve()
        self._database = database
        self._server: Any = None
        self._dsn: str | None = None

    @property
    def data_dir(self) -> Path:
        """The PGDATA directory (its ``log`` file holds the server log)."""
        return self._data_dir

    @property
    def running(self) -> bool:
        """Whether this object holds a started server."""
        return self._server is not None

    @property
    def dsn(self) -> str:
        """A libpq-style URI for the app database that asyncpg accepts (unix socket)."""
        if self._dsn is None:
            raise RuntimeError("EmbeddedPostgres is not started")
        return self._dsn

    def start(self) -> None:
        """Start (or join) the server and create the app database if missing; no-op if started."""
        if self._server is not None:
            return
        pgserver = _import_pgserver()
        self._data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._prune_dead_handles(pgserver)
        try:
            server = pgserver.get_server(self._data_dir, cleanup_mode="stop")
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            raise ServerStartError(
                f"PostgreSQL did not start in {self._data_dir}: {exc}\n{self._log_tail()}"
            ) from exc
        self._server = server
        try:
            info = server.get_postmaster_info()
            if info.socket_dir is not None:
                host = quote(str(info.socket_dir), safe="/")
                base = f"postgresql://{_SUPERUSER}@/{{db}}?host={host}&port={info.port or 5432}"
            else:  # Windows: pgserver listens on TCP there
                base = f"postgresql://{_SUPERUSER}@{info.hostname}:{info.port}/{{db}}"
            self._ensure_database(pgserver, base.format(db="postgres"))
            self._dsn = base.format(db=self._database)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Release the server; it stops unless another live process still uses it. Idempotent."""
        server, self._server = self._server, None
        self._dsn = None
        if server is None:
            return
        pid = server.get_pid()
        server.cleanup()
        if pid is not None and _process_alive(pid) and not self._live_handles():
            self._force_stop(pid)

    def __enter__(self) -> EmbeddedPostgres:
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
        return f"EmbeddedPostgres(data_dir={str(self._data_dir)!r}, running={self.running})"

    def _ensure_database(self, pgserver: ModuleType, admin_dsn: str) -> None:
        """CREATE DATABASE if missing; psql's ``\\gexec`` makes it one idempotent statement."""
        psql = importlib.resources.files(pgserver) / "pginstall" / "bin" / "psql"
        script = (
            f"SELECT 'CREATE DATABASE {self._database}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_database WHERE datname = '{self._database}')\\gexec\n"
        )
        result = subprocess.run(
            [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_dsn],
            input=script,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise ServerStartError(
                f"cannot create database {self._database!r}: {result.stderr.strip()}"
            )

    def _handles_path(self) -> Path:
        return self._data_dir / ".handle_pids.json"

    def _read_handles(self) -> list[int]:
        try:
            pids = json.loads(self._handles_path().read_text())
        except (OSError, ValueError):
            return []
        return [pid for pid in pids if isinstance(pid, int)] if isinstance(pids, list) else []

    def _live_handles(self) -> list[int]:
        return [pid for pid in self._read_handles() if _process_alive(pid)]

    def _prune_dead_handles(self, pgserver: ModuleType) -> None:
        """Forget processes that died holding the server, so the last live user stops it."""
        if not self._handles_path().exists():
            return
        with pgserver.PostgresServer._lock:
            pids = self._read_handles()
            live = [pid for pid in pids if pid == os.getpid() or _process_alive(pid)]
            if live != pids:
                self._handles_path().write_text(json.dumps(live))

    def _force_stop(self, pid: int) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT): never leave an orphaned server."""
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + _STOP_TIMEOUT_S
            while time.monotonic() < deadline:
                if not _process_alive(pid):
                    return
                time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            return (self._data_dir / "log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

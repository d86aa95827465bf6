from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

import causality.embedded
from causality.embedded.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_dead(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


async def test_start_creates_database_and_stop_leaves_no_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with EmbeddedPostgres(data_dir=data_dir) as pg:
        assert pg.running
        pid = _postmaster_pid(data_dir)
        conn = await asyncpg.connect(pg.dsn)
        try:
            assert await conn.fetchval("SELECT current_database()") == "causality"
            await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        finally:
            await conn.close()
    assert not pg.running
    assert _wait_dead(pid), "postmaster still running after stop()"
    pg.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = pg.dsn

    # Started again on the same data dir: same data, database not re-created.
    with EmbeddedPostgres(data_dir=data_dir) as pg:
        conn = await asyncpg.connect(pg.dsn)
        try:
            assert await conn.fetchval("SELECT x FROM kept") == 42
        finally:
            await conn.close()
        pid = _postmaster_pid(data_dir)
    assert _wait_dead(pid)


def test_server_left_by_a_crashed_process_is_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    repo_root = Path(causality.embedded.__file__).resolve().parents[2]
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from causality.embedded.postgres import EmbeddedPostgres\n"
            "pg = EmbeddedPostgres(data_dir=Path(sys.argv[1]))\n"
            "pg.start()\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)  # no atexit: the server is orphaned
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    pid = _postmaster_pid(data_dir)
    assert _alive(pid)

    pg = EmbeddedPostgres(data_dir=data_dir)
    pg.start()  # joins the orphan
    assert _postmaster_pid(data_dir) == pid
    pg.stop()
    assert _wait_dead(pid), "the orphaned postmaster was not stopped"


def test_invalid_database_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="database name"):
        EmbeddedPostgres(data_dir=tmp_path / "data", database="bad; DROP")


async def test_session_server_dsn_connects(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()

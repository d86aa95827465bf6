from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import nats
import pytest

from causality.embedded.errors import PortInUse, ServerStartError
from causality.embedded.nats import EmbeddedNats, find_nats_server

pytestmark = pytest.mark.integration


def test_binary_is_found_next_to_the_interpreter() -> None:
    binary = find_nats_server()
    assert binary.name.startswith("nats-server")
    assert binary.is_file()


async def test_jetstream_data_survives_restart_on_the_same_port(tmp_path: Path) -> None:
    server = EmbeddedNats(store_dir=tmp_path / "jetstream", port=0)
    with server:
        assert server.running
        url, port = server.url, server.port
        assert url == f"nats://127.0.0.1:{port}"
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name="RESTART", subjects=["restart.>"])
        ack = await js.publish("restart.a", b"kept", headers={"Nats-Msg-Id": "m1"})
        assert ack.seq == 1
        await nc.close()

        server.restart()
        assert server.running
        assert server.port == port and server.url == url

        nc = await nats.connect(url)
        js = nc.jetstream()
        msg = await js.get_msg("RESTART", 1)
        assert msg.data == b"kept"
        info = await js.stream_info("RESTART")
        assert info.state.messages == 1
        await nc.close()
    assert not server.running
    server.stop()  # idempotent
    assert (tmp_path / "nats-server.log").stat().st_size > 0
    assert "max_file_store" in (tmp_path / "nats-server.conf").read_text()


def test_fixed_port_already_in_use_fails_clearly(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    other = EmbeddedNats(store_dir=tmp_path / "jetstream", port=nats_server.port)
    with pytest.raises(PortInUse, match=str(nats_server.port)):
        other.start()
    assert not other.running
    assert nats_server.running


def test_server_exit_during_start_reports_the_log_tail(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine, so the bind fails.
    server = EmbeddedNats(store_dir=tmp_path / "jetstream", port=4999, host="192.0.2.1")
    with pytest.raises(ServerStartError) as excinfo:
        server.start()
    message = str(excinfo.value)
    assert "exited" in message
    assert "192.0.2.1" in message
    assert str(tmp_path / "nats-server.log") in message
    assert not server.running


async def test_session_server_serves_jetstream(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        name = f"SESSION_{uuid.uuid4().hex[:8].upper()}"
        await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
        ack = await js.publish(f"{name.lower()}.x", b"1")
        assert ack.stream == name
        await js.delete_stream(name)
    finally:
        await nc.close()


def test_errors_survive_pickling() -> None:
    error = PortInUse("port 4222 busy")
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is PortInUse and str(clone) == "port 4222 busy"

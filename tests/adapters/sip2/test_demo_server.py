"""The demo ILS's SIP2 server on the wire (raw frames), and ``flask demo sip2-server``."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.demo.sip2_server import DemoSip2Server
from adapters.sip2 import Sip2Adapter, builders
from adapters.sip2.codec import checksum_verdict, decode_message, encode_message
from adapters.sip2.responses import parse_patron_information
from tests.adapters.sip2.conftest import SIP2_PASSWORD, SIP2_USER, credentials, sip2_config
from tests.adapters.sip2.loopback import corrupt_checksum

ROOT = Path(__file__).resolve().parents[3]


class Wire:
    """A raw SIP2 client socket: frames in, frames out (CR stripped)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.buffer = b""

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame + b"\r")

    def send_message(self, message, sequence: int | None = 0) -> None:
        self.send(encode_message(message, "utf-8", sequence=sequence, error_detection=sequence is not None))

    def read(self) -> bytes | None:
        while b"\r" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        frame, self.buffer = self.buffer.split(b"\r", 1)
        return frame

    def login(self) -> None:
        self.send_message(builders.login_request(SIP2_USER, SIP2_PASSWORD))
        assert self.read().startswith(b"941")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wire(demo_sip2):
    client = Wire(demo_sip2.port)
    yield client
    client.close()


def test_nothing_before_a_successful_login(demo_sip2):
    early = Wire(demo_sip2.port)
    early.send_message(builders.sc_status_request())
    assert early.read() is None  # closed, as Koha and Evergreen do
    early.close()
    wrong = Wire(demo_sip2.port)
    wrong.send_message(builders.login_request(SIP2_USER, "wrong"))
    assert wrong.read().startswith(b"940") and wrong.read() is None
    wrong.close()


def test_status_checksums_resend_and_unknown_commands(wire):
    wire.login()
    wire.send_message(builders.sc_status_request(), sequence=1)
    status = wire.read()
    assert checksum_verdict(status) == "ok" and b"BXYNNNYYYYYNYNNYYY|" in status and b"AY1AZ" in status
    wire.send(b"97AZFEF5")
    assert wire.read() == status, "97 gets the last reply again, byte for byte"
    wire.send_message(builders.resend_request(), sequence=None)  # a bare 97, without error detection
    assert wire.read() == status
    frame = encode_message(builders.sc_status_request(), "utf-8", sequence=2)
    wire.send(corrupt_checksum(frame))
    assert wire.read() == b"96AZFEF6"
    wire.send_message(builders.sc_status_request(), sequence=None)
    plain = wire.read()
    assert plain.startswith(b"98") and b"AZ" not in plain, "no error detection asked, none given"
    wire.send(b"01N20250101    000000AOX|AAY|")  # 01 Block Patron: not supported, so ignored
    wire.send_message(builders.sc_status_request(), sequence=3)
    assert wire.read().startswith(b"98"), "the unknown request got no reply, the next one did"


def test_patron_information_pages_with_bp_bq(wire):
    wire.login()
    card = credentials("many-loans")[0]
    pages = []
    for start, end in ((1, 10), (11, 20), (21, 40)):
        request = builders.patron_information_request("SHIORI", card, summary="charged", start_item=start,
                                                      end_item=end)
        wire.send_message(request, sequence=start % 10)
        pages.append(parse_patron_information(decode_message(wire.read(), "utf-8")))
    assert [len(info.charged_items) for info in pages] == [10, 10, 10]
    assert len({item for info in pages for item in info.charged_items}) == 30
    assert pages[0].charged_items_count == 30 and pages[0].valid_patron_password is None


def test_latency_delays_every_reply(demo):
    with DemoSip2Server(demo, latency_ms=150) as server:
        client = Wire(server.port)
        try:
            started = time.monotonic()
            client.send_message(builders.sc_status_request())
            assert client.read().startswith(b"98")
            assert time.monotonic() - started >= 0.15
        finally:
            client.close()


def test_latency_counts_from_the_request_s_arrival(demo, monkeypatch):
    """An ILS "at 150 ms" answers 150 ms after the request arrives: its own work is part of that,
    so the delay added is what is left of the latency, not all of it again."""
    import types

    from adapters.demo import sip2_server

    delays: list[float] = []

    def record_sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(sip2_server, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=record_sleep))
    with DemoSip2Server(demo, latency_ms=150) as server:
        respond = server._server.acs.respond

        def slow_respond(request):
            time.sleep(0.1)  # the ILS's own work
            return respond(request)

        monkeypatch.setattr(server._server.acs, "respond", slow_respond)
        client = Wire(server.port)
        try:
            client.send_message(builders.sc_status_request())
            assert client.read().startswith(b"98")
        finally:
            client.close()
    assert len(delays) == 1 and 0 <= delays[0] <= 0.05


def test_flask_demo_sip2_server_command(tmp_path, demo_db):
    """A new user's way in: ``flask demo sip2-server --port N`` serves the app's demo database."""
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_SECRET_KEY": "x" * 32,
           "PORTAL_DEMO_DATABASE": str(demo_db), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "demo", "sip2-server", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = process.stdout.readline() + process.stdout.readline() + process.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", banner).group(1))
        assert f"PORTAL_ADAPTER=sip2 PORTAL_SIP2_HOST=127.0.0.1 PORTAL_SIP2_PORT={port}" in banner
        adapter = Sip2Adapter.from_config(sip2_config(port, SIP2_USER="", SIP2_PASSWORD=""))
        try:
            patron = adapter.authenticate(*credentials("regular"))
            assert len(adapter.loans(patron.key)) == 3
        finally:
            adapter.close()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert "Demo SIP2 server stopped." in output

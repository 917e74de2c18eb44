"""deploy/gunicorn.conf.py: the settings it gives, and gunicorn really serving the portal with it."""

from __future__ import annotations

import os
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"


def settings(monkeypatch, tmp_path, **env: str) -> dict:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("SHIORI_WORKERS", "SHIORI_THREADS", "SHIORI_KEEPALIVE", "SHIORI_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_behind_a_proxy_a_worker_takes_only_what_its_threads_can_serve(monkeypatch, tmp_path):
    conf = settings(monkeypatch, tmp_path, SHIORI_THREADS="6")
    assert conf["threads"] == 6 and conf["worker_connections"] == 6 and conf["keepalive"] == 0
    assert conf["worker_class"] == "gthread"


def test_keep_alive_for_browsers_served_directly(monkeypatch, tmp_path):
    conf = settings(monkeypatch, tmp_path, SHIORI_THREADS="6", SHIORI_KEEPALIVE="5")
    assert conf["keepalive"] == 5 and conf["worker_connections"] > conf["threads"]


def test_workers_recycle_rarely_and_not_all_at_once(monkeypatch, tmp_path):
    assert settings(monkeypatch, tmp_path)["max_requests"] >= 10_000
    conf = settings(monkeypatch, tmp_path, SHIORI_MAX_REQUESTS="2000")
    assert conf["max_requests"] == 2000 and conf["max_requests_jitter"] > 0
    assert settings(monkeypatch, tmp_path, SHIORI_MAX_REQUESTS="0")["max_requests"] == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str) -> tuple[bytes, bytes]:
    """Status line and headers of a GET over HTTP/1.1 (which keeps the connection unless told not to)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0]
    status, _, headers = head.partition(b"\r\n")
    return status, headers.lower()


@pytest.fixture
def serve(tmp_path):
    """Start gunicorn with the project's configuration on the demo ILS; yields a function taking extra env."""
    started: list[subprocess.Popen] = []

    def start(**extra: str) -> int:
        port = free_port()
        env = {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_ADAPTER": "demo",
               "PORTAL_DEMO_DATABASE": str(tmp_path / "demo.sqlite3"), "PORTAL_SECRET_KEY": "k" * 32,
               "PORTAL_MAIL_HOST": "", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
               "SHIORI_BIND": f"127.0.0.1:{port}", "SHIORI_WORKERS": "2", "SHIORI_THREADS": "2", **extra}
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(CONF), "app:create_app()"],  # noqa: S603
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            try:
                if http_get(port, "/healthz")[0].split(b" ")[1] == b"200":
                    return port
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not answer /healthz in 60 s")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        process.stdout.close()


def test_gunicorn_serves_the_portal_one_request_per_connection(serve):
    port = serve()
    status, headers = http_get(port, "/login")
    assert status.split(b" ")[1] == b"200"
    assert b"connection: close" in headers  # the next request takes whichever worker is free first


def test_gunicorn_keeps_connections_alive_when_asked(serve):
    port = serve(SHIORI_KEEPALIVE="5")
    status, headers = http_get(port, "/login")
    assert status.split(b" ")[1] == b"200" and b"connection: close" not in headers

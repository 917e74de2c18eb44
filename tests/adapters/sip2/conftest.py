"""Fixtures for SIP2 client tests over real loopback sockets."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import threading

import pytest

from adapters.sip2.settings import Sip2Settings
from tests.adapters.sip2.loopback import LoopbackAcs, wait_until


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def no_leaks():
    """Fail the test if it leaves a thread running or a file descriptor open."""
    threads_before = threading.active_count()
    fds_before = _open_fds()
    yield
    assert wait_until(lambda: threading.active_count() <= threads_before), (
        f"threads leaked: {[t.name for t in threading.enumerate()]}"
    )
    assert wait_until(lambda: _open_fds() <= fds_before), f"fds leaked: {_open_fds()} > {fds_before}"


@pytest.fixture
def acs(no_leaks):
    with LoopbackAcs() as server:
        yield server


def make_settings(port: int, **overrides) -> Sip2Settings:
    """Settings for a loopback ACS with timeouts short enough for fault tests."""
    values = {
        "host": "127.0.0.1",
        "port": port,
        "user": "portal",
        "password": "secret",
        "institution": "LIB",
        "location": "WEB",
        "encoding": "utf-8",
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "pool_timeout": 0.5,
    }
    values.update(overrides)
    return Sip2Settings(**values)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (and localhost), made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
def tls_server_context(tls_files):
    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context

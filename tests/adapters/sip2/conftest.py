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


# --- the SIP2 adapter against the demo ILS's SIP2 server -------------------------------------------

from adapters.demo import DemoAdapter  # noqa: E402
from adapters.demo.sip2_server import DEFAULT_INSTITUTION, DemoSip2Server  # noqa: E402
from adapters.sip2 import Sip2Adapter  # noqa: E402
from tests.adapters.demo import conftest as demo_fixtures  # noqa: E402
from tests.adapters.demo.conftest import UNKNOWN_CARD, DemoControl, credentials  # noqa: E402

# The demo's template-copy fixtures, shared rather than copied: a freshly seeded demo ILS per test.
demo_template = demo_fixtures.demo_template
demo_db = demo_fixtures.demo_db
demo = demo_fixtures.demo

SIP2_USER, SIP2_PASSWORD = "portal", "secret"
UNKNOWN_ITEM = "I9999-9"


def sip2_config(port: int, demo: DemoAdapter | None = None, **overrides) -> dict:
    """The Flask config keys of a portal pointed at a demo SIP2 server on ``port``."""
    config = {
        "SIP2_HOST": "127.0.0.1",
        "SIP2_PORT": port,
        "SIP2_USER": SIP2_USER,
        "SIP2_PASSWORD": SIP2_PASSWORD,
        "SIP2_INSTITUTION": DEFAULT_INSTITUTION,
        "SIP2_ENCODING": "utf-8",
        "SIP2_CONNECT_TIMEOUT": 2,
        "SIP2_READ_TIMEOUT": 5,
    }
    if demo is not None:
        config["SIP2_PICKUP_LOCATIONS"] = [{"id": branch, "name": name} for branch, name in demo.branch_names().items()]
    config.update(overrides)
    return config


#: The settings a library following adapters/sip2/README.md sets for each profile: Evergreen with
#: msg64_hold_datatype and msg64_summary_datatype set to barcode, so loans can be renewed and holds
#: cancelled (the demo server sends barcodes then too).
PROFILE_SETTINGS = {"evergreen": {"SIP2_HOLD_IDS": "barcode", "SIP2_LOAN_IDS": "barcode"}}


@pytest.fixture
def demo_sip2(no_leaks, demo):
    """The demo ILS's SIP2 server on a free port, stopped (every thread joined) after the test; in the
    generic profile (test_contract.py runs every profile)."""
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD) as server:
        yield server


@pytest.fixture
def sip2_adapter(demo_sip2, demo):
    """The adapter set for the profile the server speaks."""
    profile = demo_sip2.acs.profile
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo, SIP2_PROFILE=profile,
                                                  **PROFILE_SETTINGS.get(profile, {})))
    yield adapter
    adapter.close()


# --- the whole portal with ADAPTER="sip2" (test_portal.py, test_pysip2_tool.py) ----------------------

from extensions import db  # noqa: E402


def english_client(app):
    """A test client of ``app`` that asks for English pages."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def close_portal(app) -> None:
    """Close the adapter, and the preference store's connections (no_leaks counts sockets and files)."""
    app.extensions["shiori.adapter"].close()
    with app.app_context():
        db.engine.dispose()


def page(response) -> str:
    return response.get_data(as_text=True)


# --- the fixtures tests/adapters/contract.py asks for ------------------------------------------------


@pytest.fixture
def adapter(sip2_adapter):
    return sip2_adapter


@pytest.fixture
def contract_patrons() -> dict[str, tuple[str, str]]:
    """As the demo's, but "other" is the many-loans reader: over SIP2 a hold's id is the id the ACS
    lists it by (an item id), which two patrons' holds on one title share, and the demo's English
    reader holds only a title the regular patron holds too. Such an id names each patron's own hold."""
    cases = {"regular": "regular", "hold-ready": "hold-ready", "first-login": "first-login",
             "blocked": "blocked", "other": "many-loans"}
    return {case: credentials(demo_case) for case, demo_case in cases.items()}


@pytest.fixture
def contract_ids(demo_template) -> dict[str, str]:
    """Over SIP2 a record is an item: the holdable record is its first copy, on loan."""
    return {"holdable_record": demo_template["item"], "holdable_item": demo_template["item"],
            "unknown_record": UNKNOWN_ITEM, "unknown_card": UNKNOWN_CARD, "query": demo_template["title"]}


@pytest.fixture
def ils_control(demo) -> DemoControl:
    return DemoControl(demo)

"""``flask ils check`` on Koha (``adapters/koha/check.py``): on every release line the fake plays, and
each misconfiguration as one sentence naming the setting to change. Through respx (every request
checked against the release's contract) where no socket is needed; over real loopback sockets for
wrong ports, TLS on one side only, and the command itself."""

from __future__ import annotations

import copy
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest
from werkzeug.serving import make_server

from adapters.check import Verdict
from adapters.demo.koha_server import FakeKoha
from adapters.koha import KohaAdapter
from app import create_app
from tests.adapters.koha.conftest import KOHA_CONFIG, VALIDATING, credentials
from tests.adapters.koha.test_tool import load_tool

API = "/api/v1"
ESTIMATES = {"22.11": "22.11 or earlier", "23.11": "23.11", "24.05": "24.05", "24.11": "24.11 or later",
             "25.05": "24.11 or later", "25.11": "25.11 or later"}


def problems(findings) -> list:
    return [finding for finding in findings if finding.verdict is Verdict.PROBLEM]


def test_a_right_configuration_passes_on_every_release(adapter, koha, fake, koha_version):
    findings = list(adapter.check_connection(*credentials("regular")))
    assert problems(findings) == []
    lines = "\n".join(finding.line() for finding in findings)
    assert f"this is Koha {ESTIMATES[koha_version]}." in lines
    assert "[ok  ] login" in lines and "[ok  ] permissions" in lines and "Logged in as" in lines
    embed = {"22.11": None, "23.11": None, "24.05": "item"}.get(koha_version, "item.biblio")
    assert (f"x-koha-embed: {embed}." in lines) if embed else "GET /checkouts?patron_id=" in lines
    assert koha.contract.violations == []
    # read-only: nothing but GETs, the token and password checks went to Koha
    assert {method for method, _ in koha.requests()} <= {"GET", "POST"}
    assert {path for method, path in koha.requests("POST")} <= {f"{API}/oauth/token", f"{API}/auth/password/validation"}


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_a_wrong_client_secret_names_the_settings(make_adapter, koha):
    adapter = make_adapter({"KOHA_CLIENT_SECRET": "not-the-secret"})
    (problem,) = problems(adapter.check_connection())
    assert problem.topic == "login" and problem.setting == "PORTAL_KOHA_CLIENT_ID, PORTAL_KOHA_CLIENT_SECRET"
    assert "refused the API client's id or secret (403 unauthorized_client)" in problem.text


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_oauth_switched_off_in_koha_names_the_system_preference(adapter, fake):
    fake.prefs["RESTOAuth2ClientCredentials"] = False
    (problem,) = problems(adapter.check_connection())
    assert problem.setting == "RESTOAuth2ClientCredentials" and "enable the system preference" in problem.text


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_basic_credentials_refused_name_the_settings(make_adapter, koha, fake):
    adapter = make_adapter({"KOHA_CLIENT_ID": "", "KOHA_CLIENT_SECRET": "", "KOHA_USER": "shiori-api",
                            "KOHA_PASSWORD": "wrong"})
    (problem,) = problems(adapter.check_connection())
    assert problem.setting == "PORTAL_KOHA_USER, PORTAL_KOHA_PASSWORD"
    fake.prefs["RESTBasicAuth"] = False
    (problem,) = problems(adapter.check_connection())
    assert problem.setting == "RESTBasicAuth"


def test_a_missing_permission_is_named_from_kohas_error_body(adapter, fake):
    fake.revoke("reserveforothers")
    (problem,) = problems(adapter.check_connection())
    assert problem.topic == "permissions" and problem.setting == "Koha permissions of the API client"
    assert problem.text.startswith("The API client may not GET /holds: Koha asks for reserveforothers › place_holds.")
    assert "Set permissions" in problem.text


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_a_missing_circulation_permission_is_named(adapter, fake):
    fake.revoke("circulate")
    (problem,) = problems(adapter.check_connection())
    assert ("GET /patrons/{patron_id}/checkouts: Koha asks for circulate › circulate_remaining_permissions or "
            "circulate › manage_bookings") in problem.text


@pytest.mark.parametrize("koha_version", ["24.05", "25.05", "25.11"])
def test_the_24_05_password_permission_is_named(adapter, fake):
    """24.05.x (bug 36561) checks passwords only for ``borrowers › api_validate_password``: an API client
    set up for 23.11 with edit_borrowers alone can read patrons but no longer log anyone in."""
    fake.staff["shiori-api"]["permissions"]["borrowers"] = {"edit_borrowers", "list_borrowers"}
    (problem,) = problems(adapter.check_connection())
    assert "POST /auth/password/validation" in problem.text and "borrowers › api_validate_password" in problem.text


@pytest.mark.parametrize("koha_version", ["23.11"])
def test_a_koha_version_setting_that_does_not_match_is_a_problem(make_adapter):
    adapter = make_adapter({"KOHA_VERSION": "24.05"})
    (problem,) = problems(adapter.check_connection())
    assert problem.setting == "PORTAL_KOHA_VERSION" and "(Koha 23.11)" in problem.text


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_a_redirect_names_where_to(adapter, koha):
    koha.fail("GET", f"{API}/", httpx.Response(301, headers={"Location": "https://koha.example/api/v1/"}))
    with koha.contract.expecting_violation():
        (problem,) = problems(adapter.check_connection())
    assert problem.setting == "PORTAL_KOHA_URL" and "https://koha.example/api/v1/" in problem.text


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_a_url_that_is_not_koha_says_so(adapter, koha):
    koha.fail("GET", f"{API}/", httpx.Response(404, headers={"Content-Type": "text/html"}, content=b"<html>OPAC"))
    with koha.contract.expecting_violation():
        (problem,) = problems(adapter.check_connection())
    assert problem.setting == "PORTAL_KOHA_URL" and "answered 404 without Koha's API contract" in problem.text


@pytest.mark.parametrize("koha_version", VALIDATING)
def test_a_route_koha_does_not_serve_is_named(adapter, koha, fake):
    served = copy.deepcopy(fake.release.served())
    del served["paths"]["/patrons/{patron_id}/holds"]
    koha.fail("GET", f"{API}/", httpx.Response(200, json=served))
    (problem,) = [finding for finding in problems(adapter.check_connection()) if finding.topic == "routes"]
    assert "does not serve GET /patrons/{patron_id}/holds, which the portal needs to list a patron's holds" in \
        problem.text


# --- real sockets -----------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path) -> Iterator[callable]:
    """Serve a fake Koha on a loopback port (plain, or TLS with a self-signed certificate); yields a
    function returning its port."""
    servers = []

    def serve(version: str = "24.05", tls: bool = False) -> int:
        context = None
        if tls:
            cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                            str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            context = (str(cert), str(key))
        server = make_server("127.0.0.1", 0, load_tool().make_app(FakeKoha(version=version)), threaded=True,
                             ssl_context=context)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.port

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def socket_check(url: str) -> list:
    adapter = KohaAdapter.from_config({**KOHA_CONFIG, "KOHA_URL": url, "KOHA_TIMEOUT": 5})
    try:
        return list(adapter.check_connection())
    finally:
        adapter.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_wrong_port_names_host_and_port():
    port = free_port()
    (problem,) = problems(socket_check(f"http://127.0.0.1:{port}"))
    assert problem.text == (f"Nothing accepts connections at 127.0.0.1:{port}: check the host and port in "
                            "PORTAL_KOHA_URL.") and problem.setting == "PORTAL_KOHA_URL"


def test_https_to_a_plain_http_port_is_a_tls_mismatch(served):
    port = served()
    (problem,) = problems(socket_check(f"https://127.0.0.1:{port}"))
    assert f"127.0.0.1:{port} does not speak TLS: PORTAL_KOHA_URL says https://" in problem.text


def test_http_to_a_tls_port_is_a_tls_mismatch(served):
    port = served(tls=True)
    (problem,) = problems(socket_check(f"http://127.0.0.1:{port}"))
    assert problem.setting == "PORTAL_KOHA_URL"
    assert "https" in problem.text and f"127.0.0.1:{port}" in problem.text


def test_an_untrusted_certificate_is_named(served):
    port = served(tls=True)
    (problem,) = problems(socket_check(f"https://127.0.0.1:{port}"))
    assert "TLS certificate" in problem.text and "was not accepted" in problem.text


@pytest.mark.parametrize("version", ["23.11", "24.05", "25.11"])
def test_the_command_against_a_fake_koha_over_http(served, tmp_path, version):
    port = served(version)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path), "ADAPTER": "koha",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
                      **{**KOHA_CONFIG, "KOHA_URL": f"http://127.0.0.1:{port}"}})
    card, password = credentials("hold-ready")
    result = app.test_cli_runner().invoke(args=["ils", "check", "--card", card], input=f"{password}\n")
    assert result.exit_code == 0, result.output
    assert "adapter: koha" in result.output and f"this is Koha {ESTIMATES[version]}." in result.output
    assert "高橋" not in result.output and "the portal shows it as ready" in result.output
    assert "all checks passed" in result.output
    assert password not in result.output  # asked for without echo, never printed

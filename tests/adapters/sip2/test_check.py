"""``flask ils check`` over SIP2: against the demo SIP2 server in each profile, and against servers
answering each misconfiguration (real loopback sockets). Every problem names the setting to change."""

from __future__ import annotations

import socket

import pytest

from adapters.check import Verdict
from adapters.demo.sip2_server import PROFILES, DemoSip2Server
from adapters.sip2 import Sip2Adapter
from app import create_app
from tests.adapters.sip2.conftest import (
    PROFILE_SETTINGS,
    SIP2_PASSWORD,
    SIP2_USER,
    close_portal,
    credentials,
    sip2_config,
)
from tests.adapters.sip2.loopback import STANDARD_REPLIES, LoopbackAcs, corrupt_checksum, reply_to
from tests.adapters.sip2.test_connection import scripted


def findings(config: dict, card: str | None = None, password: str | None = None) -> list:
    adapter = Sip2Adapter.from_config(config)
    try:
        return list(adapter.check_connection(card, password))
    finally:
        adapter.close()


def problems(found) -> list[tuple[str, str | None]]:
    return [(finding.topic, finding.setting) for finding in found if finding.verdict is Verdict.PROBLEM]


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_checks_clean_and_reads_one_patron_without_changing_anything(no_leaks, demo, profile):
    card, password = credentials("hold-ready")
    before = (demo.loans(demo.authenticate(card, password).key), demo.holds(demo.authenticate(card, password).key))
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD, profile=profile) as server:
        commands: list[str] = []
        respond = server.acs.respond
        server.acs.respond = lambda request: commands.append(request.command) or respond(request)
        found = findings(sip2_config(server.port, demo, SIP2_PROFILE=profile, **PROFILE_SETTINGS.get(profile, {})),
                         card, password)
    assert problems(found) == []
    text = "\n".join(finding.line() for finding in found)
    assert f"SIP2_PROFILE={profile}" in text and "Login (93) accepted" in text and "BX YN" in text
    assert "the portal shows it as ready, because" in text
    assert set(commands) <= {"99", "63", "17", "35"}, "the check only reads"
    after = (demo.loans(demo.authenticate(card, password).key), demo.holds(demo.authenticate(card, password).key))
    assert after == before


def test_the_recall_flag_is_listed_with_its_consequence_under_evergreen(no_leaks, demo):
    card, password = credentials("regular")
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD, profile="evergreen") as server:
        found = findings(sip2_config(server.port, demo, SIP2_PROFILE="evergreen"), card, password)
    lines = [finding.text for finding in found if finding.topic == "flag"]
    assert lines == ["recall_privileges_denied: the patron cannot recall items; the portal does not recall, so "
                     "nothing is shown (the profile ignores it: the server sets it for every patron)."]
    assert not [finding for finding in found if finding.topic == "block"]


def test_wrong_port(no_leaks):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    assert problems(findings(sip2_config(port))) == [("reachable", "SIP2_PORT")]


def test_tls_asked_of_a_plain_server(no_leaks, demo):
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD) as server:
        assert problems(findings(sip2_config(server.port, SIP2_TLS=True, SIP2_TLS_VERIFY=False))) == [
            ("tls", "SIP2_TLS")]


def test_plain_asked_of_a_tls_server(acs_tls):
    assert problems(findings(sip2_config(acs_tls.port, SIP2_READ_TIMEOUT=1))) == [("tls", "SIP2_TLS")]


@pytest.fixture
def acs_tls(no_leaks, tls_server_context):
    with LoopbackAcs(ssl_context=tls_server_context) as server:
        yield server


def test_login_refused(no_leaks, demo):
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD) as server:
        found = findings(sip2_config(server.port, SIP2_PASSWORD="wrong"))
    assert problems(found) == [("login", "SIP2_PASSWORD")]
    assert "940" in next(finding.text for finding in found if finding.topic == "login")


def test_bad_checksum(no_leaks):
    def bad_login(request, session, nth):
        return [corrupt_checksum(reply_to(request, STANDARD_REPLIES[b"93"]))]

    with LoopbackAcs(scripted({b"93": bad_login})) as acs:
        assert problems(findings(sip2_config(acs.port, SIP2_READ_TIMEOUT=1))) == [
            ("checksum", "SIP2_ERROR_DETECTION")]


def test_wrong_encoding_seen_as_undecodable_bytes(no_leaks, demo):
    card, password = credentials("regular")
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD, encoding="cp932") as server:
        found = findings(sip2_config(server.port, demo), card, password)
    assert ("encoding", "SIP2_ENCODING") in problems(found)


def test_the_cli_exits_1_and_names_the_setting(no_leaks, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}", "ADAPTER": "sip2",
                      **sip2_config(port)})
    result = app.test_cli_runner().invoke(args=["ils", "check"])
    assert result.exit_code == 1
    assert "[FAIL] reachable" in result.output and "(setting: SIP2_PORT)" in result.output
    close_portal(app)


def test_an_untrusted_certificate_names_the_ca_setting(acs_tls, tls_files):
    assert problems(findings(sip2_config(acs_tls.port, SIP2_TLS=True))) == [("tls", "SIP2_CA_FILE")]
    cert, _ = tls_files
    found = findings(sip2_config(acs_tls.port, SIP2_TLS=True, SIP2_CA_FILE=str(cert)))
    assert problems(found) == [] and any(finding.topic == "tls" and "verified" in finding.text for finding in found)

"""Sip2Connection over real loopback sockets, against the scriptable ACS in loopback.py.

Every test runs under ``no_leaks`` (via the ``acs`` fixture or directly): a thread or socket
left behind fails it. Timeouts are a fraction of a second so each test takes well under a few.
"""

from __future__ import annotations

import socket
import time

import pytest

from adapters.sip2.builders import (
    item_information_request,
    patron_information_request,
    renew_request,
)
from adapters.sip2.codec import Message
from adapters.sip2.connection import Sip2Connection
from adapters.sip2.errors import (
    Sip2LoginRefused,
    Sip2OutcomeUnknown,
    Sip2ProtocolError,
    Sip2Timeout,
    Sip2Unavailable,
    UnsafeFieldValue,
)
from adapters.sip2.responses import parse_item_information, parse_patron_information, parse_renew_response
from tests.adapters.sip2.conftest import make_settings
from tests.adapters.sip2.loopback import (
    CLOSE,
    STANDARD_REPLIES,
    LoopbackAcs,
    Raw,
    Sleep,
    corrupt_checksum,
    reply_to,
    sequence_of,
    sip_checksum,
    standard_acs,
)

pytestmark = pytest.mark.usefixtures("no_leaks")


def patron_info(conn: Sip2Connection):
    return parse_patron_information(conn.transact(patron_information_request("LIB", "1001", "1234", summary="charged")))


def scripted(overrides):
    """A responder that answers command ``c`` with ``overrides[c](request, session, nth)``
    (nth counts that command's requests over all sessions from 1) and the standard ACS
    otherwise."""
    counts: dict[bytes, int] = {}

    def respond(request, session):
        command = request[:2]
        if command not in overrides:
            return standard_acs(request, session)
        counts[command] = counts.get(command, 0) + 1
        return overrides[command](request, session, counts[command])

    return respond


def good_64(request):
    return reply_to(request, STANDARD_REPLIES[b"63"])


# -- the happy path --------------------------------------------------------------------


def test_open_logs_in_then_asks_status(acs):
    with Sip2Connection(make_settings(acs.port)) as conn:
        status = conn.open()
    assert status.online and "hold" in status.supported
    login, sc_status = acs.frames()
    assert login.startswith(b"9300CNportal|COsecret|CPWEB|AY0AZ")
    assert sc_status.startswith(b"9900002.00AY1AZ")
    for frame in (login, sc_status):  # verified with the loopback's own checksum code
        assert sip_checksum(frame[:-4]) == frame[-4:]


def test_patron_information_round_trip(acs):
    with Sip2Connection(make_settings(acs.port)) as conn:
        info = patron_info(conn)
    assert info.charged_items == ["item-1", "item-2"]
    assert info.valid_patron and info.valid_patron_password
    assert acs.sessions == 1


def test_sequence_numbers_count_and_wrap(acs):
    with Sip2Connection(make_settings(acs.port)) as conn:
        for _ in range(11):
            conn.transact(item_information_request("LIB", "item-1"))
    assert [sequence_of(frame) for frame in acs.frames()] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]


def test_error_detection_off_sends_no_trailer(acs):
    with Sip2Connection(make_settings(acs.port, error_detection=False)) as conn:
        assert patron_info(conn).personal_name == "Ada Lovelace"
    assert all(b"AY" not in frame and b"AZ" not in frame for frame in acs.frames())


def test_crlf_terminators_both_ways():
    with (
        LoopbackAcs(terminator=b"\r\n") as koha_like,
        Sip2Connection(make_settings(koha_like.port, terminator="\r\n")) as conn,
    ):
        for _ in range(3):
            assert patron_info(conn).charged_items_count == 2
        assert koha_like.sessions == 1  # the trailing LFs never looked like a dead connection


def test_no_login_when_no_user(acs):
    with Sip2Connection(make_settings(acs.port, user="", password="")) as conn:
        conn.open()
    assert [frame[:2] for frame in acs.frames()] == [b"99"]


def test_shift_jis_title_over_the_wire():
    title = "ポスター展"

    def reply(request, session, nth):
        return [
            reply_to(
                request,
                b"1803000120250825    143000ABp-1|AJ" + title.encode("cp932") + b"|AQ" + "本館".encode("cp932") + b"|",
            )
        ]

    with (
        LoopbackAcs(scripted({b"17": reply})) as server,
        Sip2Connection(make_settings(server.port, encoding="cp932")) as conn,
    ):
        item = parse_item_information(conn.transact(item_information_request("LIB", "p-1")))
    assert (item.title, item.permanent_location) == (title, "本館")


def test_tls(tls_files, tls_server_context):
    cert, _ = tls_files
    with LoopbackAcs(ssl_context=tls_server_context) as server:
        with Sip2Connection(make_settings(server.port, tls=True, ca_file=str(cert))) as conn:
            assert patron_info(conn).personal_name == "Ada Lovelace"
        with pytest.raises(Sip2Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
            Sip2Connection(make_settings(server.port, tls=True)).open()
        with pytest.raises(Sip2Unavailable):  # plain text to a TLS port: the handshake fails
            Sip2Connection(make_settings(server.port)).open()


# -- error detection ---------------------------------------------------------------------


def corrupted_64(request, session, nth):
    session.state["request"] = request
    return [corrupt_checksum(good_64(request))]


def test_bad_checksum_twice_is_recovered_by_resend_requests():
    def resend(request, session, nth):
        reply = good_64(session.state["request"])
        return [corrupt_checksum(reply)] if nth == 1 else [reply]

    with (
        LoopbackAcs(scripted({b"63": corrupted_64, b"97": resend})) as server,
        Sip2Connection(make_settings(server.port, resend_limit=2)) as conn,
    ):
        assert patron_info(conn).personal_name == "Ada Lovelace"
        assert server.frames(b"97") == [b"97AZFEF5", b"97AZFEF5"]
        assert server.sessions == 1


def test_bad_checksum_beyond_the_resend_limit_fails_cleanly():
    def resend(request, session, nth):
        return [corrupt_checksum(good_64(session.state["request"]))]

    with LoopbackAcs(scripted({b"63": corrupted_64, b"97": resend})) as server:
        conn = Sip2Connection(make_settings(server.port, resend_limit=1))
        with pytest.raises(Sip2ProtocolError, match="checksum"):
            patron_info(conn)
        assert not conn.is_open
        assert server.frames(b"97") == [b"97AZFEF5"]


def test_request_sc_resend_makes_us_repeat_the_same_frame():
    def reply(request, session, nth):
        return [b"96AZFEF6"] if nth == 1 else [good_64(request)]

    with LoopbackAcs(scripted({b"63": reply})) as server, Sip2Connection(make_settings(server.port)) as conn:
        assert patron_info(conn).charged_items_count == 2
        first, second = server.frames(b"63")
        assert first == second  # same AY: it is a resend, not a new request


def test_96_in_answer_to_our_97_is_a_failure():
    def resend(request, session, nth):
        return [b"96AZFEF6"]

    with LoopbackAcs(scripted({b"63": corrupted_64, b"97": resend})) as server:
        conn = Sip2Connection(make_settings(server.port))
        with pytest.raises(Sip2ProtocolError, match="96"):
            patron_info(conn)
        assert not conn.is_open


def test_resent_reply_without_trailer_is_accepted():
    """Evergreen answers 97 with the last reply stripped of AY/AZ."""

    def resend(request, session, nth):
        return [STANDARD_REPLIES[b"63"]]

    with (
        LoopbackAcs(scripted({b"63": corrupted_64, b"97": resend})) as server,
        Sip2Connection(make_settings(server.port)) as conn,
    ):
        assert patron_info(conn).personal_name == "Ada Lovelace"


def test_reply_with_a_foreign_sequence_number_is_discarded():
    def reply(request, session, nth):
        stale_sequence = (sequence_of(request) + 5) % 10
        stale = reply_to(b"AY%dAZ0000" % stale_sequence, STANDARD_REPLIES[b"63"].replace(b"Ada Lovelace", b"Stale"))
        return [stale, good_64(request)]

    with LoopbackAcs(scripted({b"63": reply})) as server, Sip2Connection(make_settings(server.port)) as conn:
        assert patron_info(conn).personal_name == "Ada Lovelace"


def test_reply_of_the_wrong_command_is_a_protocol_error():
    def reply(request, session, nth):
        return [reply_to(request, b"941")]

    with LoopbackAcs(scripted({b"63": reply})) as server:
        conn = Sip2Connection(make_settings(server.port))
        with pytest.raises(Sip2ProtocolError, match="expected a 64"):
            patron_info(conn)
        assert not conn.is_open


# -- faults ------------------------------------------------------------------------------


def test_server_closing_mid_message_is_recovered_by_one_reopen():
    def reply(request, session, nth):
        return [Raw(good_64(request)[:30]), CLOSE] if nth == 1 else [good_64(request)]

    with LoopbackAcs(scripted({b"63": reply})) as server, Sip2Connection(make_settings(server.port)) as conn:
        assert patron_info(conn).charged_items == ["item-1", "item-2"]
        assert server.sessions == 2
        assert [frame[:2] for frame in server.frames()] == [b"93", b"99", b"63", b"93", b"99", b"63"]


def test_server_closing_mid_message_twice_means_unavailable():
    def reply(request, session, nth):
        return [Raw(good_64(request)[:30]), CLOSE]

    with LoopbackAcs(scripted({b"63": reply})) as server:
        conn = Sip2Connection(make_settings(server.port))
        with pytest.raises(Sip2Unavailable, match="lost again"):
            patron_info(conn)
        assert server.sessions == 2  # reopened exactly once
        assert not conn.is_open


def test_state_changing_request_is_never_resent_blindly():
    def reply(request, session, nth):
        return [CLOSE]

    with LoopbackAcs(scripted({b"29": reply})) as server:
        conn = Sip2Connection(make_settings(server.port))
        with pytest.raises(Sip2OutcomeUnknown):
            conn.transact(renew_request("LIB", "1001", item_id="item-1"))
        assert len(server.frames(b"29")) == 1
        assert not conn.is_open


def test_garbage_reply_is_a_protocol_error_and_closes():
    def reply(request, session, nth):
        return [Raw(b"\x00\xff\xfe garbage \x1b[0m\r")]

    with LoopbackAcs(scripted({b"63": reply})) as server:
        conn = Sip2Connection(make_settings(server.port))
        with pytest.raises(Sip2ProtocolError):
            patron_info(conn)
        assert not conn.is_open


def test_reply_over_the_size_cap_is_refused_without_waiting_for_its_end():
    def reply(request, session, nth):
        return [Raw(b"64" + b"x" * 20000)]

    with LoopbackAcs(scripted({b"63": reply})) as server:
        conn = Sip2Connection(make_settings(server.port, max_message_size=4096, read_timeout=5))
        started = time.monotonic()
        with pytest.raises(Sip2ProtocolError, match="longer than 4096"):
            patron_info(conn)
        assert time.monotonic() - started < 2


def test_answer_slower_than_read_timeout_times_out_then_recovers():
    def reply(request, session, nth):
        return [Sleep(1.5), good_64(request)] if nth == 1 else [good_64(request)]

    with LoopbackAcs(scripted({b"63": reply})) as server:
        conn = Sip2Connection(make_settings(server.port, read_timeout=0.2))
        started = time.monotonic()
        with pytest.raises(Sip2Timeout):
            patron_info(conn)
        assert time.monotonic() - started < 1.0
        assert not conn.is_open  # a late reply must never be read as the next one
        assert patron_info(conn).personal_name == "Ada Lovelace"
        conn.close()


def test_server_restart_between_requests_is_survived(no_leaks):
    first = LoopbackAcs()
    first.start()
    port = first.port
    conn = Sip2Connection(make_settings(port))
    try:
        patron_info(conn)
        first.stop()
        with LoopbackAcs(port=port) as second:
            assert patron_info(conn).personal_name == "Ada Lovelace"
            assert [frame[:2] for frame in second.frames()] == [b"93", b"99", b"63"]
    finally:
        first.stop()
        conn.close()


def test_login_refused():
    def refuse(request, session, nth):
        return [reply_to(request, b"940"), CLOSE]

    with LoopbackAcs(scripted({b"93": refuse})) as server:
        conn = Sip2Connection(make_settings(server.port))
        with pytest.raises(Sip2LoginRefused):
            conn.open()
        assert not conn.is_open


def test_acs_reporting_offline_is_unavailable():
    def offline(request, session, nth):
        return [reply_to(request, STANDARD_REPLIES[b"99"].replace(b"98YYYYNN", b"98NYYYNN", 1))]

    with LoopbackAcs(scripted({b"99": offline})) as server, pytest.raises(Sip2Unavailable, match="off-line"):
        Sip2Connection(make_settings(server.port)).open()


def test_silent_acs_times_out_during_login():
    def silent(request, session, nth):
        return []

    with LoopbackAcs(scripted({b"93": silent})) as server:
        conn = Sip2Connection(make_settings(server.port, read_timeout=0.2))
        with pytest.raises(Sip2Timeout):
            conn.open()
        assert not conn.is_open


def test_nobody_listening_is_unavailable_quickly():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    started = time.monotonic()
    with pytest.raises(Sip2Unavailable, match="cannot connect"):
        Sip2Connection(make_settings(port)).open()
    assert time.monotonic() - started < 1.5


def test_connect_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    filler = socket.create_connection(listener.getsockname())  # fills the accept queue: later SYNs are dropped
    try:
        started = time.monotonic()
        with pytest.raises(Sip2Timeout, match="connect timeout"):
            Sip2Connection(make_settings(listener.getsockname()[1], connect_timeout=0.2)).open()
        assert time.monotonic() - started < 1.0
    finally:
        filler.close()
        listener.close()


def test_unsafe_value_sends_nothing(acs):
    conn = Sip2Connection(make_settings(acs.port, encoding="ascii"))
    message = Message("17", {"transaction_date": "20250825    143000"}, (("AO", "LIB"), ("AB", "café")))
    with pytest.raises(UnsafeFieldValue):
        conn.transact(message)
    assert acs.frames() == []
    assert not conn.is_open


def test_non_request_is_refused(acs):
    with pytest.raises(ValueError, match="not a request"):
        Sip2Connection(make_settings(acs.port)).transact(Message("97"))


def test_renew_round_trip_uses_due_date(acs):
    with Sip2Connection(make_settings(acs.port)) as conn:
        result = parse_renew_response(conn.transact(renew_request("LIB", "1001", item_id="item-1")))
    assert result.ok and result.due_date_raw == "20250915    235900"
    (frame,) = acs.frames(b"29")
    assert frame[4:22] == frame[22:40]  # nb due date == transaction date, never blank

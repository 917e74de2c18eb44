"""The client against pysip2's SIP2Server, an ACS nobody on this project wrote.

pysip2 is stricter than real ILSs (README §2.1): it closes the connection on a blank nb due
date, a missing final ``|``, a ``|`` after 99's fixed part or a 23 without AC. Passing here
shows our frames are spec-clean. The server runs on an AnyIO blocking portal thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from pysip2 import (
    END_PATRON_SESSION,
    HOLD,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    PATRON_STATUS,
    RENEW,
    RENEW_ALL,
    EndSessionResponse,
    HoldResponse,
    ItemInformationResponse,
    LoginResponse,
    PatronInformationResponse,
    PatronStatusResponse,
    RenewAllResponse,
    RenewResponse,
    SIP2Server,
)

from adapters.sip2 import builders
from adapters.sip2.connection import Sip2Connection
from adapters.sip2.errors import Sip2LoginRefused, Sip2ProtocolError, Sip2Timeout
from adapters.sip2.pool import Sip2ConnectionPool
from adapters.sip2.responses import (
    parse_end_session_response,
    parse_hold_response,
    parse_item_information,
    parse_patron_information,
    parse_patron_status,
    parse_renew_all_response,
    parse_renew_response,
)
from tests.adapters.sip2.conftest import make_settings
from tools.pysip2_acs import serving

pytestmark = pytest.mark.usefixtures("no_leaks")

NOW = "20250825    143000"
PATRONS = {"1001": ("1234", "Ada Lovelace")}
POSTER = "ポスター展"  # ポ is 0x83 0x7C in Shift_JIS: a '|' byte inside the title


def build_acs(encoding: str = "utf-8") -> tuple[SIP2Server, list]:
    """pysip2's server with canned answers for LIB's one patron; also returns the list of every
    request it decoded, in order, for tests to check what our client sent."""
    server = SIP2Server(login_required=True, institution_id="LIB", encoding=encoding, library_name="Test")
    seen: list = []

    def answers(route) -> Callable:
        """Register ``handler(request) -> response`` for ``route``, keeping each request in ``seen``."""

        def register(handler: Callable) -> Callable:
            async def recorded(request, ctx):
                seen.append(request)
                return handler(request)

            server.route(route)(recorded)
            return handler

        return register

    @answers(LOGIN)
    def login(request):
        ok = (request.login_user_id, request.login_password) == ("portal", "secret")
        return LoginResponse(ok="1" if ok else "0")

    @answers(PATRON_INFORMATION)
    def patron_information(request):
        pin, name = PATRONS.get(request.patron_identifier, (None, ""))
        charged = ("item-1", "item-2", "item-3")
        start, end = int(request.start_item or 1), int(request.end_item or len(charged))
        return PatronInformationResponse(
            patron_status=" " * 14,
            language="000",
            transaction_date=NOW,
            hold_items_count="0000",
            overdue_items_count="0000",
            charged_items_count="0003",
            fine_items_count="0000",
            recall_items_count="0000",
            unavailable_holds_count="    ",
            institution_id="LIB",
            patron_identifier=request.patron_identifier,
            personal_name=name,
            valid_patron="Y" if pin else "N",
            valid_patron_password="Y" if pin is not None and request.patron_password == pin else "N",
            charged_items=charged[start - 1 : end] if request.summary[2] == "Y" else (),
        )

    @answers(PATRON_STATUS)
    def patron_status(request):
        return PatronStatusResponse(
            patron_status=" " * 14,
            language="000",
            transaction_date=NOW,
            institution_id="LIB",
            patron_identifier=request.patron_identifier,
            personal_name="Ada Lovelace",
            valid_patron="Y",
            valid_patron_password="Y",
        )

    @answers(ITEM_INFORMATION)
    def item_information(request):
        return ItemInformationResponse(
            circulation_status="04",
            security_marker="00",
            fee_type="01",
            transaction_date=NOW,
            due_date="20250901    235900",
            item_identifier=request.item_identifier,
            title_identifier=POSTER,
            permanent_location="本館",
        )

    @answers(RENEW)
    def renew(request):
        return RenewResponse(
            ok="1",
            renewal_ok="Y",
            magnetic_media="N",
            desensitize="N",
            transaction_date=NOW,
            institution_id="LIB",
            patron_identifier=request.patron_identifier,
            item_identifier=request.item_identifier or "",
            title_identifier="A Title",
            due_date="2025-09-15",
        )

    @answers(RENEW_ALL)
    def renew_all(request):
        return RenewAllResponse(
            ok="1",
            renewed_count="0001",
            unrenewed_count="0001",
            transaction_date=NOW,
            institution_id="LIB",
            renewed_items=("item-1",),
            unrenewed_items=("item-2 too many renewals",),
        )

    @answers(END_PATRON_SESSION)
    def end_session(request):
        return EndSessionResponse(
            end_session="Y", transaction_date=NOW, institution_id="LIB", patron_identifier=request.patron_identifier
        )

    @answers(HOLD)
    def hold(request):
        return HoldResponse(
            ok="1",
            available="N",
            transaction_date=NOW,
            queue_position="2",
            pickup_location=request.pickup_location,
            institution_id="LIB",
            patron_identifier=request.patron_identifier,
            item_identifier=request.item_identifier,
        )

    return server, seen


# ``with serving(server) as port``, under the name test_pysip2_adapter.py imports: the tool's own way to
# serve pysip2 on 127.0.0.1 from a thread, which also closes the listening socket pysip2 0.1.0 leaves
# to the garbage collector (no_leaks would see it).
RunningAcs = serving


@pytest.mark.parametrize("error_detection", [True, False], ids=["AY-AZ", "no-error-detection"])
def test_login_status_and_patron_information(error_detection):
    server, seen = build_acs()
    with serving(server) as port, Sip2Connection(make_settings(port, error_detection=error_detection)) as conn:
        status = conn.open()
        info = parse_patron_information(
            conn.transact(builders.patron_information_request("LIB", "1001", "1234", summary="charged"))
        )
    assert status.online and status.institution_id == "LIB"
    assert "patron_information" in status.supported and "checkout" not in status.supported
    assert (info.valid_patron, info.valid_patron_password, info.personal_name) == (True, True, "Ada Lovelace")
    assert info.charged_items == ["item-1", "item-2", "item-3"]
    assert info.unavailable_holds_count is None
    assert seen[0].location_code == "WEB"


def test_paging_wrong_password_and_every_other_request():
    server, seen = build_acs()
    with serving(server) as port, Sip2Connection(make_settings(port)) as conn:
        page = parse_patron_information(
            conn.transact(
                builders.patron_information_request("LIB", "1001", "1234", summary="charged", start_item=2, end_item=3)
            )
        )
        wrong = parse_patron_information(conn.transact(builders.patron_information_request("LIB", "1001", "9999")))
        status = parse_patron_status(conn.transact(builders.patron_status_request("LIB", "1001", "1234")))
        renewed = parse_renew_response(conn.transact(builders.renew_request("LIB", "1001", item_id="item-1")))
        renew_all = parse_renew_all_response(conn.transact(builders.renew_all_request("LIB", "1001", "1234")))
        expiry = datetime(2025, 12, 31, 23, 59)
        hold = parse_hold_response(
            conn.transact(
                builders.hold_request(
                    "+",
                    "LIB",
                    "1001",
                    item_id="item-9",
                    pickup_location="Main",
                    hold_type="2",
                    expiration=expiry,
                )
            )
        )
        hold_request = seen[-1]
        ended = parse_end_session_response(conn.transact(builders.end_patron_session_request("LIB", "1001", "1234")))
    assert page.charged_items == ["item-2", "item-3"]
    assert (wrong.valid_patron, wrong.valid_patron_password) == (True, False)
    assert status.valid_patron_password is True
    assert renewed.ok and renewed.due_date == datetime(2025, 9, 15).date()
    renew_request = next(request for request in seen if type(request).__name__ == "RenewRequest")
    assert renew_request.nb_due_date == renew_request.transaction_date
    assert (renew_all.renewed_items, renew_all.unrenewed_items) == (["item-1"], ["item-2 too many renewals"])
    assert (hold.ok, hold.queue_position, hold.pickup_location) == (True, 2, "Main")
    assert (hold_request.hold_type, hold_request.expiration_date) == ("2", "20251231    235900")
    assert ended.ended


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932"])
def test_shift_jis_reply_with_0x7c_trail_byte(encoding):
    server, _ = build_acs(encoding)
    with serving(server) as port, Sip2Connection(make_settings(port, encoding=encoding)) as conn:
        item = parse_item_information(conn.transact(builders.item_information_request("LIB", "p-1")))
    assert (item.title, item.permanent_location, item.circulation_status) == (POSTER, "本館", "04")


@pytest.mark.parametrize(
    ("error_detection", "failure"),
    [(True, Sip2ProtocolError), (False, Sip2Timeout)],
    ids=["AY-AZ: 96 forever", "no error detection: request dropped"],
)
def test_crlf_terminator_breaks_pysip2_and_fails_cleanly(error_detection, failure):
    """pysip2 keeps our LF as the first byte of the next request: with a checksum that
    request fails verification (96, every time); without, '\n9' is an unknown command it
    ignores. CR, the default, is the right setting; CRLF is for ACSs such as Koha's."""
    server, _ = build_acs()
    with serving(server) as port:
        settings = make_settings(port, terminator="\r\n", error_detection=error_detection, read_timeout=0.3)
        conn = Sip2Connection(settings)
        with pytest.raises(failure):
            conn.open()  # 93 is the first frame and passes; 99 is the one that starts with LF
        assert not conn.is_open


def test_wrong_sip_credentials():
    server, _ = build_acs()
    with serving(server) as port:
        conn = Sip2Connection(make_settings(port, password="wrong"))
        with pytest.raises(Sip2LoginRefused):
            conn.open()
        assert not conn.is_open


def test_pool_of_sessions_against_pysip2():
    server, seen = build_acs()
    with serving(server) as port:
        pool = Sip2ConnectionPool(make_settings(port, pool_size=3))
        all_holding = threading.Barrier(3, timeout=3)
        errors: list[BaseException] = []

        def use():
            try:
                with pool.connection() as conn:
                    conn.transact(builders.patron_information_request("LIB", "1001", "1234"))
                    all_holding.wait()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=use) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5)
        pool.close()
    assert errors == []
    assert sum(type(request).__name__ == "LoginRequest" for request in seen) == 3

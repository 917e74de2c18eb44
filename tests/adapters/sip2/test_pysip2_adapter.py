"""Sip2Adapter against pysip2's SIP2Server with in-memory handlers of ours: an ACS nobody on this
project wrote, stricter than real ILSs (it drops a connection on any frame that bends the spec).
Its BX comes from the routes registered, so an ACS without hold support is one route fewer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from pysip2 import (
    END_PATRON_SESSION,
    HOLD,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    RENEW,
    RENEW_ALL,
    EndSessionResponse,
    HoldResponse,
    ItemInformationResponse,
    LoginResponse,
    PatronInformationResponse,
    RenewAllResponse,
    RenewResponse,
    SIP2Server,
)

from adapters.errors import AuthenticationFailed, Refused
from adapters.models import Capability, HoldRequest, HoldStatus, Reason
from adapters.sip2 import Sip2Adapter
from tools.pysip2_acs import serving

pytestmark = pytest.mark.usefixtures("no_leaks")

NOW = "20250825    143000"
CARD, PIN = "1001", "1234"


@dataclass
class Library:
    """The in-memory ILS behind the pysip2 handlers."""

    titles: dict[str, str] = field(default_factory=lambda: {
        "b-1": "吾輩は猫である", "b-2": "ポスター展の記録", "b-3": "Moby Dick", "b-4": "雪国", "b-5": "草枕"})
    due: dict[str, str] = field(default_factory=lambda: {
        "b-1": "20250828    235900", "b-2": "2025-09-10", "b-3": "5/23/2025,23:59"})
    renewals: dict[str, int] = field(default_factory=lambda: {"b-1": 0, "b-2": 0, "b-3": 1})
    ready: list[str] = field(default_factory=lambda: ["b-4"])
    waiting: list[str] = field(default_factory=list)
    requests: list = field(default_factory=list)

    def renew(self, item: str) -> bool:
        if self.renewals.get(item, 9) >= 1:
            return False
        self.renewals[item] += 1
        self.due[item] = "20250915    235900"
        return True


def build(library: Library, *, holds: bool = True) -> SIP2Server:
    server = SIP2Server(login_required=True, institution_id="LIB", encoding="utf-8", library_name="pysip2")

    @server.route(LOGIN)
    async def login(request, ctx):
        return LoginResponse(ok="1" if (request.login_user_id, request.login_password) == ("portal", "secret") else "0")

    @server.route(PATRON_INFORMATION)
    async def patron_information(request, ctx):
        library.requests.append(request)
        known = request.patron_identifier == CARD
        lists = {2: tuple(library.due), 0: tuple(library.ready), 5: tuple(library.waiting)}
        chosen = request.summary.find("Y")
        values = lists.get(chosen, ())
        start, end = int(request.start_item or 1), int(request.end_item or len(values))
        page = values[start - 1 : end]
        password_ok = None if request.patron_password is None else ("Y" if request.patron_password == PIN else "N")
        return PatronInformationResponse(
            patron_status=" " * 14, language="014", transaction_date=NOW,
            hold_items_count=f"{len(library.ready):04d}", overdue_items_count="0000",
            charged_items_count=f"{len(library.due):04d}", fine_items_count="0000", recall_items_count="0000",
            unavailable_holds_count=f"{len(library.waiting):04d}", institution_id="LIB",
            patron_identifier=request.patron_identifier, personal_name="夏目 漱石" if known else "",
            valid_patron="Y" if known else "N", valid_patron_password=password_ok if known else "N",
            currency_type="JPY", fee_amount="300",
            charged_items=page if chosen == 2 else (), hold_items=page if chosen == 0 else (),
            unavailable_hold_items=page if chosen == 5 else (),
        )

    @server.route(ITEM_INFORMATION)
    async def item_information(request, ctx):
        item = request.item_identifier
        if item not in library.titles:
            return ItemInformationResponse(circulation_status="01", security_marker="00", fee_type="01",
                                           transaction_date=NOW, item_identifier=item, title_identifier="")
        status = "08" if item in library.ready else "04" if item in library.due else "03"
        return ItemInformationResponse(
            circulation_status=status, security_marker="00", fee_type="01", transaction_date=NOW,
            due_date=library.due.get(item), hold_pickup_date="20250901    235900" if status == "08" else None,
            item_identifier=item, title_identifier=library.titles[item],
        )

    @server.route(RENEW)
    async def renew(request, ctx):
        library.requests.append(request)
        item = request.item_identifier
        ok = item in library.due and library.renew(item)
        return RenewResponse(
            ok="1" if ok else "0", renewal_ok="Y" if ok else "N", magnetic_media="N", desensitize="N",
            transaction_date=NOW, institution_id="LIB", patron_identifier=request.patron_identifier,
            item_identifier=item, title_identifier=library.titles.get(item, ""),
            due_date=library.due.get(item, "") if ok else "",
            screen_message=() if ok else ("Item has reached maximum renewals",),
        )

    @server.route(RENEW_ALL)
    async def renew_all(request, ctx):
        library.requests.append(request)
        results = {item: library.renew(item) for item in list(library.due)}
        renewed = tuple(item for item, ok in results.items() if ok)
        unrenewed = tuple(item for item, ok in results.items() if not ok)  # barcodes only, as Koha
        return RenewAllResponse(ok="1", renewed_count=f"{len(renewed):04d}", unrenewed_count=f"{len(unrenewed):04d}",
                                transaction_date=NOW, institution_id="LIB", renewed_items=renewed,
                                unrenewed_items=unrenewed)

    @server.route(END_PATRON_SESSION)
    async def end_session(request, ctx):
        library.requests.append(request)
        return EndSessionResponse(end_session="Y", transaction_date=NOW, institution_id="LIB",
                                  patron_identifier=request.patron_identifier)

    if holds:
        @server.route(HOLD)
        async def hold(request, ctx):
            library.requests.append(request)
            item = request.item_identifier
            ok, message = True, None
            if request.hold_mode == "+":
                if item in library.waiting:
                    ok, message = False, "Patron already has a hold on this title"
                else:
                    library.waiting.append(item)
            elif item in library.waiting:
                library.waiting.remove(item)
            else:
                ok, message = False, "No such hold"
            return HoldResponse(ok="1" if ok else "0", available="N", transaction_date=NOW,
                                queue_position="3" if ok and request.hold_mode == "+" else None,
                                pickup_location=request.pickup_location, institution_id="LIB",
                                patron_identifier=request.patron_identifier, item_identifier=item,
                                screen_message=(message,) if message else ())

    return server


def adapter_for(port: int, **overrides) -> Sip2Adapter:
    return Sip2Adapter.from_config({"SIP2_HOST": "127.0.0.1", "SIP2_PORT": port, "SIP2_USER": "portal",
                                    "SIP2_PASSWORD": "secret", "SIP2_INSTITUTION": "LIB", "SIP2_CONNECT_TIMEOUT": 2,
                                    "SIP2_READ_TIMEOUT": 2, **overrides})


@pytest.fixture
def library() -> Library:
    return Library()


@pytest.fixture
def pysip2_adapter(library):
    with serving(build(library)) as port:
        adapter = adapter_for(port, SIP2_PICKUP_LOCATIONS="MAIN:本館,EAST:東分館")
        try:
            yield adapter
        finally:
            adapter.close()


def test_authenticate(pysip2_adapter):
    patron = pysip2_adapter.authenticate(CARD, PIN)
    assert (patron.key, patron.display_name, patron.blocks) == (CARD, "夏目 漱石", ())
    for card, pin in ((CARD, "9999"), ("2002", PIN)):
        with pytest.raises(AuthenticationFailed):
            pysip2_adapter.authenticate(card, pin)


def test_loans_with_titles_and_due_dates_in_three_formats(pysip2_adapter, library, monkeypatch):
    import adapters.sip2.core as sip2_core

    monkeypatch.setattr(sip2_core, "PAGE_SIZE", 2)  # pysip2 pages by BP/BQ in our handler
    loans = pysip2_adapter.loans(CARD)
    assert [(loan.item_id, loan.title, loan.due_date) for loan in loans] == [
        ("b-3", "Moby Dick", date(2025, 5, 23)),
        ("b-1", "吾輩は猫である", date(2025, 8, 28)),
        ("b-2", "ポスター展の記録", date(2025, 9, 10)),
    ]
    assert [loan.overdue for loan in loans] == [True, False, False]  # the ACS's date is 2025-08-25
    assert loans[1].due_soon and not loans[2].due_soon
    charged_pages = [r for r in library.requests if type(r).__name__ == "PatronInformationRequest"
                     and r.summary.find("Y") == 2]
    assert [(r.start_item, r.end_item) for r in charged_pages] == [("1", "2"), ("3", "4")]
    summary = pysip2_adapter.account_summary(CARD)
    assert (summary.loans, summary.holds, summary.holds_ready, summary.fines, summary.currency) == (
        3, 1, 1, 300, "JPY")


def test_renew_and_renew_all(pysip2_adapter, library):
    (renewed, refused) = pysip2_adapter.renew(CARD, ["b-1", "b-3"]).outcomes
    assert (renewed.loan_id, renewed.renewed, renewed.new_due_date) == ("b-1", True, date(2025, 9, 15))
    assert (refused.loan_id, refused.renewed, refused.reason) == ("b-3", False, Reason.TOO_MANY_RENEWALS)
    assert {loan.loan_id: loan.due_date for loan in pysip2_adapter.loans(CARD)}["b-1"] == date(2025, 9, 15)
    result = pysip2_adapter.renew_all(CARD)
    outcomes = {outcome.loan_id: outcome for outcome in result.outcomes}
    assert (outcomes["b-2"].renewed, outcomes["b-2"].new_due_date) == (True, date(2025, 9, 15))
    assert (outcomes["b-1"].renewed, outcomes["b-1"].reason) == (False, Reason.OTHER)  # BN without a reason
    renew_all = next(r for r in library.requests if type(r).__name__ == "RenewAllRequest")
    assert renew_all.patron_password is None, "the patron's password is not kept after login"


def test_holds_place_and_cancel(pysip2_adapter, library):
    (ready,) = pysip2_adapter.holds(CARD)
    assert (ready.hold_id, ready.title, ready.status, ready.pickup_deadline) == (
        "b-4", "雪国", HoldStatus.READY, date(2025, 9, 1))
    (main, _) = pysip2_adapter.pickup_locations(CARD)
    hold = pysip2_adapter.place_hold(CARD, HoldRequest("b-5", main.location_id, date(2025, 12, 31)))
    assert (hold.hold_id, hold.title, hold.status, hold.queue_position) == ("b-5", "草枕", HoldStatus.WAITING, 3)
    sent = library.requests[-1]
    assert (sent.hold_mode, sent.pickup_location, sent.hold_type, sent.expiration_date) == (
        "+", "MAIN", "2", "20251231    235959")
    with pytest.raises(Refused) as again:
        pysip2_adapter.place_hold(CARD, HoldRequest("b-5", main.location_id))
    assert again.value.reason is Reason.ALREADY_HELD
    assert [h.hold_id for h in pysip2_adapter.holds(CARD)] == ["b-4", "b-5"]
    (outcome,) = pysip2_adapter.cancel_holds(CARD, ["b-5"])
    assert outcome.cancelled and library.waiting == []
    pysip2_adapter.end_session(CARD)
    assert type(library.requests[-1]).__name__ == "EndPatronSessionRequest"


def test_an_acs_without_holds_hides_placing_and_cancelling(library):
    with serving(build(library, holds=False)) as port:
        adapter = adapter_for(port)
        try:
            adapter.check_ready()
            assert Capability.PLACE_HOLD not in adapter.capabilities
            assert Capability.CANCEL_HOLD not in adapter.capabilities
            assert Capability.HOLDS in adapter.capabilities and adapter.holds(CARD)
        finally:
            adapter.close()

"""Sip2Adapter beyond the contract: what SIP2 makes it do differently, over real sockets to the demo
ILS's SIP2 server (conftest.py) or to the scriptable ACS of loopback.py."""

from __future__ import annotations

import logging
import time
from datetime import date, timedelta

import pytest

import adapters.sip2.core as sip2_core
from adapters.demo.seed import BY_CASE
from adapters.errors import AuthenticationFailed, IlsUnavailable, NotSupported, RecordNotFound
from adapters.models import Capability, HoldRequest, HoldStatus, PickupLocation, Reason
from adapters.sip2 import Sip2Adapter
from tests.adapters.sip2.conftest import UNKNOWN_ITEM, credentials, sip2_config
from tests.adapters.sip2.loopback import CLOSE, STANDARD_REPLIES, LoopbackAcs, reply_to
from tests.adapters.sip2.test_connection import scripted

NOW = b"20250825    143000"


@pytest.fixture
def seen(demo_sip2) -> list[str]:
    """The commands the demo SIP2 server answered, in order (logins and 99s excepted)."""
    commands: list[str] = []
    respond = demo_sip2.acs.respond

    def counting(request):
        if request.command != "99":
            commands.append(request.command)
        return respond(request)

    demo_sip2.acs.respond = counting
    return commands


def login(adapter, case: str):
    return adapter.authenticate(*credentials(case))


def wait_for(condition, seconds: float = 5.0) -> None:
    """Until ``condition()`` holds (background lookups), or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the background lookups"
        time.sleep(0.01)


def loopback_adapter(port: int, **overrides) -> Sip2Adapter:
    config = {"SIP2_HOST": "127.0.0.1", "SIP2_PORT": port, "SIP2_USER": "portal", "SIP2_PASSWORD": "secret",
              "SIP2_INSTITUTION": "LIB", "SIP2_CONNECT_TIMEOUT": 1, "SIP2_READ_TIMEOUT": 1, **overrides}
    return Sip2Adapter.from_config(config)


# --- logging in -----------------------------------------------------------------------------------------


def test_login_normalises_the_card_and_never_sends_an_empty_or_unsendable_password(sip2_adapter, seen):
    card, password = credentials("regular")
    patron = sip2_adapter.authenticate(f"{card[:4]}-{card[4:]}", password)
    assert (patron.key, patron.card_number, patron.must_change_password) == (card, card, False)
    assert seen[0] == "63"
    wait_for(lambda: seen.count("17") == 3)  # the login's lookups of the patron's loans, in the background
    seen.clear()
    for bad in ("", "pass|word", "pass\rword"):
        with pytest.raises(AuthenticationFailed, match="wrong card number or password"):
            sip2_adapter.authenticate(card, bad)
    assert seen == [], "nothing sent for a password that cannot be right"


def test_login_starts_the_lookups_the_loans_page_needs(sip2_adapter, seen):
    """The login's 63 lists the charged items; their 17s run in the background, so the loans page
    that follows sends only its two lists."""
    patron = login(sip2_adapter, "many-loans")
    wait_for(lambda: seen.count("17") == 30)
    seen.clear()
    loans = sip2_adapter.loans(patron.key)
    assert len(loans) == 30 and all(loan.title and loan.due_date for loan in loans)
    assert seen == ["63"], "the charged list alone (nothing overdue)"


def test_without_prefetch_the_login_sends_one_message(demo_sip2, demo, seen):
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo, SIP2_PREFETCH="off"))
    try:
        patron = login(adapter, "many-loans")
        time.sleep(0.2)
        assert seen == ["63"]
        adapter.loans(patron.key)
        assert seen.count("17") == 30
    finally:
        adapter.close()


def test_without_an_item_cache_nothing_is_looked_up_ahead(demo_sip2, demo, seen):
    """With SIP2_ITEM_CACHE_SECONDS=0 nothing is looked up ahead (an answer arriving before a page
    asks would be lost): the login and the menu send their 63s only, the loans page one 17 per loan."""
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo, SIP2_ITEM_CACHE_SECONDS="0"))
    try:
        patron = login(adapter, "regular")
        adapter._forget_status(patron.key)  # the menu a few seconds later reads a fresh 64
        adapter.account_summary(patron.key)
        time.sleep(0.2)
        assert seen == ["63", "63"]
        seen.clear()
        assert adapter.loans(patron.key)
        assert sorted(seen) == ["17", "17", "17", "63"], "each item once, none lost to a race"
    finally:
        adapter.close()


def test_a_page_joins_lookups_in_flight_and_a_renewal_detaches_them(sip2_adapter, demo_sip2, seen):
    """A loans page asked for while the login's lookups are still out waits for them rather than
    sending its own; a renewal meanwhile makes the renewed item's answer unusable."""
    demo_sip2._server.latency = 0.05
    patron = login(sip2_adapter, "regular")
    loans = sip2_adapter.loans(patron.key)  # joins the three lookups started at login
    assert seen.count("17") == 3 and len(loans) == 3
    seen.clear()
    sip2_adapter.items.invalidate([loans[0].item_id])
    sip2_adapter.items.prefetch([loan.item_id for loan in loans])
    (outcome,) = sip2_adapter.renew(patron.key, [loans[0].loan_id]).outcomes  # while its 17 is out
    after = {loan.loan_id: loan for loan in sip2_adapter.loans(patron.key)}
    assert outcome.renewed and after[loans[0].loan_id].due_date == outcome.new_due_date
    assert seen.count("17") == 2, "the renewed item is looked up again, the in-flight answer dropped"


def test_logs_mask_the_card_and_never_show_the_password(sip2_adapter, caplog):
    card, password = credentials("regular")
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationFailed):
        sip2_adapter.authenticate(card, password + "x")
    text = caplog.text
    assert "******0001" in text and card not in text and password not in text


def test_locked_account(sip2_adapter):
    from adapters.errors import AccountLocked

    with pytest.raises(AccountLocked):
        login(sip2_adapter, "locked")
    card, password = credentials("locked")
    with pytest.raises(AuthenticationFailed):  # a wrong password says nothing about the lock
        sip2_adapter.authenticate(card, password + "x")


def test_blocks_over_sip2(sip2_adapter):
    blocks = {case: [block.code.value for block in login(sip2_adapter, case).blocks]
              for case in ("regular", "blocked", "overdue", "fines", "many-loans")}
    assert blocks == {"regular": [], "blocked": ["card_expired"], "overdue": ["overdue_loans"],
                      "fines": ["fines_over_limit"], "many-loans": ["too_many_holds"]}


def test_find_patron_and_end_session(sip2_adapter, seen):
    card, _ = credentials("english")
    assert sip2_adapter.find_patron(card).display_name == "Emily Carter"
    assert sip2_adapter.find_patron("1999999999") is None
    assert sip2_adapter.find_patron("not a card!") is None
    sip2_adapter.end_session(card)
    assert seen == ["63", "63", "35"]


def test_the_portal_follows_the_library_clock(sip2_adapter, demo):
    demo.advance_clock(5)
    patron = login(sip2_adapter, "regular")
    assert sip2_adapter.today() == demo.today() == date.today() + timedelta(days=5)
    loans = sip2_adapter.loans(patron.key)
    assert [loan.overdue for loan in loans] == [loan.due_date < demo.today() for loan in loans]


def test_a_list_remembered_as_empty_is_read_when_the_fresh_counts_say_it_has_filled(sip2_adapter, demo, seen):
    """The overdue list is skipped for a patron whose last 64 counted none overdue; the fresh
    charged 64 counts them, so loans that fell overdue meanwhile are still read and shown."""
    patron = login(sip2_adapter, "regular")
    assert not any(loan.overdue for loan in sip2_adapter.loans(patron.key))
    seen.clear()
    demo.advance_clock(60)  # every loan is overdue now
    loans = sip2_adapter.loans(patron.key)
    assert loans and all(loan.overdue for loan in loans)
    assert seen[:2] == ["63", "63"], "the charged list, then the overdue list its counts announced"
    seen.clear()
    assert all(loan.overdue for loan in sip2_adapter.loans(patron.key))
    assert seen.count("63") == 2, "now both lists are asked for at once"


def test_the_menu_after_login_reuses_the_logins_63(sip2_adapter, seen):
    patron = login(sip2_adapter, "overdue")
    wait_for(lambda: sip2_adapter.items.in_flight() == 0)  # the login's lookups
    seen.clear()
    summary = sip2_adapter.account_summary(patron.key)
    assert summary.overdue > 0 and seen == []
    sip2_adapter._forget_status(patron.key)  # as after a few seconds
    again = sip2_adapter.account_summary(patron.key)
    assert (again.loans, again.overdue, again.holds) == (summary.loans, summary.overdue, summary.holds)
    assert seen == ["63"]


# --- loans: paging, the item cache, parallel lookups ------------------------------------------------------


def test_item_details_are_cached_and_renewals_invalidate_them(sip2_adapter, seen):
    patron = login(sip2_adapter, "regular")
    first = sip2_adapter.loans(patron.key)
    assert seen.count("17") == 3
    seen.clear()
    assert sip2_adapter.loans(patron.key) == first
    assert seen == ["63"], "warm: only the charged list (the overdue one is empty)"
    (outcome,) = sip2_adapter.renew(patron.key, [first[0].loan_id]).outcomes
    assert outcome.renewed
    seen.clear()
    after = sip2_adapter.loans(patron.key)
    assert seen.count("17") == 1, "only the renewed item is looked up again"
    assert {loan.loan_id: loan.due_date for loan in after}[first[0].loan_id] == outcome.new_due_date


def test_thirty_loans_in_pages_with_lookups_in_parallel(demo, demo_sip2, seen, monkeypatch):
    monkeypatch.setattr(sip2_core, "PAGE_SIZE", 7)
    sip2_adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo, SIP2_PREFETCH=False))
    try:
        patron = login(sip2_adapter, "many-loans")
        demo_sip2._server.latency = 0.1
        seen.clear()
        started = time.monotonic()
        loans = sip2_adapter.loans(patron.key)
        elapsed = time.monotonic() - started
        assert len(loans) == 30 == len({loan.loan_id for loan in loans}) and all(loan.title for loan in loans)
        assert seen.count("63") == 5, "charged in 5 pages of 7; nothing overdue, so no overdue list"
        assert seen.count("17") == 30
        # One after another this is 36 replies of 100 ms; four connections share the 30 item lookups.
        print(f"30 loans, 100 ms per reply: {elapsed:.2f}s")
        assert elapsed < 36 * 0.1 * 0.6, f"{elapsed:.2f}s: item lookups did not run in parallel"

    finally:
        sip2_adapter.close()


def test_an_acs_that_ignores_bp_bq_is_read_once():
    def all_items(request, session, nth):  # Evergreen's charged list: every item, whatever BP/BQ say
        return [reply_to(request, STANDARD_REPLIES[b"63"] + b"AUitem-3|")]

    with LoopbackAcs(scripted({b"63": all_items})) as acs:
        adapter = loopback_adapter(acs.port)
        try:
            sip2_core.PAGE_SIZE, saved = 2, sip2_core.PAGE_SIZE
            loans = adapter.loans("1001")
        finally:
            sip2_core.PAGE_SIZE = saved
            adapter.close()
        assert len(acs.frames(b"63")) == 2  # charged and overdue, one page each
    assert sorted(loan.item_id for loan in loans) == ["item-1", "item-2", "item-3"]


# --- renewals ---------------------------------------------------------------------------------------------


def test_renew_all_reports_each_loan_with_its_reason(sip2_adapter, seen):
    patron = login(sip2_adapter, "regular")
    loans = sip2_adapter.loans(patron.key)
    seen.clear()
    result = sip2_adapter.renew_all(patron.key)
    assert "65" in seen and "29" not in seen
    outcomes = {outcome.loan_id: outcome for outcome in result.outcomes}
    assert set(outcomes) == {loan.loan_id for loan in loans}
    renewed = [outcome for outcome in result.outcomes if outcome.renewed]
    assert len(renewed) == 2 and all(outcome.new_due_date for outcome in renewed)
    (refused,) = [outcome for outcome in result.outcomes if not outcome.renewed]
    assert (refused.reason, refused.message) == (Reason.TOO_SOON, None)


def test_renewal_refusals_over_sip2(sip2_adapter):
    overdue = login(sip2_adapter, "overdue")
    loans = sip2_adapter.loans(overdue.key)
    assert {loan.forecast.reason for loan in loans} == {Reason.PATRON_HAS_OVERDUE}
    result = sip2_adapter.renew(overdue.key, [loan.loan_id for loan in loans])
    assert {outcome.reason for outcome in result.outcomes} == {Reason.PATRON_HAS_OVERDUE}
    renewable = login(sip2_adapter, "renewable")
    reasons = {outcome.reason for outcome in sip2_adapter.renew_all(renewable.key).outcomes}
    assert {Reason.TOO_MANY_RENEWALS, Reason.ON_HOLD, Reason.TOO_SOON} <= reasons


def _renew_then_drop(due_after: bytes):
    """An ACS that renews item-1 (its due date moves to ``due_after``) and drops the connection
    instead of answering the 29."""
    state = {"renewed": False}

    def on_17(request, session, nth):
        due = due_after if state["renewed"] else b"20250901    235900"
        return [reply_to(request, b"1804000120250825    143000ABitem-1|AJA Title|AH" + due + b"|")]

    def on_29(request, session, nth):
        state["renewed"] = True
        return [CLOSE]

    def on_63(request, session, nth):
        return [reply_to(request, b"64              000" + NOW + b"000000000001000000000000AOLIB|AA1001|AEAda|BLY|"
                         + (b"AUitem-1|" if request[18 + 18 + 2 : 18 + 18 + 5] != b"   " else b""))]

    return scripted({b"17": on_17, b"29": on_29, b"63": on_63})


@pytest.mark.parametrize(("due_after", "renewed"), [(b"20250915    235900", True), (b"20250901    235900", False)],
                         ids=["done-before-the-drop", "not-done"])
def test_a_renewal_whose_answer_is_lost_is_looked_up(no_leaks, due_after, renewed):
    with LoopbackAcs(_renew_then_drop(due_after)) as acs:
        adapter = loopback_adapter(acs.port)
        try:
            (loan,) = adapter.loans("1001")
            (outcome,) = adapter.renew("1001", [loan.loan_id]).outcomes
        finally:
            adapter.close()
        assert len(acs.frames(b"29")) == 1, "never re-sent"
    assert outcome.renewed is renewed
    assert outcome.reason is (None if renewed else Reason.UNAVAILABLE)


# --- holds --------------------------------------------------------------------------------------------------


def test_hold_ids_are_per_patron(sip2_adapter, demo):
    """The regular and English readers both wait for one title: over SIP2 both holds are listed
    by the same item id, and cancelling it cancels only the caller's own."""
    regular, english = login(sip2_adapter, "regular"), login(sip2_adapter, "english")
    shared = {hold.hold_id for hold in sip2_adapter.holds(regular.key)} & {
        hold.hold_id for hold in sip2_adapter.holds(english.key)}
    assert len(shared) == 1
    (outcome,) = sip2_adapter.cancel_holds(regular.key, list(shared))
    assert outcome.cancelled
    assert shared <= {hold.hold_id for hold in sip2_adapter.holds(english.key)}
    assert not shared & {hold.hold_id for hold in sip2_adapter.holds(regular.key)}


def test_ready_and_in_transit_holds(sip2_adapter, demo):
    patron = login(sip2_adapter, "hold-ready")
    holds = sip2_adapter.holds(patron.key)
    assert [hold.status for hold in holds] == [HoldStatus.READY, HoldStatus.IN_TRANSIT, HoldStatus.WAITING]
    ready = holds[0]
    demo_ready = next(hold for hold in demo.holds(BY_CASE["hold-ready"].key) if hold.status is HoldStatus.READY)
    assert (ready.pickup_deadline, ready.pickup_location) == (demo_ready.pickup_deadline, demo_ready.pickup_location)
    assert sip2_adapter.account_summary(patron.key).holds_ready == 1


def test_a_hold_that_became_ready_shows_although_the_ready_list_was_counted_empty(sip2_adapter, demo, seen):
    """The ready list is skipped while the patron's last counts say it is empty; a copy checked in
    meanwhile makes the fresh counts say otherwise, and the list is read."""
    patron = login(sip2_adapter, "english")
    before = sip2_adapter.holds(patron.key)
    assert before and HoldStatus.READY not in {hold.status for hold in before}
    seen.clear()
    assert sip2_adapter.holds(patron.key) == before
    assert seen.count("63") == 1, "only the list with holds in it"
    demo.checkin("I0011-1")  # the copy a waiting hold of this patron's was for
    seen.clear()
    after = sip2_adapter.holds(patron.key)
    assert HoldStatus.READY in {hold.status for hold in after}
    assert seen.count("63") == 2, "the ready list, once the fresh counts announced it"


def test_place_a_hold_with_an_expiry_at_the_default_pickup(demo_sip2, demo, seen):
    """Without SIP2_INSTITUTION or SIP2_PICKUP_LOCATIONS the institution the ACS announces is the one
    pickup location, and the ACS picks its branch."""
    config = sip2_config(demo_sip2.port, SIP2_INSTITUTION="")
    adapter = Sip2Adapter.from_config(config)
    try:
        patron = login(adapter, "regular")
        (pickup,) = adapter.pickup_locations(patron.key)
        assert pickup == PickupLocation("SHIORI", "Shiori Demo Library")
        item = next(loan.item_id for loan in demo.loans(BY_CASE["english"].key))
        until = adapter.today() + timedelta(days=30)
        hold = adapter.place_hold(patron.key, HoldRequest(item, pickup.location_id, until))
        assert (hold.status, hold.not_needed_after, hold.pickup_location) == (HoldStatus.WAITING, until, pickup)
        demo_hold = next(h for h in demo.holds(BY_CASE["regular"].key) if h.title == hold.title)
        assert demo_hold.not_needed_after == until
        assert hold.hold_id in {current.hold_id for current in adapter.holds(patron.key)}
        with pytest.raises(RecordNotFound):
            adapter.record(UNKNOWN_ITEM)
        assert adapter.record(item).title == hold.title
    finally:
        adapter.close()


# --- capabilities -------------------------------------------------------------------------------------------


def test_capabilities_start_full_and_narrow_to_the_acs_bx():
    def no_holds_no_renewals(request, session, nth):
        body = STANDARD_REPLIES[b"99"].replace(b"BXYYYYYYYYYYYYYYYY", b"BXYYYYYYYYYNNNNNN")
        return [reply_to(request, body)]

    with LoopbackAcs(scripted({b"99": no_holds_no_renewals})) as acs:
        adapter = loopback_adapter(acs.port, SIP2_DISABLED_FEATURES="record_details")
        try:
            assert Capability.PLACE_HOLD in adapter.capabilities and Capability.RENEW in adapter.capabilities
            assert Capability.RECORD_DETAILS not in adapter.capabilities
            adapter.check_ready()
            assert adapter.capabilities == {Capability.LOANS, Capability.HOLDS, Capability.FINES}
            with pytest.raises(NotSupported):
                adapter.renew_all("1001")
        finally:
            adapter.close()


def test_renew_all_without_65_renews_one_by_one():
    def no_renew_all(request, session, nth):
        return [reply_to(request, STANDARD_REPLIES[b"99"].replace(b"BXYYYYYYYYYYYYYYYY", b"BXYYYYYYYYYYYYYYYN"))]

    with LoopbackAcs(scripted({b"99": no_renew_all})) as acs:
        adapter = loopback_adapter(acs.port)
        try:
            result = adapter.renew_all("1001")
        finally:
            adapter.close()
        assert (len(acs.frames(b"29")), len(acs.frames(b"65"))) == (2, 0)
    assert Capability.RENEW_ALL in adapter.capabilities
    assert result.renewed_count == 2


def test_nothing_is_sent_before_the_first_request(no_leaks):
    with LoopbackAcs() as acs:
        adapter = loopback_adapter(acs.port)
        adapter.close()
        assert acs.sessions == 0


def test_an_acs_that_is_down_is_unavailable_not_unknown(no_leaks):
    with LoopbackAcs() as acs:
        port = acs.port
    adapter = loopback_adapter(port)
    try:
        with pytest.raises(IlsUnavailable):
            adapter.authenticate("1001", "1234")
        with pytest.raises(IlsUnavailable):
            adapter.check_ready()
    finally:
        adapter.close()


def test_the_loans_page_reads_the_patron_once(sip2_adapter, seen):
    """The loans view asks for the loans, then the patron's blocks: the 64s just read answer both."""
    patron = login(sip2_adapter, "overdue")
    loans = sip2_adapter.loans(patron.key)
    seen.clear()
    assert [block.code.value for block in sip2_adapter.patron(patron.key).blocks] == ["overdue_loans"]
    assert seen == []
    sip2_adapter.renew(patron.key, [loans[0].loan_id])
    seen.clear()
    sip2_adapter.patron(patron.key)
    assert seen == ["63"], "after a renewal the account is read again"


def test_the_menu_looks_up_the_loans_again_once_the_cache_has_expired(sip2_adapter, seen):
    patron = login(sip2_adapter, "regular")
    wait_for(lambda: sip2_adapter.items.in_flight() == 0)
    sip2_adapter.items.clear()  # as after SIP2_ITEM_CACHE_SECONDS
    sip2_adapter._forget_status(patron.key)  # and a few seconds after the login
    seen.clear()
    sip2_adapter.account_summary(patron.key)
    wait_for(lambda: sip2_adapter.items.in_flight() == 0)
    assert sorted(seen) == ["17", "17", "17", "63"]
    seen.clear()
    sip2_adapter.loans(patron.key)
    assert seen == ["63"], "the loans page finds its items cached"

"""The demo ILS's rules: first as pure functions, then played through the adapter with its clock."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from adapters.demo.rules import DemoRules
from adapters.errors import AccountLocked, AuthenticationFailed, InvalidInput, RecordNotFound, Refused
from adapters.models import BlockCode, HoldRequest, HoldStatus, Reason, RenewalStatus
from config import defaults

from .conftest import credentials

RULES = DemoRules()
DAY = date(2025, 4, 10)


def forecast(due_in: int, **kwargs):
    state = {"renewals_used": 0, "patron_has_overdue": False, "others_waiting": False} | kwargs
    return RULES.renewal_forecast(today=DAY, due=DAY + timedelta(days=due_in), **state)


# --- pure rules ------------------------------------------------------------------------------


def test_defaults_match_the_config_defaults():
    assert DemoRules.from_config(vars(defaults)) == RULES
    config = {"DEMO_RENEWAL_WINDOW_DAYS": 3, "DEMO_MAX_HOLDS": "5", "DUE_SOON_DAYS": 1, "DEMO_HOLD_SHELF_DAYS": 10}
    rules = DemoRules.from_config(config)
    assert (rules.renewal_window_days, rules.max_holds, rules.due_soon_days, rules.hold_shelf_days) == (3, 5, 1, 10)
    assert rules.renewal_period_days == RULES.renewal_period_days


def test_renewal_window():
    assert forecast(7).status is RenewalStatus.RENEWABLE
    assert forecast(0).status is RenewalStatus.RENEWABLE  # on the due date itself
    too_soon = forecast(8)
    assert (too_soon.status, too_soon.reason) == (RenewalStatus.NOT_YET, Reason.TOO_SOON)
    assert too_soon.available_from == DAY + timedelta(days=1)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"account_blocked": True, "patron_has_overdue": True, "renewals_used": 1}, Reason.ACCOUNT_BLOCKED),
        ({"patron_has_overdue": True, "renewals_used": 1, "others_waiting": True}, Reason.PATRON_HAS_OVERDUE),
        ({"renewals_used": 1, "others_waiting": True}, Reason.TOO_MANY_RENEWALS),
        ({"others_waiting": True}, Reason.ON_HOLD),
    ],
)
def test_renewal_refusals_in_order(state, reason):
    for due_in in (2, 12):  # a lasting refusal wins over "not yet"
        assert (forecast(due_in, **state).status, forecast(due_in, **state).reason) == (
            RenewalStatus.NOT_RENEWABLE, reason)


def test_renewal_runs_from_today_and_never_shortens():
    assert RULES.renewed_due_date(DAY + timedelta(days=3), DAY) == DAY + timedelta(days=14)
    assert RULES.renewed_due_date(DAY + timedelta(days=20), DAY) == DAY + timedelta(days=20)


def test_overdue_and_due_soon():
    assert RULES.is_overdue(DAY - timedelta(days=1), DAY) and not RULES.is_overdue(DAY, DAY)
    assert [RULES.is_due_soon(DAY + timedelta(days=n), DAY) for n in (-1, 0, 3, 4)] == [False, True, True, False]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"account_blocked": True, "pickup_valid": False}, Reason.ACCOUNT_BLOCKED),
        ({"pickup_valid": False, "already_on_loan": True}, Reason.INVALID_PICKUP),
        ({"already_on_loan": True, "already_held": True}, Reason.ALREADY_ON_LOAN),
        ({"already_held": True, "holds_count": 10}, Reason.ALREADY_HELD),
        ({"holds_count": 10}, Reason.TOO_MANY_HOLDS),
        ({"holds_count": 9}, None),
    ],
)
def test_hold_refusals_in_order(state, reason):
    base = {"account_blocked": False, "pickup_valid": True, "already_on_loan": False, "already_held": False,
            "holds_count": 0}
    assert RULES.hold_refusal(**(base | state)) is reason


def test_blocks():
    base = {"today": DAY, "card_expires": DAY, "card_lost": False, "restricted": False, "fines": Decimal(1000),
            "overdue_loans": 0, "holds_count": 9}
    assert RULES.blocks(**base) == ()
    everything = base | {"card_expires": DAY - timedelta(days=1), "card_lost": True, "restricted": True,
                         "fines": Decimal(1001), "overdue_loans": 1, "holds_count": 10}
    assert set(RULES.blocks(**everything)) == {
        BlockCode.CARD_LOST, BlockCode.CARD_EXPIRED, BlockCode.RESTRICTED, BlockCode.FINES_OVER_LIMIT,
        BlockCode.OVERDUE_LOANS, BlockCode.TOO_MANY_HOLDS}
    assert RULES.restricts((BlockCode.CARD_EXPIRED,)) and not RULES.restricts((BlockCode.OVERDUE_LOANS,))


# --- the seeded cases, through the adapter ------------------------------------------------------


def loans_by_title(demo, patron):
    return {loan.title: loan for loan in demo.loans(patron.key)}


def test_renewing_extends_from_today_once(demo, login):
    patron = login("regular")
    first = demo.loans(patron.key)[0]
    assert first.forecast.status is RenewalStatus.RENEWABLE and first.due_soon
    (outcome,) = demo.renew(patron.key, [first.loan_id]).outcomes
    assert outcome.renewed and outcome.new_due_date == demo.today() + timedelta(days=14)
    after = {loan.loan_id: loan for loan in demo.loans(patron.key)}[first.loan_id]
    assert (after.due_date, after.renewals_used, after.due_soon) == (outcome.new_due_date, 1, False)
    assert after.forecast.reason is Reason.TOO_MANY_RENEWALS
    (again,) = demo.renew(patron.key, [first.loan_id]).outcomes
    assert (again.renewed, again.reason) == (False, Reason.TOO_MANY_RENEWALS)


def test_not_yet_becomes_renewable_when_the_window_opens(demo, login):
    patron = login("regular")
    later = demo.loans(patron.key)[-1]
    assert later.forecast.status is RenewalStatus.NOT_YET
    (outcome,) = demo.renew(patron.key, [later.loan_id]).outcomes
    assert (outcome.renewed, outcome.reason) == (False, Reason.TOO_SOON)
    assert demo.renew_all(patron.key).renewed_count == 2  # so that the sooner loans are not overdue by then
    demo.advance_clock((later.forecast.available_from - demo.today()).days)
    assert demo.today() == later.forecast.available_from
    now = {loan.loan_id: loan for loan in demo.loans(patron.key)}[later.loan_id]
    assert now.forecast.status is RenewalStatus.RENEWABLE
    assert demo.renew(patron.key, [later.loan_id]).renewed_count == 1


def test_renewable_case(demo, login):
    patron = login("renewable")
    forecasts = [(loan.forecast.status, loan.forecast.reason) for loan in demo.loans(patron.key)]
    assert forecasts == [
        (RenewalStatus.RENEWABLE, None),
        (RenewalStatus.NOT_RENEWABLE, Reason.ON_HOLD),
        (RenewalStatus.NOT_RENEWABLE, Reason.TOO_MANY_RENEWALS),
        (RenewalStatus.NOT_YET, Reason.TOO_SOON),
    ]
    result = demo.renew_all(patron.key)
    assert [(o.renewed, o.reason) for o in result.outcomes] == [
        (True, None), (False, Reason.ON_HOLD), (False, Reason.TOO_MANY_RENEWALS), (False, Reason.TOO_SOON)]


def test_on_hold_lifts_when_the_other_hold_is_cancelled(demo, login):
    patron, regular = login("renewable"), login("regular")
    reserved = next(loan for loan in demo.loans(patron.key) if loan.forecast.reason is Reason.ON_HOLD)
    (their_hold,) = [hold for hold in demo.holds(regular.key) if hold.record_id == reserved.record_id]
    assert demo.cancel_holds(regular.key, [their_hold.hold_id])[0].cancelled
    assert loans_by_title(demo, patron)[reserved.title].forecast.status is RenewalStatus.RENEWABLE


def test_overdue_patron_cannot_renew_anything(demo, login):
    patron = login("overdue")
    assert [block.code for block in patron.blocks] == [BlockCode.OVERDUE_LOANS]
    loans = demo.loans(patron.key)
    assert [loan.overdue for loan in loans] == [True, True, False]
    result = demo.renew_all(patron.key)
    assert {(o.renewed, o.reason) for o in result.outcomes} == {(False, Reason.PATRON_HAS_OVERDUE)}
    assert [block.code for block in result.blocks] == [BlockCode.OVERDUE_LOANS]
    for loan in loans[:2]:  # returning the overdue books lifts the block
        demo.checkin(loan.item_id)
    assert demo.patron(patron.key).blocks == ()
    assert demo.renew_all(patron.key).renewed_count == 1


def test_the_clock_makes_loans_overdue(demo, login):
    patron = login("regular")
    demo.advance_clock(3)  # the first loan (due in two days) is now a day late
    loans = demo.loans(patron.key)
    assert loans[0].overdue and not loans[1].overdue
    assert {loan.forecast.reason for loan in loans} == {Reason.PATRON_HAS_OVERDUE}
    assert BlockCode.OVERDUE_LOANS in {block.code for block in demo.patron(patron.key).blocks}
    assert demo.account_summary(patron.key).overdue == 1


def test_blocked_card(demo, login, contract_ids):
    patron = login("blocked")
    assert [block.code for block in patron.blocks] == [BlockCode.CARD_EXPIRED]
    assert {o.reason for o in demo.renew_all(patron.key).outcomes} == {Reason.ACCOUNT_BLOCKED}
    with pytest.raises(Refused) as refused:
        demo.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], "MAIN"))
    assert refused.value.reason is Reason.ACCOUNT_BLOCKED


def test_fines_over_the_limit_block(demo, login):
    patron = login("fines")
    assert [block.code for block in patron.blocks] == [BlockCode.FINES_OVER_LIMIT]
    assert demo.account_summary(patron.key).fines == Decimal(2500)
    assert {o.reason for o in demo.renew_all(patron.key).outcomes} == {Reason.ACCOUNT_BLOCKED}


def test_locked_account(demo):
    card, password = credentials("locked")
    with pytest.raises(AccountLocked):
        demo.authenticate(card, password)
    with pytest.raises(AuthenticationFailed):  # the lock is not revealed to a wrong password
        demo.authenticate(card, password + "x")


def test_card_number_is_normalised(demo):
    card, password = credentials("regular")
    typed = "２０００-０００-０" + card[-2:]  # full-width digits and hyphens, as a phone may send
    assert demo.authenticate(typed, password).card_number == card
    with pytest.raises(AuthenticationFailed):
        demo.authenticate("2000|000001", password)


def test_first_login_flag_clears(demo, login):
    card, initial = credentials("first-login")
    patron = login("first-login")
    assert patron.must_change_password
    demo.change_password(patron.key, initial, "Hajimete2025")
    assert not demo.authenticate(card, "Hajimete2025").must_change_password
    with pytest.raises(InvalidInput):
        demo.set_password(patron.key, "bad\x00password")


def test_hold_limit(demo, login, contract_ids):
    patron = login("many-loans")
    assert (len(demo.loans(patron.key)), len(demo.holds(patron.key))) == (30, 10)
    assert BlockCode.TOO_MANY_HOLDS in {block.code for block in patron.blocks}
    request = HoldRequest(contract_ids["holdable_record"], "MAIN")
    with pytest.raises(Refused) as refused:
        demo.place_hold(patron.key, request)
    assert refused.value.reason is Reason.TOO_MANY_HOLDS
    demo.cancel_holds(patron.key, [demo.holds(patron.key)[-1].hold_id])
    assert demo.place_hold(patron.key, request).status is HoldStatus.WAITING


def test_hold_ready_case(demo, login):
    patron = login("hold-ready")
    holds = demo.holds(patron.key)
    assert [hold.status for hold in holds] == [HoldStatus.READY, HoldStatus.IN_TRANSIT, HoldStatus.WAITING]
    ready, transit, waiting = holds
    assert ready.pickup_deadline == demo.today() + timedelta(days=5) and ready.pickup_location.name == "本館"
    assert (transit.cancellable, waiting.queue_position) == (False, 3)
    assert demo.cancel_holds(patron.key, [transit.hold_id])[0].reason is Reason.NOT_CANCELLABLE
    for case in ("english", "regular"):  # the two ahead in the queue give up
        ahead = login(case)
        demo.cancel_holds(ahead.key, [h.hold_id for h in demo.holds(ahead.key) if h.record_id == waiting.record_id])
    assert {h.hold_id: h for h in demo.holds(patron.key)}[waiting.hold_id].queue_position == 1


def test_in_transit_arrives_next_day_and_ready_expires(demo, login):
    patron = login("hold-ready")
    ready, transit, _ = demo.holds(patron.key)
    available_before = demo.record(ready.record_id).available
    demo.advance_clock(1)
    arrived = {hold.hold_id: hold for hold in demo.holds(patron.key)}[transit.hold_id]
    assert arrived.status is HoldStatus.READY and arrived.pickup_deadline == demo.today() + timedelta(days=7)
    demo.advance_clock(4)  # the ready hold's last day (its deadline was today + 5)
    assert ready.hold_id in {hold.hold_id for hold in demo.holds(patron.key)}
    events = demo.advance_clock(1)
    assert ready.hold_id not in {hold.hold_id for hold in demo.holds(patron.key)}
    assert ("expired", int(ready.hold_id[1:])) in {(event.kind, event.hold_id) for event in events}
    assert demo.record(ready.record_id).available == available_before + 1  # nobody else waited: back on the shelf


def test_checkin_readies_or_sends_the_first_hold(demo, login, contract_ids):
    regular, english = login("regular"), login("english")
    record, item = contract_ids["holdable_record"], contract_ids["holdable_item"]
    with demo.store.transaction() as conn:
        home = conn.execute("SELECT home_branch FROM items WHERE id = ?", (item,)).fetchone()[0]
        elsewhere = conn.execute("SELECT id FROM branches WHERE id != ? LIMIT 1", (home,)).fetchone()[0]
    first = demo.place_hold(regular.key, HoldRequest(record, home))
    second = demo.place_hold(english.key, HoldRequest(record, elsewhere))
    assert (first.queue_position, second.queue_position) == (1, 2)
    demo.checkin(item)
    now = demo.holds(regular.key)[0]
    assert (now.hold_id, now.status, now.pickup_deadline) == (first.hold_id, HoldStatus.READY,
                                                             demo.today() + timedelta(days=7))
    assert {h.hold_id: h for h in demo.holds(english.key)}[second.hold_id].queue_position == 1
    demo.advance_clock(8)  # regular never came: the copy passes to english, who collects elsewhere
    passed = {h.hold_id: h for h in demo.holds(english.key)}[second.hold_id]
    assert passed.status is HoldStatus.IN_TRANSIT
    assert first.hold_id not in {h.hold_id for h in demo.holds(regular.key)}


def test_cancelling_a_ready_hold_passes_the_copy_on(demo, login, contract_ids):
    regular, english = login("regular"), login("english")
    record, item = contract_ids["holdable_record"], contract_ids["holdable_item"]
    with demo.store.transaction() as conn:
        home = conn.execute("SELECT home_branch FROM items WHERE id = ?", (item,)).fetchone()[0]
    first = demo.place_hold(regular.key, HoldRequest(record, home))
    second = demo.place_hold(english.key, HoldRequest(record, home))
    demo.checkin(item)
    assert demo.cancel_holds(regular.key, [first.hold_id])[0].cancelled
    passed = {h.hold_id: h for h in demo.holds(english.key)}[second.hold_id]
    assert (passed.status, passed.pickup_deadline) == (HoldStatus.READY, demo.today() + timedelta(days=7))


def test_a_copy_on_the_shelf_is_pulled_for_a_new_hold_the_next_morning(demo, login):
    patron = login("regular")
    record = next(r for r in demo.search("the", per_page=100).records if r.available and not r.holds)
    with demo.store.transaction() as conn:
        homes = {row[0] for row in conn.execute("SELECT home_branch FROM items WHERE record_id = ?", (record.record_id,))}
    pickup = next(branch.location_id for branch in demo.pickup_locations(patron.key) if branch.location_id not in homes)
    hold = demo.place_hold(patron.key, HoldRequest(record.record_id, pickup))
    assert (hold.status, hold.cancellable) == (HoldStatus.WAITING, True)  # still cancellable today
    demo.advance_clock(1)
    pulled = {h.hold_id: h for h in demo.holds(patron.key)}[hold.hold_id]
    assert (pulled.status, pulled.cancellable) == (HoldStatus.IN_TRANSIT, False)
    assert demo.record(record.record_id).available == record.available - 1
    demo.advance_clock(1)
    assert {h.hold_id: h for h in demo.holds(patron.key)}[hold.hold_id].status is HoldStatus.READY


def test_a_shelf_copy_at_the_pickup_branch_is_ready_the_next_morning(demo, login):
    patron = login("regular")
    record = next(r for r in demo.search("the", per_page=100).records if r.available and not r.holds)
    with demo.store.transaction() as conn:
        home = conn.execute("SELECT home_branch FROM items WHERE record_id = ?", (record.record_id,)).fetchone()[0]
    hold = demo.place_hold(patron.key, HoldRequest(record.record_id, home))
    demo.advance_clock(1)
    ready = {h.hold_id: h for h in demo.holds(patron.key)}[hold.hold_id]
    assert (ready.status, ready.pickup_deadline) == (HoldStatus.READY, demo.today() + timedelta(days=7))


def test_checkout_fulfils_the_ready_hold(demo, login):
    patron = login("hold-ready")
    ready = demo.holds(patron.key)[0]
    with demo.store.transaction() as conn:
        item = conn.execute("SELECT item_id FROM holds WHERE id = ?", (int(ready.hold_id[1:]),)).fetchone()[0]
    event = demo.checkout(credentials("hold-ready")[0], item)
    assert event.day == demo.today() + timedelta(days=14)
    assert ready.hold_id not in {h.hold_id for h in demo.holds(patron.key)}
    assert item in {loan.item_id for loan in demo.loans(patron.key)}


def test_not_needed_after_lapses(demo, login, contract_ids):
    patron = login("regular")
    with pytest.raises(InvalidInput):
        demo.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], "MAIN", demo.today() - timedelta(1)))
    hold = demo.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], "MAIN",
                                                   demo.today() + timedelta(days=2)))
    demo.advance_clock(2)
    assert hold.hold_id in {h.hold_id for h in demo.holds(patron.key)}
    demo.advance_clock(1)
    assert hold.hold_id not in {h.hold_id for h in demo.holds(patron.key)}


def test_place_hold_refusals(demo, login, contract_ids):
    patron = login("hold-ready")
    queued = demo.holds(patron.key)[-1]
    with pytest.raises(Refused) as held:
        demo.place_hold(patron.key, HoldRequest(queued.record_id, "MAIN"))
    assert held.value.reason is Reason.ALREADY_HELD
    with pytest.raises(RecordNotFound):
        demo.place_hold(patron.key, HoldRequest("R0000", "MAIN"))


def test_the_clock(demo):
    today = date.today()
    assert demo.today() == today and demo.clock_offset() == 0
    demo.advance_clock(3)
    assert (demo.today(), demo.clock_offset()) == (today + timedelta(days=3), 3)
    with pytest.raises(ValueError):
        demo.advance_clock(-1)
    demo.reset_clock()
    assert demo.today() == today


# --- catalogue search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["吾輩は猫である", "わがはい", "ワガハイ", "ﾜｶﾞﾊｲ", "夏目 猫", "9784101010014", "978-4-10-101001-4",
     "９７８４１０１０１００１４"],
)
def test_search_matches_title_reading_author_and_isbn(demo, query):
    assert "R0001" in {record.record_id for record in demo.search(query, per_page=100).records}


def test_search_is_case_insensitive_and_pages(demo):
    lower, upper = demo.search("the", per_page=5), demo.search("THE", per_page=5)
    assert lower == upper.__class__(**{**upper.__dict__, "query": "the"})
    assert lower.total > 5 and len(lower.records) == 5
    pages = [demo.search("the", page=page, per_page=5).records for page in range(1, lower.total // 5 + 2)]
    ids = [record.record_id for page in pages for record in page]
    assert len(ids) == len(set(ids)) == lower.total
    assert demo.search("   ").total == 0 and demo.search("qzxqzxqzx").total == 0
    assert demo.search("the", per_page=10_000).per_page == 100


def test_record_counts(demo, login):
    patron = login("hold-ready")
    waiting = demo.holds(patron.key)[-1]
    record = demo.record(waiting.record_id)
    assert (record.available, record.holds) == (0, 3)
    assert record.copies >= 1


@pytest.mark.parametrize(
    "call",
    [
        lambda demo: demo.patron("P999"),
        lambda demo: demo.loans("P999"),
        lambda demo: demo.holds("P999"),
        lambda demo: demo.account_summary("P999"),
        lambda demo: demo.pickup_locations("P999"),
        lambda demo: demo.place_hold("P999", HoldRequest("R0001", "MAIN")),
        lambda demo: demo.set_password("P999", "Whatever2025"),
    ],
)
def test_an_unknown_patron_key_is_refused(demo, call):
    with pytest.raises(AuthenticationFailed):
        call(demo)


def test_a_hold_suspended_until_a_date_comes_back_on_that_day(demo, login):
    patron = login("regular")
    waiting = next(hold for hold in demo.holds(patron.key) if hold.status is HoldStatus.WAITING)
    until = demo.today() + timedelta(days=3)
    paused = demo.suspend_hold(patron.key, waiting.hold_id, until)
    assert (paused.status, paused.suspended_until, paused.queue_position) == (
        HoldStatus.SUSPENDED, until, waiting.queue_position)  # it keeps its place in the queue
    demo.advance_clock(2)
    assert {h.hold_id: h for h in demo.holds(patron.key)}[waiting.hold_id].status is HoldStatus.SUSPENDED
    demo.advance_clock(1)
    assert {h.hold_id: h for h in demo.holds(patron.key)}[waiting.hold_id].status is HoldStatus.WAITING

"""Koha's JSON and codes -> the contract's models (adapters/koha/mapping.py), without HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from adapters.koha import mapping
from adapters.models import BlockCode, HoldStatus, Reason, RenewalForecast, RenewalStatus

TOKYO = ZoneInfo("Asia/Tokyo")
TODAY = date(2024, 5, 10)


@pytest.mark.parametrize(("code", "reason"), [
    ("too_many", Reason.TOO_MANY_RENEWALS),
    ("too_unseen", Reason.TOO_MANY_RENEWALS),
    ("on_reserve", Reason.ON_HOLD),
    ("recalled", Reason.ON_HOLD),
    ("overdue", Reason.PATRON_HAS_OVERDUE),
    ("too_soon", Reason.TOO_SOON),
    ("auto_too_soon", Reason.TOO_SOON),
    ("restriction", Reason.ACCOUNT_BLOCKED),
    ("debarred", Reason.ACCOUNT_BLOCKED),
    ("card_expired", Reason.ACCOUNT_BLOCKED),
    ("auto_account_expired", Reason.ACCOUNT_BLOCKED),
    ("auto_too_much_oweing", Reason.ACCOUNT_BLOCKED),
    ("auto_renew", Reason.OTHER),
    ("auto_too_late", Reason.OTHER),
    ("item_denied_renewal", Reason.OTHER),
    ("onsite_checkout", Reason.OTHER),
    ("no_checkout", Reason.NOT_FOUND),
    ("something_new", Reason.OTHER),
    ("", Reason.OTHER),
])
def test_renewal_codes(code, reason):
    assert mapping.renewal_reason(code) is reason


@pytest.mark.parametrize(("message", "code"), [
    ("Renewal not authorized (too_many)", "too_many"),
    ("Renewal not authorized (auto_too_much_oweing) ", "auto_too_much_oweing"),
    ("on_reserve", "on_reserve"),
    ("Something went wrong", ""),
    (None, ""),
])
def test_renewal_error_messages(message, code):
    assert mapping.renewal_error_code(message) == code


def test_forecasts():
    def forecast(allows, due=date(2024, 5, 30), window=7, blocked=False):
        return mapping.renewal_forecast(allows, due=due, today=TODAY, window_days=window, blocked=blocked)

    assert forecast({"allows_renewal": True}) == RenewalForecast(RenewalStatus.RENEWABLE)
    assert forecast({"allows_renewal": True}, blocked=True) == RenewalForecast(
        RenewalStatus.NOT_RENEWABLE, reason=Reason.ACCOUNT_BLOCKED)
    assert forecast({"allows_renewal": False, "error": "too_soon"}) == RenewalForecast(
        RenewalStatus.NOT_YET, available_from=date(2024, 5, 23), reason=Reason.TOO_SOON)
    # without the library's "No renewal before" days, the date is unknown: not renewable, too soon
    assert forecast({"allows_renewal": False, "error": "too_soon"}, window=None) == RenewalForecast(
        RenewalStatus.NOT_RENEWABLE, reason=Reason.TOO_SOON)
    # a window that says "already open" while Koha says too soon: trust Koha, no past date
    assert forecast({"allows_renewal": False, "error": "too_soon"}, due=date(2024, 5, 12)).status is \
        RenewalStatus.NOT_RENEWABLE
    assert forecast({"allows_renewal": False, "error": "on_reserve"}).reason is Reason.ON_HOLD


def test_due_dates_are_the_librarys_calendar_days():
    assert mapping.local_date("2024-05-20T23:59:00+09:00", TOKYO) == date(2024, 5, 20)
    assert mapping.local_date("2024-05-20T14:59:00Z", TOKYO) == date(2024, 5, 20)
    assert mapping.local_date("2024-05-20T15:00:00+00:00", TOKYO) == date(2024, 5, 21)
    assert mapping.local_date("2024-05-20 23:59:00", TOKYO) == date(2024, 5, 20)
    assert mapping.local_date("2024-05-20", TOKYO) == date(2024, 5, 20)
    assert mapping.local_date("soon", TOKYO) is None and mapping.local_date(None, TOKYO) is None


def test_a_loan():
    checkout = {"checkout_id": 7, "item_id": 70, "due_date": "2024-05-12T23:59:00+09:00",
                "checkout_date": "2024-04-28T10:00:00+09:00", "renewals_count": 1,
                "item": {"external_id": "3900001", "biblio": {"biblio_id": 5}}}
    biblio = {"biblio_id": 5, "title": "吾輩は猫である /", "author": "夏目, 漱石,"}
    loan = mapping.loan_from_checkout(checkout, biblio=biblio, forecast=RenewalForecast(RenewalStatus.RENEWABLE),
                                      today=TODAY, tz=TOKYO, due_soon_days=3, renewals_allowed=2)
    assert (loan.loan_id, loan.item_id, loan.title, loan.author, loan.record_id) == (
        "7", "3900001", "吾輩は猫である", "夏目, 漱石", "5")
    assert (loan.due_date, loan.overdue, loan.due_soon, loan.renewals_used, loan.renewals_allowed) == (
        date(2024, 5, 12), False, True, 1, 2)
    broken = mapping.loan_from_checkout({**checkout, "due_date": "someday"}, biblio=None,
                                        forecast=RenewalForecast(RenewalStatus.UNKNOWN), today=TODAY, tz=TOKYO,
                                        due_soon_days=3)
    assert broken.due_date is None and broken.due_date_raw == "someday" and broken.title == "3900001"


@pytest.mark.parametrize(("hold", "status", "cancellable"), [
    ({"status": "W"}, HoldStatus.READY, False),
    ({"status": "T"}, HoldStatus.IN_TRANSIT, False),
    ({"status": "P"}, HoldStatus.IN_TRANSIT, False),
    ({"status": None}, HoldStatus.WAITING, True),
    ({"status": None, "suspended": True}, HoldStatus.SUSPENDED, True),
])
def test_hold_statuses(hold, status, cancellable):
    row = {"hold_id": 1, "biblio_id": 2, "priority": 0 if hold["status"] else 3, **hold}
    mapped = mapping.hold_from_json(row, biblio={"biblio_id": 2, "title": "雪国"}, libraries={}, tz=TOKYO)
    assert (mapped.status, mapped.cancellable) == (status, cancellable)
    assert mapped.queue_position == (None if hold["status"] else 3)


def test_a_suspended_holds_end_date_is_the_librarys_day():
    row = {"hold_id": 9, "biblio_id": 2, "status": None, "priority": 2, "suspended": True,
           "suspended_until": "2024-06-01T00:00:00+09:00"}
    assert mapping.hold_from_json(row, biblio=None, libraries={}, tz=TOKYO).suspended_until == date(2024, 6, 1)
    until_resumed = mapping.hold_from_json({**row, "suspended_until": None}, biblio=None, libraries={}, tz=TOKYO)
    assert until_resumed.status is HoldStatus.SUSPENDED and until_resumed.suspended_until is None
    resumed = mapping.hold_from_json({**row, "suspended": False}, biblio=None, libraries={}, tz=TOKYO)
    assert resumed.suspended_until is None  # a stale date on a hold in the queue is not shown


def test_a_waiting_holds_expiration_is_its_pickup_deadline():
    row = {"hold_id": 9, "biblio_id": 2, "status": "W", "priority": 0, "pickup_library_id": "MAIN",
           "expiration_date": "2024-05-17", "waiting_date": "2024-05-10", "hold_date": "2024-05-01"}
    ready = mapping.hold_from_json(row, biblio=None, libraries={"MAIN": "本館"}, tz=TOKYO)
    assert (ready.pickup_deadline, ready.not_needed_after) == (date(2024, 5, 17), None)
    assert ready.pickup_location.name == "本館" and ready.title == "#2" and ready.placed_on == date(2024, 5, 1)
    queued = mapping.hold_from_json({**row, "status": None, "priority": 1}, biblio=None, libraries={}, tz=TOKYO)
    assert (queued.pickup_deadline, queued.not_needed_after, queued.queue_position) == (None, date(2024, 5, 17), 1)


@pytest.mark.parametrize(("message", "reason"), [
    ("Hold cannot be placed. Reason: tooManyReserves", Reason.TOO_MANY_HOLDS),
    ("Hold cannot be placed. Reason: tooManyHoldsForThisRecord", Reason.ALREADY_HELD),
    ("Hold cannot be placed. Reason: alreadypossession", Reason.ALREADY_ON_LOAN),
    ("Hold cannot be placed. Reason: notReservable", Reason.NOT_HOLDABLE),
    ("Hold cannot be placed. Reason: libraryNotPickupLocation", Reason.INVALID_PICKUP),
    ("The supplied pickup location is not valid", Reason.INVALID_PICKUP),
    ("Hold cannot be placed. Reason: somethingElse", Reason.OTHER),
])
def test_hold_refusals(message, reason):
    assert mapping.hold_refusal_reason(message) is reason


def test_blocks_and_names():
    patron = {"patron_id": 4, "cardnumber": "200", "surname": "田中", "firstname": "誠", "expiry_date": "2024-05-01",
              "restricted": True, "patron_card_lost": True, "account_balance": 2500, "overdues_count": 2}
    codes = [block.code for block in mapping.patron_blocks(patron, today=TODAY, fine_limit=Decimal(1000))]
    assert codes == [BlockCode.CARD_LOST, BlockCode.CARD_EXPIRED, BlockCode.RESTRICTED, BlockCode.FINES_OVER_LIMIT,
                     BlockCode.OVERDUE_LOANS]
    assert mapping.patron_blocks({"expiry_date": "2030-01-01"}, today=TODAY) == ()
    assert mapping.display_name(patron) == "田中 誠"
    assert mapping.display_name({"surname": "Carter", "firstname": "Emily"}) == "Emily Carter"
    assert mapping.display_name({"surname": "Carter", "firstname": "Emily", "preferred_name": "Em"}) == "Em Carter"
    assert mapping.display_name({"surname": None, "firstname": None, "cardnumber": "123"}) == "123"
    assert mapping.is_locked({"login_attempts": -1}, None) and mapping.is_locked({"login_attempts": 5}, 5)
    assert not mapping.is_locked({"login_attempts": 4}, 5) and not mapping.is_locked({"login_attempts": 9}, None)


def test_a_record():
    biblio = {"biblio_id": 3, "title": "Emma.", "subtitle": "a novel /", "author": "Austen, Jane,",
              "isbn": "9780141439587 | 0141439580", "publisher": "Penguin,", "copyright_date": "c2003"}
    items = [{"checked_out_date": None}, {"checked_out_date": "2024-05-01"}, {"lost_status": 1}]
    record = mapping.record_from_biblio(biblio, items=items, holds=2)
    assert (record.record_id, record.title, record.author, record.isbn, record.publisher, record.year) == (
        "3", "Emma : a novel", "Austen, Jane", "9780141439587", "Penguin", 2003)
    assert (record.copies, record.available, record.holds) == (3, 1, 2)
    assert mapping.record_from_biblio({"biblio_id": 4}).title == "#4"


def test_charges():
    line = {"description": "弁償金", "amount": 2500, "amount_outstanding": 2000, "date": "2024-04-20T10:00:00+09:00",
            "debit_type": "MANUAL"}
    charge = mapping.charge_from_line(line, TOKYO)
    assert (charge.amount, charge.outstanding, charge.date, charge.kind) == (
        Decimal(2500), Decimal(2000), date(2024, 4, 20), "MANUAL")

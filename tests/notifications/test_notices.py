"""`flask notices run`: hold-ready notices and due-date reminders from the demo ILS, each sent once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from adapters.errors import IlsUnavailable
from adapters.models import HoldStatus
from extensions import db
from notifications.ledger import Ledger, LedgerRow, NoticeKey
from notifications.notices import NoticeRun, message_id
from tests.notifications.conftest import FakeIls, register_address, use_fake_ils
from tests.notifications.smtp import body

HOLD_READY, REGULAR, ENGLISH = "P004", "P001", "P010"


@pytest.fixture
def adapter(app):
    return app.extensions["shiori.adapter"]


def run(runner):
    result = runner.invoke(args=["notices", "run"])
    return result


def test_a_ready_hold_is_announced_once(app, adapter, runner, smtp):
    register_address(app, HOLD_READY, "misaki@example.jp", due_soon=False)
    [hold] = [h for h in adapter.holds(HOLD_READY) if h.status is HoldStatus.READY]

    first = run(runner)
    assert first.exit_code == 0, first.output
    assert re.search(r"notices: 1 patrons scanned, 1 notices sent \(1 hold-ready, 0 due-date\), 0 errors", first.output)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "misaki@example.jp"
    assert message["Subject"] == "[しおり市立図書館] A reserved book is ready for pickup" or "予約" in message["Subject"]
    assert hold.title not in message["Subject"]  # titles stay out of subjects (lock screens)
    text, html = body(message), body(message, "html")
    for part in (text, html):
        assert hold.title in part
        assert hold.pickup_location.name in part
        assert f"{hold.pickup_deadline.month}月{hold.pickup_deadline.day}日" in part
        assert "http://localhost/holds" in part

    second = run(runner)
    assert second.exit_code == 0
    assert "0 notices sent" in second.output
    assert len(smtp.sink.messages) == 1


def test_a_hold_that_becomes_ready_later_gets_its_own_notice(app, adapter, runner, smtp):
    register_address(app, HOLD_READY, "misaki@example.jp", due_soon=False)
    run(runner)
    [in_transit] = [h for h in adapter.holds(HOLD_READY) if h.status is HoldStatus.IN_TRANSIT]
    adapter.advance_clock(1)  # the copy in transit arrives at the pickup branch
    assert "1 notices sent" in run(runner).output
    messages = smtp.sink.wait_for(2)
    assert len(messages) == 2 and in_transit.title in body(messages[1])
    assert "0 notices sent" in run(runner).output


def test_checkin_makes_a_waiting_hold_ready_and_the_next_run_sends_it(app, adapter, runner, smtp):
    # The demo's English patron waits first in the queue for R0011, whose three copies are all lent.
    register_address(app, ENGLISH, "emily@example.com", language="en", due_soon=False)
    assert "0 notices sent" in run(runner).output
    checkin = runner.invoke(args=["demo", "checkin", "I0011-1"])
    assert "is ready for pickup" in checkin.output, checkin.output
    [hold] = [h for h in adapter.holds(ENGLISH) if h.status is HoldStatus.READY]
    assert "1 notices sent (1 hold-ready" in run(runner).output
    [message] = smtp.sink.wait_for(1)
    assert message["Content-Language"] == "en" and message["To"] == "emily@example.com"
    text = body(message)
    assert "A book you reserved is ready for pickup." in text
    assert hold.title in text and "Pick up by: " + hold.pickup_deadline.strftime("%a, %-d %b %Y") in text
    assert "0 notices sent" in run(runner).output


def test_due_date_reminder_lists_what_is_due_and_what_can_be_renewed(app, adapter, runner, smtp):
    register_address(app, REGULAR, "hanako@example.jp", hold_ready=False)
    today = adapter.today()
    due = [loan for loan in adapter.loans(REGULAR) if today <= loan.due_date <= today + timedelta(days=3)]
    assert due, "the regular demo patron has a loan due soon"
    assert "1 due-date" in run(runner).output
    [message] = smtp.sink.wait_for(1)
    text = body(message)
    for loan in due:
        assert loan.title in text
        assert f"{loan.due_date.month}月{loan.due_date.day}日" in text
    assert "延長できます" in text or "Can be renewed" in text
    assert "http://localhost/loans" in text and "http://localhost/loans" in body(message, "html")
    not_due = [loan for loan in adapter.loans(REGULAR) if loan.due_date > today + timedelta(days=3)]
    assert all(loan.title not in text for loan in not_due)
    assert "0 notices sent" in run(runner).output


def test_a_renewed_loan_is_reminded_again_before_its_new_due_date(app, adapter, runner, smtp):
    register_address(app, REGULAR, "hanako@example.jp", hold_ready=False)
    run(runner)
    renewable = [loan for loan in adapter.loans(REGULAR) if loan.forecast.status == "renewable"]
    soon = min(renewable, key=lambda loan: loan.due_date)
    assert adapter.renew(REGULAR, [soon.loan_id]).renewed_count == 1
    new_due = next(loan for loan in adapter.loans(REGULAR) if loan.loan_id == soon.loan_id).due_date
    adapter.advance_clock((new_due - adapter.today()).days - 2)
    run(runner)
    assert any(soon.title in body(m) for m in smtp.sink.messages[1:])


def test_notices_go_in_the_patrons_language(app, runner, smtp):
    register_address(app, ENGLISH, "emily@example.com", language="en", due_soon=False)
    register_address(app, HOLD_READY, "misaki@example.jp", language="ja", due_soon=False)
    runner.invoke(args=["demo", "checkin", "I0011-1"])
    assert "2 notices sent" in run(runner).output
    [english] = smtp.sink.to("emily@example.com")
    [japanese] = smtp.sink.to("misaki@example.jp")
    assert english["Content-Language"] == "en" and english["Subject"].startswith("[Shiori City Library] ")
    assert "Pickup location: " in body(english) and "Pickup location" in body(english, "html")
    assert japanese["Content-Language"] == "ja" and japanese["Subject"].startswith("[しおり市立図書館] ")
    assert "受取館: " in body(japanese) and "受取館" in body(japanese, "html")
    # The pickup location in each language (the demo library names its branches in both).
    location = re.search(r"Pickup location: (.+)", body(english)).group(1).strip()
    assert location.isascii() and location in body(english, "html"), location
    assert not re.search(r"受取館: [ -~]+$", body(japanese), re.MULTILINE)


def test_only_confirmed_opted_in_addresses_get_notices(app, runner, smtp):
    register_address(app, HOLD_READY, "unconfirmed@example.jp", confirmed=False)
    register_address(app, REGULAR, "opted-out@example.jp", hold_ready=False, due_soon=False)
    output = run(runner).output
    assert "0 patrons scanned, 0 notices sent" in output
    assert smtp.sink.messages == []


def test_opting_out_of_one_kind_keeps_the_other(app, runner, smtp):
    register_address(app, "P006", "sakura@example.jp", hold_ready=True, due_soon=False)
    output = run(runner).output
    assert "0 due-date" in output


def test_a_failing_mail_server_loses_nothing(app, runner, smtp):
    register_address(app, HOLD_READY, "misaki@example.jp")
    register_address(app, REGULAR, "hanako@example.jp")
    smtp.sink.refuse = True
    failed = run(runner)
    assert failed.exit_code == 1 and re.search(r"0 notices sent .* [1-9] errors", failed.output)
    smtp.sink.refuse = False
    again = run(runner)
    assert again.exit_code == 0 and "0 errors" in again.output
    assert len(smtp.sink.wait_for(2)) == 2
    assert "0 notices sent" in run(runner).output
    assert len(smtp.sink.messages) == 2


def test_a_notice_that_keeps_failing_is_given_up(app, runner, smtp):
    app.config["NOTICE_MAX_ATTEMPTS"] = 2
    register_address(app, HOLD_READY, "misaki@example.jp", due_soon=False)
    smtp.sink.refuse = True
    run(runner)
    run(runner)
    smtp.sink.refuse = False
    assert "0 notices sent" in run(runner).output
    with app.app_context():
        assert Ledger(db.engine).counts() == {"failed": 1}


def test_an_ils_failure_for_one_patron_is_counted_and_the_rest_go_on(app, adapter, runner, smtp, monkeypatch):
    register_address(app, HOLD_READY, "misaki@example.jp", due_soon=False)
    register_address(app, REGULAR, "hanako@example.jp", hold_ready=False)
    real_holds = adapter.holds

    def holds(patron_key):
        if patron_key == HOLD_READY:
            raise IlsUnavailable("down")
        return real_holds(patron_key)

    monkeypatch.setattr(adapter, "holds", holds)
    result = run(runner)
    assert result.exit_code == 1
    assert "2 patrons scanned, 1 notices sent (0 hold-ready, 1 due-date), 1 errors" in result.output
    monkeypatch.setattr(adapter, "holds", real_holds)
    assert "1 notices sent (1 hold-ready" in run(runner).output


def test_message_ids_come_from_the_ledger_row(app, smtp):
    """A notice sent again after a crash in the last window carries the same Message-ID as the first copy."""
    fake = use_fake_ils(app, FakeIls(patrons=2, holds=1, loans=1))
    NoticeRun(app).run()
    messages = smtp.sink.wait_for(4)
    ids = [m["Message-ID"] for m in messages]
    assert len(set(ids)) == 4 and all(i.startswith("<notice.") and i.endswith("@example.jp>") for i in ids)
    assert fake.calls == 4  # holds and loans, once per patron
    with app.app_context():
        rows = Ledger(db.engine).register("F0000", [NoticeKey("hold_ready", "HF0000-0", "2026-12-01")])
        assert rows == []  # already sent: nothing to deliver
        from sqlalchemy import select

        from store.models import NoticeLedger

        row = db.session.execute(select(NoticeLedger).where(NoticeLedger.subject == "HF0000-0")).scalar_one()
        again = message_id(app.config, "F0000", [LedgerRow(row.id, row.kind, row.subject, row.event, row.state)])
    assert again in ids


def test_ils_concurrency_is_bounded(app, smtp, monkeypatch):
    import threading
    import time

    fake = use_fake_ils(app, FakeIls(patrons=24, holds=0, loans=0))
    app.config["NOTICE_ILS_CONCURRENCY"] = 3
    active, peak, lock = 0, 0, threading.Lock()
    real = fake.holds

    def holds(patron_key):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1
        return real(patron_key)

    monkeypatch.setattr(fake, "holds", holds)
    summary = NoticeRun(app).run()
    assert summary.patrons == 24 and summary.errors == 0
    assert peak == 3


def test_a_patron_the_ils_no_longer_knows_is_skipped_not_an_error(app, runner, smtp):
    register_address(app, "P999", "gone@example.jp")  # e.g. a card withdrawn since the address was confirmed
    register_address(app, HOLD_READY, "misaki@example.jp", due_soon=False)
    result = run(runner)
    assert result.exit_code == 0 and "2 patrons scanned, 1 notices sent" in result.output and "0 errors" in result.output

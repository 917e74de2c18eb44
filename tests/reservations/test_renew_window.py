""""Tell me when I can renew": a mail on the demo day a loan's renewal window opens, through a real
SMTP server on loopback, exactly once, in the patron's language; per loan, or for every loan."""

from __future__ import annotations

from extensions import db
from notifications.ledger import RENEWABLE
from notifications.notices import NoticeRun
from store.models import Preference
from store.renewal_watch import watch, watched_loans
from tests.notifications.conftest import register_address
from tests.notifications.smtp import body, smtp  # noqa: F401

REGULAR = "P001"  # loans due in 2, 6 and 11 days; renewal opens 7 days before the due date


def app_config_with_mail(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost",
                      MAIL_FROM="library@example.jp")
    return app_config


import pytest  # noqa: E402


@pytest.fixture
def app_config(app_config, smtp):  # noqa: F811
    return app_config_with_mail(app_config, smtp)


def run(app):
    return NoticeRun(app, kinds=(RENEWABLE,)).run()


def keep_only_the_latest_loan(demo):
    """Return the loans due sooner (else they would be overdue by then, and nothing renews)."""
    loans = sorted(demo.loans(REGULAR), key=lambda loan: loan.due_date)
    for loan in loans[:-1]:
        demo.checkin(loan.item_id)
    return loans[-1]


def test_a_watched_loan_is_mailed_on_the_day_renewal_opens_and_only_then(app, smtp):  # noqa: F811
    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR, "taro@example.jp", hold_ready=False, due_soon=False)
    later = keep_only_the_latest_loan(demo)
    opens = later.forecast.available_from
    assert opens is not None and later.forecast.status.value == "not_yet"
    with app.app_context():
        watch(REGULAR, later.loan_id)
    days = (opens - demo.today()).days
    demo.advance_clock(days - 1)
    assert run(app).renewable == 0 and smtp.sink.messages == []  # the day before: nothing
    demo.advance_clock(1)
    summary = run(app)
    assert summary.renewable == 1 and summary.errors == 0
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "taro@example.jp"
    text, html = body(message), body(message, "html")
    for part in (text, html):
        assert later.title in part and "延長できるようになりました" in part
        assert "http://localhost/loans" in part
    assert later.title not in message["Subject"]
    assert run(app).renewable == 0 and len(smtp.sink.messages) == 1  # exactly once
    with app.app_context():
        assert watched_loans(REGULAR) == set()  # done with


def test_two_overlapping_runs_send_it_once(app, smtp):  # noqa: F811
    import threading

    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR, "taro@example.jp", hold_ready=False, due_soon=False)
    later = keep_only_the_latest_loan(demo)
    with app.app_context():
        watch(REGULAR, later.loan_id)
    demo.advance_clock((later.forecast.available_from - demo.today()).days)
    results = []
    threads = [threading.Thread(target=lambda: results.append(run(app))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result.renewable for result in results) == 1
    assert len(smtp.sink.wait_for(1)) == 1


def test_every_loan_from_settings_in_english(app, smtp):  # noqa: F811
    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR, "taro@example.jp", language="en", hold_ready=False, due_soon=False)
    with app.app_context():
        preference = db.session.get(Preference, REGULAR)
        preference.notify_renewable = True
        db.session.commit()
    assert run(app).renewable == 0  # the loans already renewable are not news; the others are watched now
    later = keep_only_the_latest_loan(demo)
    demo.advance_clock((later.forecast.available_from - demo.today()).days)
    assert run(app).renewable == 1
    [message] = smtp.sink.wait_for(1)
    assert "You can now renew your books" in message["Subject"]
    assert later.title in body(message) and "Renewal has opened for 1 book you borrowed." in body(message)


def test_the_loans_page_offers_the_mail_for_a_loan_not_yet_renewable(app, auth, client):
    from tests.conftest import csrf_token

    demo = app.extensions["shiori.adapter"]
    auth.login("2000000001", "yamada2024")
    page = client.get("/loans").get_data(as_text=True)
    assert "メールアドレスを登録してください" in page and "延長できるようになったら知らせる" not in page
    register_address(app, REGULAR, "taro@example.jp")
    page = client.get("/loans").get_data(as_text=True)
    later = next(loan for loan in demo.loans(REGULAR) if loan.forecast.status.value == "not_yet")
    assert page.count("延長できるようになったら知らせる") == 1
    other = demo.loans("P007")[0]  # another patron's loan id is refused, nothing stored
    client.post("/loans/watch", data={"csrf_token": csrf_token(page), "watch": other.loan_id})
    assert "その資料はお知らせの対象にできません。" in client.get("/loans").get_data(as_text=True)
    client.post("/loans/watch", data={"csrf_token": csrf_token(page), "watch": later.loan_id})
    page = client.get("/loans").get_data(as_text=True)
    assert "メールでお知らせします" in page and "このお知らせをやめる" in page
    with app.app_context():
        assert watched_loans(REGULAR) == {later.loan_id}
        assert watched_loans("P007") == set()


def test_turning_every_loan_off_drops_the_watches_it_made_and_keeps_the_patrons_own(app, auth, client, smtp):  # noqa: F811
    from tests.conftest import csrf_token

    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR, "taro@example.jp", hold_ready=False, due_soon=False)
    auth.login("2000000001", "yamada2024")
    page = client.get("/settings").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "email": "taro@example.jp", "language": "ja"}
    client.post("/settings", data={**form, "notify_renewable": "y"})
    run(app)  # watches every loan not yet renewable
    with app.app_context():
        automatic = watched_loans(REGULAR)
        assert automatic
        other = demo.loans(REGULAR)[0].loan_id
        watch(REGULAR, other)  # asked for on the loans page
    client.post("/settings", data=form)  # "every loan" unticked
    with app.app_context():
        assert watched_loans(REGULAR) == ({other} if other not in automatic else set())
        assert not db.session.get(Preference, REGULAR).notify_renewable

"""The menu, loans with renewal, and holds with cancellation, through the pages."""

from __future__ import annotations

from adapters.models import HoldStatus, Reason, RenewalStatus


def text(response) -> str:
    return response.get_data(as_text=True)


def test_menu_shows_counts_and_alerts(client, login_as):
    login_as("overdue")
    page = text(client.get("/"))
    assert "返却期限を過ぎた資料が2冊あります" in page


def test_menu_announces_holds_ready_for_pickup(client, login_as, adapter, patron):
    login_as("hold-ready")
    ready = [h for h in adapter.holds(patron("hold-ready").key) if h.status is HoldStatus.READY]
    assert ready
    assert f"ご予約の資料が{len(ready)}冊用意できています" in text(client.get("/"))


def test_menu_shows_account_blocks(client, login_as):
    login_as("blocked")
    assert "有効期限が切れています" in text(client.get("/"))


def test_loans_page_lists_every_loan_with_its_due_date_and_forecast(client, login_as, adapter, patron):
    demo = login_as("renewable")
    page = text(client.get("/loans"))
    for loan in adapter.loans(demo.key):
        assert loan.title in page
    assert "ほかの方が予約しているため" in page  # the forecast's reason is shown before trying


def test_renew_selected_shows_one_outcome_per_loan(auth, client, login_as, adapter, patron):
    demo = login_as("renewable")
    loans = adapter.loans(demo.key)
    renewable = next(loan for loan in loans if loan.forecast.status is RenewalStatus.RENEWABLE)
    reserved = next(loan for loan in loans if loan.forecast.reason is Reason.ON_HOLD)
    response = auth.post_form("/loans", "/loans/renew", {"loan": [renewable.loan_id, reserved.loan_id]})
    assert response.location == "/loans"
    page = text(client.get("/loans"))
    assert "1冊を延長しました" in page and "1冊は延長できませんでした" in page
    assert "延長しました。新しい返却期限" in page
    assert "ほかの方が予約しているため" in page
    after = {loan.loan_id: loan for loan in adapter.loans(demo.key)}
    assert after[renewable.loan_id].due_date > renewable.due_date
    assert after[reserved.loan_id].due_date == reserved.due_date
    assert "延長手続きの結果" not in text(client.get("/loans"))  # outcomes are shown once


def test_renew_all_reports_each_loan(auth, client, login_as, adapter):
    demo = login_as("renewable")
    before = adapter.loans(demo.key)
    auth.post_form("/loans", "/loans/renew", {"action": "all"})
    page = text(client.get("/loans"))
    for loan in before:
        assert loan.title in page.split("延長手続きの結果")[1].split("</section>")[0]


def test_overdue_patron_is_told_why_nothing_renews(auth, client, login_as, adapter):
    demo = login_as("overdue")
    auth.post_form("/loans", "/loans/renew", {"action": "all"})
    page = text(client.get("/loans"))
    assert "延長できませんでした" in page
    assert all(loan.overdue or loan.forecast.status is not RenewalStatus.RENEWABLE for loan in adapter.loans(demo.key))


def test_another_patrons_loan_id_is_refused_and_left_alone(auth, client, login_as, adapter, patron):
    victim = patron("regular")
    victim_loans = adapter.loans(victim.key)
    login_as("renewable")
    response = auth.post_form("/loans", "/loans/renew", {"loan": [loan.loan_id for loan in victim_loans]})
    assert response.location == "/loans"
    assert "見つかりません" in text(client.get("/loans"))
    assert adapter.loans(victim.key) == victim_loans


def test_renew_with_nothing_selected_asks_to_choose(auth, client, login_as):
    login_as("regular")
    auth.post_form("/loans", "/loans/renew", {})
    assert "延長する資料を選んでください" in text(client.get("/loans"))


def test_holds_page_shows_status_position_and_deadline(client, login_as, adapter):
    demo = login_as("hold-ready")
    page = text(client.get("/holds"))
    holds = adapter.holds(demo.key)
    assert {HoldStatus.READY, HoldStatus.IN_TRANSIT, HoldStatus.WAITING} <= {hold.status for hold in holds}
    assert "受取可能" in page and "取置期限" in page and "配送中" in page
    waiting = next(hold for hold in holds if hold.status is HoldStatus.WAITING)
    assert f"{waiting.queue_position}番目" in page


def test_pickup_locations_are_named_in_the_page_language(client, login_as, adapter):
    demo = login_as("hold-ready")
    location = next(hold.pickup_location for hold in adapter.holds(demo.key) if hold.pickup_location)
    english = location.name_in("en")
    assert english != location.name and english.isascii()
    assert f"<dd>{location.name}</dd>" in text(client.get("/holds"))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as session:
        session["language"] = "en"
    assert f"<dd>{english}</dd>" in text(client.get("/holds"))
    form = text(client.get("/holds/new?record=R0150"))
    assert english in form and location.name not in form


def test_cancel_a_hold(auth, client, login_as, adapter):
    demo = login_as("regular")
    hold = adapter.holds(demo.key)[0]
    response = auth.post_form("/holds", "/holds/cancel", {"hold": hold.hold_id})
    assert response.location == "/holds"
    assert "1件の予約を取り消しました" in text(client.get("/holds"))
    assert hold.hold_id not in {h.hold_id for h in adapter.holds(demo.key)}


def test_another_patrons_hold_id_is_refused_and_left_alone(auth, client, login_as, adapter, patron):
    victim = patron("hold-ready")
    victim_holds = adapter.holds(victim.key)
    login_as("regular")
    auth.post_form("/holds", "/holds/cancel", {"hold": [hold.hold_id for hold in victim_holds]})
    assert "取り消せませんでした" in text(client.get("/holds"))
    assert adapter.holds(victim.key) == victim_holds


def test_account_pages_need_a_login(client):
    for url in ["/loans", "/holds", "/settings", "/holds/new?record=R0001"]:  # / is the start page (test_start.py)
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login"), url


def test_pause_and_resume_a_reservation(auth, client, login_as, adapter):
    demo = login_as("regular")
    waiting = next(hold for hold in adapter.holds(demo.key) if hold.status.value == "waiting")
    response = auth.post_form("/holds", "/holds/suspend", {"suspend": waiting.hold_id})
    assert response.location == "/holds"
    page = text(client.get("/holds"))
    assert "予約を一時停止しました" in page and 'name="resume"' in page
    assert {h.hold_id: h for h in adapter.holds(demo.key)}[waiting.hold_id].status.value == "suspended"
    auth.post_form("/holds", "/holds/resume", {"resume": waiting.hold_id})
    assert {h.hold_id: h for h in adapter.holds(demo.key)}[waiting.hold_id].status.value == "waiting"


def test_another_patrons_hold_cannot_be_paused(auth, client, login_as, adapter, patron):
    victim = patron("hold-ready")
    before = adapter.holds(victim.key)
    login_as("regular")
    for hold in before:
        auth.post_form("/holds", "/holds/suspend", {"suspend": hold.hold_id})
    assert adapter.holds(victim.key) == before
    assert "見つかりませんでした" in text(client.get("/holds"))

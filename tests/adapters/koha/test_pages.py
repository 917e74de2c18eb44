"""The portal end to end on Koha: the Flask app with ADAPTER="koha", its adapter talking to the fake
Koha through respx (every request and answer checked against Koha's contract), driven through the
pages as a browser would (the login form, CSRF tokens, redirects)."""

from __future__ import annotations

import re

import httpx
import pytest

from adapters.demo.seed import BY_CASE
from adapters.koha import KohaAdapter
from adapters.models import Reason, RenewalStatus
from app import create_app
from tests.adapters.koha.conftest import KOHA_CONFIG, VALIDATING
from views.metrics import count_cache_lookup


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def app(app_config, koha, fake):
    app_config.update(KOHA_CONFIG, ADAPTER="koha")
    app = create_app(app_config)
    built = app.extensions["shiori.adapter"]
    inner = getattr(built, "inner", built)  # the app may wrap the adapter (adapters.resilience)
    assert isinstance(inner, KohaAdapter)  # what PORTAL_ADAPTER=koha gives; now put it on the fake Koha
    inner.close()
    on_fake = KohaAdapter.from_config(app.config, transport=koha.transport, today=lambda: fake.today)
    on_fake.observe_cache(count_cache_lookup)  # as app.register_adapter does for the adapter it built
    if built is inner:
        app.extensions["shiori.adapter"] = on_fake
    else:
        built.inner = on_fake
    yield app
    on_fake.close()


@pytest.fixture
def ils(app) -> KohaAdapter:
    built = app.extensions["shiori.adapter"]
    return getattr(built, "inner", built)


@pytest.fixture
def login_as(auth):
    def login(case: str, password: str | None = None):
        demo = BY_CASE[case]
        response = auth.login(demo.card, password or demo.password)
        assert response.status_code == 302, text(response)
        return demo

    return login


def patron_key(fake, case: str) -> str:
    return str(fake.patron_by_card(BY_CASE[case].card)["patron_id"])


@pytest.mark.parametrize("koha_version", VALIDATING)  # 22.11: test_koha_2211_end_to_end_... below
def test_log_in_and_see_loans_with_their_titles(client, login_as, ils, fake, koha):
    login_as("regular")
    assert "山田 花子" in text(client.get("/"))
    page = text(client.get("/loans"))
    loans = ils.loans(patron_key(fake, "regular"))
    assert len(loans) == 3
    for loan in loans:
        assert loan.title in page
    not_yet = next(loan for loan in loans if loan.forecast.status is RenewalStatus.NOT_YET)
    opens = not_yet.forecast.available_from
    assert f"{opens.year}年{opens.month}月{opens.day}日" in page and "から延長できます" in page
    assert any(path.startswith("/api/v1/auth/password/validation") for _, path in koha.requests("POST"))


def cache_lookups(client, cache: str, result: str) -> float:
    """The value of ``shiori_cache_lookups_total`` for one cache and result, read from /metrics."""
    body = text(client.get("/metrics"))
    sample = re.search(rf'^shiori_cache_lookups_total\{{cache="{cache}",result="{result}"\}} (\S+)$', body, re.M)
    return float(sample.group(1)) if sample else 0.0


def test_title_cache_hits_and_misses_reach_the_metrics(client, login_as):
    """Koha's title cache is counted as the SIP2 item cache is: the first reservations page misses
    every title, the second hits each of them."""
    login_as("hold-ready")
    before = {result: cache_lookups(client, "koha_biblios", result) for result in ("hit", "miss")}
    client.get("/holds")
    misses = cache_lookups(client, "koha_biblios", "miss") - before["miss"]
    assert misses > 0 and cache_lookups(client, "koha_biblios", "hit") == before["hit"]
    client.get("/holds")
    assert cache_lookups(client, "koha_biblios", "hit") - before["hit"] == misses
    assert cache_lookups(client, "koha_biblios", "miss") - before["miss"] == misses


def test_renew_shows_koha_s_refusal_reason(auth, client, login_as, ils, fake):
    login_as("renewable")
    loans = ils.loans(patron_key(fake, "renewable"))
    renewable = next(loan for loan in loans if loan.forecast.status is RenewalStatus.RENEWABLE)
    reserved = next(loan for loan in loans if loan.forecast.reason is Reason.ON_HOLD)
    assert "ほかの方が予約しているため" in text(client.get("/loans"))  # the forecast, before trying
    response = auth.post_form("/loans", "/loans/renew", {"loan": [renewable.loan_id, reserved.loan_id]})
    assert response.location == "/loans"
    page = text(client.get("/loans"))
    assert "1冊を延長しました" in page and "1冊は延長できませんでした" in page
    outcomes = page.split("</section>")[0]
    assert "延長しました。新しい返却期限" in outcomes
    assert "延長できませんでした。 ほかの方が予約しているため" in re.sub(r"\s+", " ", outcomes)
    after = {loan.loan_id: loan for loan in ils.loans(patron_key(fake, "renewable"))}
    assert after[renewable.loan_id].due_date > renewable.due_date
    assert after[reserved.loan_id].due_date == reserved.due_date


def test_renew_all_as_a_blocked_patron_says_why(auth, client, login_as, koha):
    login_as("blocked")
    assert "有効期限が切れています" in text(client.get("/loans"))
    koha.reset_calls()
    auth.post_form("/loans", "/loans/renew", {"action": "all"})
    assert not koha.requests("POST")  # refused by the portal, as Koha's OPAC would, without asking Koha
    assert "延長できませんでした" in text(client.get("/loans"))


def test_place_and_cancel_a_hold(auth, client, login_as, holdable, ils, fake):
    biblio_id, _, title = holdable
    login_as("regular")
    form = text(client.get(f"/holds/new?record={biblio_id}"))
    assert title in form and 'value="MAIN"' in form
    response = auth.post_form(f"/holds/new?record={biblio_id}", "/holds/new",
                              {"record": str(biblio_id), "pickup_location": "NORTH"})
    assert response.status_code == 302 and response.location == "/holds"
    page = text(client.get("/holds"))
    assert f"予約しました：{title}" in page and title in page
    hold = next(hold for hold in ils.holds(patron_key(fake, "regular")) if hold.record_id == str(biblio_id))
    assert hold.pickup_location.location_id == "NORTH"
    response = auth.post_form("/holds", "/holds/cancel", {"hold": [hold.hold_id]})
    assert response.location == "/holds"
    assert "1件の予約を取り消しました" in text(client.get("/holds"))
    assert hold.hold_id not in {h.hold_id for h in ils.holds(patron_key(fake, "regular"))}


def test_a_hold_koha_refuses_is_explained(auth, client, login_as, ils, fake):
    login_as("regular")
    on_loan = ils.loans(patron_key(fake, "regular"))[0].record_id
    response = auth.post_form(f"/holds/new?record={on_loan}", "/holds/new",
                              {"record": on_loan, "pickup_location": "MAIN"})
    assert response.status_code == 200  # the form again, with Koha's reason (alreadypossession) in words
    assert "この資料はすでに借りています" in text(response)


def test_first_login_changes_the_expired_password(auth, client, fake):
    demo = BY_CASE["first-login"]
    response = auth.login(demo.card, demo.password)
    assert response.location == "/password/initial"
    response = auth.post_form("/password/initial", "/password/initial",
                              {"current": demo.password, "new": "Sakura2025x", "confirm": "Sakura2025x"})
    assert response.status_code == 302 and response.location == "/"
    assert "パスワードを変更しました" in text(client.get("/"))
    auth.logout()
    assert auth.login(demo.card, demo.password).status_code == 200  # the old one no longer works
    assert auth.login(demo.card, "Sakura2025x").location == "/"


def test_voluntary_password_change_goes_through_the_public_route(auth, client, login_as, koha):
    demo = login_as("english")
    koha.reset_calls()
    response = auth.post_form("/settings/password", "/settings/password",
                              {"current": demo.password, "new": "Emily2025new", "confirm": "Emily2025new"})
    assert response.status_code == 302, text(response)
    (change,) = [call.request for call in koha.router.calls if call.request.url.path.endswith("/password")]
    assert change.url.path.startswith("/api/v1/public/patrons/")
    assert change.headers["authorization"].startswith("Basic ")  # as the patron, not the API client
    auth.logout()
    assert auth.login(demo.card, "Emily2025new").location == "/"


def test_a_password_koha_finds_too_weak_is_shown_on_the_form(auth, client, login_as):
    demo = login_as("english")
    response = auth.post_form("/settings/password", "/settings/password",
                              {"current": demo.password, "new": "alllower123", "confirm": "alllower123"})
    assert response.status_code == 200
    assert "Password is too weak" in text(response)


def test_wrong_password_and_locked_card(auth, fake):
    demo = BY_CASE["regular"]
    assert "正しくありません" in text(auth.login(demo.card, "nope"))
    locked = BY_CASE["locked"]
    assert "ロックされています" in text(auth.login(locked.card, locked.password))


def test_koha_down_shows_the_unavailable_page(client, login_as, koha):
    login_as("regular")
    koha.fail("GET", "/api/v1/patrons", httpx.ConnectError("refused"), times=None)
    response = client.get("/loans")
    assert response.status_code == 503
    assert "図書館のシステムが利用できません" in text(response)


@pytest.mark.parametrize("koha_version", VALIDATING)  # 22.11 has no GET /biblios
def test_catalogue_search_and_record_page(client, login_as, holdable):
    biblio_id, _, title = holdable
    login_as("regular")
    page = text(client.get("/search", query_string={"q": title}))
    assert title in page and f"/records/{biblio_id}" in page
    record = text(client.get(f"/records/{biblio_id}"))
    assert title in record
    assert client.get("/records/999999").status_code == 404
    assert client.get("/records/R0001").status_code == 404


@pytest.mark.parametrize("koha_version", ["22.11"])
def test_koha_2211_end_to_end_with_passwords_checked_as_the_patron(auth, client, login_as, ils, fake, koha):
    login_as("regular")
    page = text(client.get("/loans"))
    assert all(loan.title in page for loan in ils.loans(patron_key(fake, "regular")))
    checks = [call.request for call in koha.router.calls
              if call.request.url.path == f"/api/v1/patrons/{patron_key(fake, 'regular')}"]
    assert checks and checks[0].headers["authorization"].startswith("Basic ")
    assert not koha.requests("POST", "/api/v1/auth/password/validation")
    auth.logout()
    assert "正しくありません" in text(auth.login(BY_CASE["regular"].card, "nope"))
    locked = BY_CASE["locked"]
    assert "ロックされています" in text(auth.login(locked.card, locked.password))
    demo = BY_CASE["first-login"]
    assert auth.login(demo.card, demo.password).location == "/password/initial"
    response = auth.post_form("/password/initial", "/password/initial",
                              {"current": demo.password, "new": "Sakura2025x", "confirm": "Sakura2025x"})
    assert response.status_code == 302 and response.location == "/"
    auth.logout()
    assert auth.login(demo.card, "Sakura2025x").location == "/"


def test_pause_and_resume_a_reservation_on_koha(auth, client, login_as, ils, fake, koha):
    login_as("regular")
    key = patron_key(fake, "regular")
    waiting = next(hold for hold in ils.holds(key) if hold.status.value == "waiting")
    assert auth.post_form("/holds", "/holds/suspend", {"suspend": waiting.hold_id}).location == "/holds"
    page = text(client.get("/holds"))
    assert "予約を一時停止しました" in page and 'name="resume"' in page
    assert fake.holds[int(waiting.hold_id)]["suspended"] is True
    auth.post_form("/holds", "/holds/resume", {"resume": waiting.hold_id})
    assert fake.holds[int(waiting.hold_id)]["suspended"] is False
    assert [method for method, path in koha.requests() if path.endswith("/suspension")] == ["POST", "DELETE"]


def test_another_patrons_reservation_cannot_be_paused_on_koha(auth, client, login_as, fake, koha):
    victim = [hold_id for hold_id, hold in fake.holds.items()
              if hold["patron_id"] == int(patron_key(fake, "hold-ready"))]
    login_as("regular")
    koha.reset_calls()
    for hold_id in victim:
        auth.post_form("/holds", "/holds/suspend", {"suspend": str(hold_id)})
    assert not any(path.endswith("/suspension") for _, path in koha.requests())
    assert not any(fake.holds[hold_id]["suspended"] for hold_id in victim)
    assert "見つかりませんでした" in text(client.get("/holds"))

"""Login, logout, the forced password change, the idle timeout and bad input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from extensions import db
from store.sessions import LoginSession
from tests.conftest import csrf_token
from tests.views.test_reset import allowed_again_at


def page_text(response) -> str:
    return response.get_data(as_text=True)


def test_csrf_is_on_by_default(client, patron):
    regular = patron("regular")
    response = client.post("/login", data={"card_number": regular.card, "password": regular.password})
    assert response.status_code == 400
    assert client.get("/loans").status_code == 302  # still logged out (/ is the start page)


@pytest.mark.parametrize("typed", ["2000-0000-01", "2000 0000 01", "２０００－００００－０１", " 2000000001 ", "2000ー0000ー01"])
def test_card_number_is_normalised(auth, client, typed):
    response = auth.login(typed, "yamada2024")
    assert response.status_code == 302 and response.location == "/"
    assert "山田 花子" in page_text(client.get("/"))


def test_wrong_password_and_unknown_card_get_the_same_message(auth):
    wrong_password = page_text(auth.login("2000000001", "not-the-password1"))
    unknown_card = page_text(auth.login("9999999999", "not-the-password1"))
    message = "図書館カード番号またはパスワードが正しくありません"
    assert message in wrong_password and message in unknown_card
    strip = lambda html: html.split('name="csrf_token"')[0]  # noqa: E731 (the token differs by design)
    assert strip(wrong_password).replace("9999999999", "2000000001") == strip(unknown_card).replace(
        "9999999999", "2000000001"
    )


@pytest.mark.parametrize(
    "card",
    ["2000000001|AD1234", "2000000001\r\n63", "20000\x0000001", "2000000001\x1b", "1" * 200, "山田", "2000000001;--"],
)
def test_bad_card_numbers_get_a_clear_message_and_never_reach_the_ils(auth, adapter, monkeypatch, card):
    calls = []
    monkeypatch.setattr(adapter, "authenticate", lambda *args: calls.append(args))
    response = auth.login(card, "yamada2024")
    assert response.status_code == 200
    assert calls == []
    assert "field__error" in page_text(response)


def test_control_characters_in_a_password_are_refused(auth, adapter, monkeypatch):
    calls = []
    monkeypatch.setattr(adapter, "authenticate", lambda *args: calls.append(args))
    assert auth.login("2000000001", "yamada\r\n2024").status_code == 200
    assert calls == []


def test_locked_account_is_told_to_contact_the_library(auth, patron):
    locked = patron("locked")
    assert "ロック" in page_text(auth.login(locked.card, locked.password))


def test_next_parameter_cannot_send_a_patron_to_another_site(auth, client):
    token_page = client.get("/login?next=//evil.example/steal")
    assert token_page.status_code == 200
    response = auth.post_form(
        "/login?next=//evil.example/", "/login", {"card_number": "2000000001", "password": "yamada2024", "next": "//evil.example/"}
    )
    assert response.location == "/"


def test_logout_is_a_post_and_ends_the_session(auth, client, login_as):
    login_as("regular")
    assert client.get("/logout").status_code == 405
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/loans").status_code == 302


class TestFirstLogin:
    def test_every_page_redirects_to_the_change_until_it_is_done(self, auth, client, patron):
        first = patron("first-login")
        response = auth.login(first.card, first.password)
        assert response.location == "/password/initial"
        for url in ["/", "/loans", "/holds", "/settings", "/search?q=a", "/holds/new?record=R0001", "/settings/password"]:
            assert client.get(url).location == "/password/initial", url
        renew = auth.post_form("/password/initial", "/loans/renew", {"action": "all"})
        assert renew.location == "/password/initial"

    def test_policy_is_shown_and_enforced_on_the_server(self, auth, client, patron):
        first = patron("first-login")
        auth.login(first.card, first.password)
        page = page_text(client.get("/password/initial"))
        assert "8文字以上" in page
        for weak in ["short1", "onlyletters", "1234567890"]:
            response = auth.post_form(
                "/password/initial", "/password/initial", {"current": first.password, "new": weak, "confirm": weak}
            )
            assert response.status_code == 200, weak
            assert "field__error" in page_text(response)
        assert client.get("/").location == "/password/initial"

    def test_wrong_current_password_is_refused(self, auth, client, patron):
        first = patron("first-login")
        auth.login(first.card, first.password)
        response = auth.post_form(
            "/password/initial", "/password/initial", {"current": "wrong000", "new": "Shiori2026", "confirm": "Shiori2026"}
        )
        assert "現在のパスワードが正しくありません" in page_text(response)

    def test_change_then_menu_and_the_old_password_no_longer_works(self, auth, client, patron):
        first = patron("first-login")
        auth.login(first.card, first.password)
        response = auth.post_form(
            "/password/initial", "/password/initial", {"current": first.password, "new": "Shiori2026", "confirm": "Shiori2026"}
        )
        assert response.location == "/"
        assert client.get("/loans").status_code == 200
        auth.logout()
        assert auth.login(first.card, first.password).status_code == 200  # refused, form shown again
        response = auth.login(first.card, "Shiori2026")
        assert response.location == "/"  # no second forced change


def age_session(app, client, seconds: float) -> None:
    """Move the registry's last-seen time of this browser's session ``seconds`` into the past."""
    with client.session_transaction() as session:
        session_id = session["sid"]
    with app.app_context():
        db.session.execute(update(LoginSession).where(LoginSession.session_id == session_id)
                           .values(last_seen_at=datetime.now(UTC) - timedelta(seconds=seconds)))
        db.session.commit()


def test_idle_timeout_logs_out(app, client, login_as):
    login_as("regular")
    assert client.get("/loans").status_code == 200
    age_session(app, client, app.config["IDLE_TIMEOUT_MINUTES"] * 60 + 5)
    response = client.get("/loans")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert client.get("/loans").status_code == 302  # / is the start page


def test_activity_within_the_timeout_keeps_the_session(app, client, login_as):
    login_as("regular")
    age_session(app, client, app.config["IDLE_TIMEOUT_MINUTES"] * 60 - 30)
    assert client.get("/loans").status_code == 200


def test_page_views_never_rewrite_the_cookie(client, login_as):
    """The idle clock is kept on the server: an ordinary page view sends no new cookie."""
    login_as("regular")
    client.get("/loans")
    for url in ("/loans", "/", "/holds"):
        assert "Set-Cookie" not in client.get(url).headers, url


class FakeClock:
    """Both clocks the session code reads (the cookie's seconds, the registry's datetimes), moved by hand."""

    def __init__(self, monkeypatch) -> None:
        self.start, self.offset = time.time(), 0.0
        monkeypatch.setattr("views.session.time", self)
        monkeypatch.setattr("store.sessions._now", lambda: datetime.fromtimestamp(self.time(), UTC))

    def time(self) -> float:
        return self.start + self.offset


@pytest.mark.parametrize("minutes", [1, 2, 15])
def test_a_patron_active_every_15_seconds_is_never_logged_out_at_any_timeout(app_config, monkeypatch, minutes):
    """At IDLE_TIMEOUT_MINUTES=1, requests every 15 s ended at 66-75 s ("left unused"): the registry was
    written at most every 60 s, as long as the whole timeout."""
    from app import create_app
    from tests.conftest import AuthActions

    app_config["IDLE_TIMEOUT_MINUTES"] = minutes
    app = create_app(app_config)
    client = app.test_client()
    clock = FakeClock(monkeypatch)
    assert AuthActions(client).login("2000000001", "yamada2024").status_code == 302
    for _ in range(4 * 2 * minutes + 8):  # twice the timeout and two more minutes, a request every 15 s
        clock.offset += 15
        response = client.get("/loans")
        assert response.status_code == 200, f"logged out after {clock.offset:.0f} s"
    clock.offset += minutes * 60 + 1  # then left unused for longer than the timeout
    assert client.get("/loans").location.startswith("/login")
    app.extensions["shiori.adapter"].close()


def test_a_10_kb_password_is_called_too_long(auth, adapter, monkeypatch):
    """It was "This contains characters that cannot be used", which sends a patron hunting for one."""
    calls = []
    monkeypatch.setattr(adapter, "authenticate", lambda *args: calls.append(args))
    page = page_text(auth.login("2000000001", "a1" * 5_000))
    assert "128文字以内にしてください" in page and "使えない文字" not in page
    assert calls == []


def test_overlong_form_values_are_refused(auth):
    response = auth.login("2000000001", "x" * 500)
    assert response.status_code == 200
    assert "field__error" in page_text(response)


def test_login_attempts_are_rate_limited_per_client(app_config, patron):
    from app import create_app
    from tests.conftest import AuthActions

    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = create_app(app_config).test_client()
    auth = AuthActions(client)
    statuses = [auth.login("2000000001", "wrong-password1").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert auth.login("2000000001", "yamada2024").status_code == 429  # even the right password waits


def test_repeated_failures_lock_the_card_for_a_while(app_config, patron):
    from app import create_app
    from tests.conftest import AuthActions

    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="100 per minute", LOGIN_LOCKOUT="5 per 30 minutes")
    client = create_app(app_config).test_client()
    auth = AuthActions(client)
    regular, other = patron("regular"), patron("english")
    assert auth.login(regular.card, regular.password).location == "/"  # a success does not count
    auth.logout()
    for _ in range(5):
        assert auth.login(f"{regular.card[:4]}-{regular.card[4:]}", "wrong-password1").status_code == 200
    locked = auth.login(regular.card, regular.password)
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert any(f"{moment}以降に" in page for moment in allowed_again_at(30 * 60)), page  # the lockout's own end
    assert auth.login(other.card, other.password).location == "/"  # another card is not locked


def test_case_variants_of_a_card_share_one_lockout(app_config):
    """A server that ignores case would otherwise grant each variant (ab12, AB12, aB12...) its own guesses."""
    from app import create_app
    from tests.conftest import AuthActions

    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="100 per minute", LOGIN_LOCKOUT="5 per 30 minutes")
    auth = AuthActions(create_app(app_config).test_client())
    for variant in ("ab12", "AB12", "aB-12", "Ab 12", "ａｂ１２"):
        assert auth.login(variant, "wrong-password1").status_code == 200
    assert auth.login("AB12", "wrong-password1").status_code == 429


@pytest.mark.parametrize("nxt", ["/\r\nfoo", "/loans\nSet-Cookie: x=1", "/\x00", "/\tloans", "/\x7f", "/\x85"])
def test_control_characters_in_next_fall_back_to_the_menu(auth, client, nxt):
    """A CR or LF in ``next`` would split the Location header: Werkzeug refused it with a 500, after
    the patron was already logged in."""
    page = client.get("/login", query_string={"next": nxt})
    assert page.status_code == 200
    response = client.post("/login", data={"csrf_token": csrf_token(page_text(page)), "card_number": "2000000001",
                                           "password": "yamada2024", "next": nxt})
    assert response.status_code == 302 and response.location == "/"


@pytest.mark.parametrize("url, field", [("/language", {"language": "en"}), ("/furigana", {"furigana": "on"})])
def test_control_characters_in_next_of_the_switches_fall_back_too(auth, url, field):
    response = auth.post_form("/login", url, {**field, "next": "/\r\nfoo"})
    assert response.status_code == 302 and response.location == "/"

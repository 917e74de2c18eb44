"""Login, logout, the forced password change, the idle timeout and bad input."""

from __future__ import annotations

import time

import pytest

from views.session import SESSION_LAST_SEEN


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


def test_idle_timeout_logs_out(app, client, login_as):
    login_as("regular")
    assert client.get("/loans").status_code == 200
    with client.session_transaction() as session:
        session[SESSION_LAST_SEEN] = int(time.time()) - app.config["IDLE_TIMEOUT_MINUTES"] * 60 - 5
    response = client.get("/loans")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert client.get("/loans").status_code == 302  # / is the start page


def test_activity_within_the_timeout_keeps_the_session(app, client, login_as):
    login_as("regular")
    with client.session_transaction() as session:
        session[SESSION_LAST_SEEN] = int(time.time()) - app.config["IDLE_TIMEOUT_MINUTES"] * 60 + 30
    assert client.get("/loans").status_code == 200


def test_activity_moves_the_idle_clock_without_rewriting_the_cookie_on_every_page(app, client, login_as):
    """The last-seen time is rewritten at most every LAST_SEEN_STEP_SECONDS, so most page views
    send no new cookie; an older one is moved on, which keeps the session alive."""
    from views.session import LAST_SEEN_STEP_SECONDS

    login_as("regular")
    client.get("/loans")
    assert "Set-Cookie" not in client.get("/loans").headers
    old = int(time.time()) - LAST_SEEN_STEP_SECONDS - 1
    with client.session_transaction() as session:
        session[SESSION_LAST_SEEN] = old
    assert "Set-Cookie" in client.get("/loans").headers
    with client.session_transaction() as session:
        assert session[SESSION_LAST_SEEN] >= old + LAST_SEEN_STEP_SECONDS


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
    assert "30分" in locked.get_data(as_text=True)
    assert auth.login(other.card, other.password).location == "/"  # another card is not locked

"""Settings (email, language, notice opt-ins) and the voluntary password change."""

from __future__ import annotations

from extensions import db
from store.preferences import get_preferences


def text(response) -> str:
    return response.get_data(as_text=True)


def test_register_an_email_address_and_opt_out_of_a_notice(app, auth, client, login_as):
    demo = login_as("regular")
    response = auth.post_form(
        "/settings", "/settings", {"email": "hanako@example.jp", "language": "ja", "notify_hold_ready": "y"}
    )
    assert response.location == "/settings"
    assert "設定を保存しました" in text(client.get("/settings"))
    with app.app_context():
        preference = get_preferences(demo.key)
        assert preference.email == "hanako@example.jp"
        assert preference.notify_hold_ready is True and preference.notify_due_soon is False
        assert preference.email_confirmed is False


def test_an_invalid_email_changes_nothing(app, auth, login_as):
    demo = login_as("regular")
    response = auth.post_form("/settings", "/settings", {"email": "not an address", "language": "ja"})
    assert response.status_code == 200 and "field__error" in text(response)
    with app.app_context():
        assert db.session.get(type(get_preferences(demo.key)), demo.key) is None


def test_saved_language_applies_to_every_page_and_survives_logout(auth, client, login_as):
    login_as("regular")
    auth.post_form("/settings", "/settings", {"language": "en", "notify_hold_ready": "y"})
    assert "Loans" in text(client.get("/")) and "貸出状況" not in text(client.get("/"))
    auth.logout()
    login_as("regular")
    assert "Renew selected" in text(client.get("/loans"))
    auth.logout()
    with client.session_transaction() as session:
        session.clear()  # another browser, which asks for Japanese
    assert "ログイン" in text(client.get("/login"))
    login_as("regular")
    assert "Renew selected" in text(client.get("/loans")), "the saved language is taken at login"


def test_language_switch_works_before_login_and_comes_back_to_the_page(auth, client):
    response = auth.post_form("/login", "/language", {"language": "en", "next": "/login"})
    assert response.location == "/login"
    assert "Library card number" in text(client.get("/login"))


def test_accept_language_picks_english_for_a_new_visitor(client):
    assert "Library card number" in text(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert "図書館カード番号" in text(client.get("/login", headers={"Accept-Language": "fr"}))


def test_change_password_from_settings(auth, client, login_as, patron):
    demo = login_as("regular")
    response = auth.post_form(
        "/settings/password", "/settings/password", {"current": demo.password, "new": "Hanako2026x", "confirm": "Hanako2026x"}
    )
    assert response.location == "/settings"
    auth.logout()
    assert auth.login(demo.card, demo.password).status_code == 200
    assert auth.login(demo.card, "Hanako2026x").location == "/"


def test_mismatched_confirmation_is_refused(auth, login_as):
    demo = login_as("regular")
    response = auth.post_form(
        "/settings/password", "/settings/password", {"current": demo.password, "new": "Hanako2026x", "confirm": "Hanako2026y"}
    )
    assert response.status_code == 200 and "field__error" in text(response)

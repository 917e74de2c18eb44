"""Forgot password: card number + confirmed address -> a single-use emailed link -> a new password."""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from adapters.models import Capability
from extensions import db, limiter
from store.models import PasswordReset
from tests.conftest import AuthActions, csrf_token
from tests.notifications.conftest import drain, register_address, translated
from tests.notifications.smtp import body, smtp  # noqa: F401  (the fixture)

LINK = re.compile(r"http://localhost(/password/reset/[A-Za-z0-9_-]+)")
NEW_PASSWORD = "Shiori2026new"


@pytest.fixture
def app_config(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost")
    return app_config


def text(response) -> str:
    return response.get_data(as_text=True)


def ask(auth, card: str, email: str, **kwargs):
    return auth.post_form("/password/forgot", "/password/forgot", {"card_number": card, "email": email}, **kwargs)


def reset_path(smtp, address: str) -> str:  # noqa: F811
    messages = [m for m in smtp.sink.messages if m["To"] == address]
    assert messages, "no mail to " + address
    match = LINK.search(body(messages[-1]))
    assert match, body(messages[-1])
    return match.group(1)


def set_password(client, path: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    page = client.get(path)
    assert page.status_code == 200, text(page)
    return client.post(path, data={"csrf_token": csrf_token(text(page)), "new": new, "confirm": confirm or new})


@pytest.fixture
def hanako(app, patron):
    demo = patron("regular")
    register_address(app, demo.key, "hanako@example.jp")
    return demo


def test_the_login_page_links_to_the_form(client):
    page = text(client.get("/login"))
    assert 'href="/password/forgot"' in page
    assert 'name="card_number"' in text(client.get("/password/forgot"))


def test_reset_through_the_emailed_link(app, auth, client, hanako, smtp):  # noqa: F811
    response = ask(auth, "2000-0000-01", "Hanako@Example.jp")  # hyphens, and the address in another case
    assert response.status_code == 302 and response.location == "/password/forgot/sent"
    assert "30" in text(client.get(response.location))
    drain(app)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "hanako@example.jp" and message["Content-Language"] == "ja"
    assert "2000000001" not in body(message)  # the card number is masked in the mail
    path = reset_path(smtp, "hanako@example.jp")
    assert path in body(message, "html")

    response = set_password(client, path)
    assert response.status_code == 302 and response.location == "/login"
    assert auth.login(hanako.card, hanako.password).status_code == 200  # the old password fails
    assert auth.login(hanako.card, NEW_PASSWORD).status_code == 302
    auth.logout()
    # The link works once.
    assert client.get(path).status_code == 404
    drain(app)
    assert "changed" in smtp.sink.messages[-1]["Subject"] or "変更" in smtp.sink.messages[-1]["Subject"]


@pytest.mark.parametrize(
    "card, email",
    [
        ("2000000001", "someone-else@example.jp"),  # the card exists, the address is not its own
        ("9999999999", "hanako@example.jp"),  # no such card
        ("2000000002", "hanako@example.jp"),  # a patron with no address at all
    ],
)
def test_the_answer_is_the_same_whether_or_not_anything_matches(app, auth, client, hanako, smtp, card, email):  # noqa: F811
    good = ask(auth, hanako.card, "hanako@example.jp")
    other = ask(auth, card, email)
    assert (good.status_code, good.location) == (other.status_code, other.location)
    drain(app)
    assert [m["To"] for m in smtp.sink.wait_for(1)] == ["hanako@example.jp"]


def test_an_unconfirmed_address_gets_no_link(app, auth, patron, smtp):  # noqa: F811
    demo = patron("regular")
    register_address(app, demo.key, "hanako@example.jp", confirmed=False)
    assert ask(auth, demo.card, "hanako@example.jp").location == "/password/forgot/sent"
    drain(app)
    assert smtp.sink.messages == []


def test_the_lookup_happens_after_the_response(app, adapter, auth, hanako, monkeypatch):
    """The request thread never asks the ILS, so the answer takes as long for any card."""
    threads = []
    inner = getattr(adapter, "inner", adapter)
    real = inner.find_patron
    monkeypatch.setattr(inner, "find_patron", lambda card: threads.append(threading.current_thread()) or real(card))
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    assert threads and threads[0] is not threading.current_thread()
    assert threads[0].name.startswith("shiori-outbox")


def test_links_use_the_public_base_url_not_the_host_header(app, client, hanako, smtp):  # noqa: F811
    page = client.get("/password/forgot", headers={"Host": "evil.example"})
    client.post("/password/forgot", headers={"Host": "evil.example"},
                data={"csrf_token": csrf_token(text(page)), "card_number": hanako.card, "email": "hanako@example.jp"})
    drain(app)
    [message] = smtp.sink.wait_for(1)
    assert "evil.example" not in body(message) and "http://localhost/password/reset/" in body(message)


def test_the_policy_applies_and_a_refused_password_keeps_the_link(app, auth, client, hanako, smtp):  # noqa: F811
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    path = reset_path(smtp, "hanako@example.jp")
    for weak in ["short1", "onlyletters", "1234567890"]:
        response = set_password(client, path, weak)
        assert response.status_code == 200 and "field__error" in text(response), weak
    assert set_password(client, path, NEW_PASSWORD, "Shiori2026other").status_code == 200
    assert set_password(client, path).location == "/login"


def test_an_expired_link_is_refused(app, auth, client, hanako, smtp):  # noqa: F811
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    path = reset_path(smtp, "hanako@example.jp")
    with app.app_context():
        db.session.execute(update(PasswordReset).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(path).status_code == 404
    assert translated(app, "ja", "Ask for a new link") in text(client.get(path))


def test_only_a_hash_of_the_token_is_stored(app, auth, hanako, smtp):  # noqa: F811
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    token = reset_path(smtp, "hanako@example.jp").rsplit("/", 1)[1]
    with app.app_context():
        [row] = db.session.query(PasswordReset).all()
        assert row.token_hash != token and len(row.token_hash) == 64 and token not in row.token_hash
        assert row.patron_key == hanako.key


def test_two_browsers_racing_with_one_link_set_one_password(app, auth, client, hanako, smtp):  # noqa: F811
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    path = reset_path(smtp, "hanako@example.jp")
    other = app.test_client()
    first_page, second_page = client.get(path), other.get(path)
    first = client.post(path, data={"csrf_token": csrf_token(text(first_page)), "new": NEW_PASSWORD,
                                    "confirm": NEW_PASSWORD})
    second = other.post(path, data={"csrf_token": csrf_token(text(second_page)), "new": "Another2026x",
                                    "confirm": "Another2026x"})
    assert first.status_code == 302 and second.status_code == 404
    assert AuthActions(app.test_client()).login(hanako.card, "Another2026x").status_code == 200


def test_a_new_address_voids_earlier_links(app, auth, client, hanako, smtp, login_as):  # noqa: F811
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    path = reset_path(smtp, "hanako@example.jp")
    login_as("regular")
    auth.post_form("/settings", "/settings", {"email": "new@example.jp", "language": "ja"})
    auth.logout()
    assert client.get(path).status_code == 404


def test_no_password_reaches_the_log(app, auth, client, hanako, smtp, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    set_password(client, reset_path(smtp, "hanako@example.jp"))
    drain(app)
    assert NEW_PASSWORD not in caplog.text
    assert "password reset" in caplog.text


def test_without_set_password_the_page_says_to_contact_the_library(adapter, client, monkeypatch):
    inner = getattr(adapter, "inner", adapter)
    monkeypatch.setattr(inner, "capabilities", inner.capabilities - {Capability.SET_PASSWORD})
    page = text(client.get("/password/forgot"))
    assert 'name="card_number"' not in page
    assert "000-000-0000" in page  # the library's contact text


def test_without_mail_the_page_says_to_contact_the_library(app, client):
    app.config["MAIL_HOST"] = ""
    page = text(client.get("/password/forgot"))
    assert 'name="card_number"' not in page and "000-000-0000" in page


def test_english_page_and_mail(app, auth, client, patron, smtp):  # noqa: F811
    emily = patron("english")
    register_address(app, emily.key, "emily@example.com", language="en")
    auth.post_form("/login", "/language", {"language": "en", "next": "/password/forgot"})
    assert "Send the link" in text(client.get("/password/forgot"))
    ask(auth, emily.card, "emily@example.com")
    drain(app)
    [message] = smtp.sink.wait_for(1)
    assert message["Content-Language"] == "en" and "Open this link to set a new password" in body(message)


@pytest.fixture
def limited_app(app_config):
    from app import create_app

    app_config.update(RATELIMIT_ENABLED=True, RESET_RATE_LIMIT="4 per hour", RESET_CARD_RATE_LIMIT="2 per hour")
    app = create_app(app_config)
    limiter.reset()
    yield app
    limiter.reset()


def test_requests_are_rate_limited_per_card(limited_app):
    auth = AuthActions(limited_app.test_client())
    statuses = [ask(auth, "2000000001", f"a{n}@example.jp").status_code for n in range(3)]
    assert statuses == [302, 302, 429]
    assert ask(auth, "2000-0000-01", "x@example.jp").status_code == 429  # the same card, typed differently
    assert ask(auth, "2000000003", "b@example.jp").status_code == 302  # another card still works
    drain(limited_app)


def test_case_variants_of_a_card_share_the_per_card_limit(limited_app):
    auth = AuthActions(limited_app.test_client())
    statuses = [ask(auth, card, "a@example.jp").status_code for card in ("ab12", "AB12", "aB-12")]
    assert statuses == [302, 302, 429]
    drain(limited_app)


def allowed_again_at(seconds: int) -> set[str]:
    """The time of day (Tokyo, the library's zone) a limit started now ends after ``seconds``, give or take a minute."""
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    return {(now + timedelta(seconds=seconds + shift)).strftime("%H:%M") for shift in (-60, 0, 60)}


def test_the_429_page_gives_the_hourly_limits_own_wait(limited_app):
    """The limits are per hour: the page named "a few minutes" (数分), so the patron retried in vain."""
    auth = AuthActions(limited_app.test_client())
    for n in range(2):
        ask(auth, "2000000001", f"a{n}@example.jp")
    page = ask(auth, "2000000001", "x@example.jp")
    assert page.status_code == 429
    assert "数分" not in text(page)
    assert any(f"{moment}以降に" in text(page) for moment in allowed_again_at(3600)), text(page)
    drain(limited_app)


def test_requests_are_rate_limited_per_client_address(limited_app):
    auth = AuthActions(limited_app.test_client())
    statuses = [ask(auth, f"20000000{n:02d}", "a@example.jp").status_code for n in range(1, 6)]
    assert statuses == [302, 302, 302, 302, 429]
    other = AuthActions(limited_app.test_client())
    page = other.client.get("/password/forgot", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    response = other.client.post(
        "/password/forgot", environ_base={"REMOTE_ADDR": "192.0.2.7"},
        data={"csrf_token": csrf_token(text(page)), "card_number": "2000000009", "email": "c@example.jp"},
    )
    assert response.status_code == 302
    drain(limited_app)


def test_a_reset_ends_sessions_opened_with_the_old_password(app, auth, client, hanako, smtp):  # noqa: F811
    other_browser = app.test_client()
    AuthActions(other_browser).login(hanako.card, hanako.password)
    assert other_browser.get("/loans").status_code == 200
    ask(auth, hanako.card, "hanako@example.jp")
    drain(app)
    smtp.sink.wait_for(1)
    assert set_password(client, reset_path(smtp, "hanako@example.jp")).status_code == 302
    assert other_browser.get("/loans").status_code == 302  # logged out there too

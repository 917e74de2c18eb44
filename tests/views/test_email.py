"""The email address in settings: the signed confirmation link, changing and removing the address,
and writing it to the ILS where an adapter can."""

from __future__ import annotations

import re

import pytest
from itsdangerous import TimestampSigner

from adapters.models import Capability
from extensions import db
from notifications.tokens import confirmation_nonce, confirmation_token
from store.models import Preference
from tests.conftest import csrf_token
from tests.notifications.conftest import drain, translated
from tests.notifications.smtp import body, smtp  # noqa: F401  (the fixture)

LINK = re.compile(r"http://localhost(/email/confirm/[^\s<\"]+)")


@pytest.fixture
def app_config(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost")
    return app_config


def text(response) -> str:
    return response.get_data(as_text=True)


def preference(app, key: str) -> Preference | None:
    with app.app_context():
        row = db.session.get(Preference, key)
        if row is not None:
            db.session.expunge(row)
        return row


def save_address(auth, email: str, language: str = "ja"):
    return auth.post_form("/settings", "/settings", {"email": email, "language": language, "notify_hold_ready": "y"})


def confirmation_path(smtp, address: str) -> str:  # noqa: F811
    [message] = [m for m in smtp.sink.messages if m["To"] == address]
    match = LINK.search(body(message))
    assert match, body(message)
    assert match.group(0) in body(message, "html")
    return match.group(1)


def confirm(client, path: str):
    page = client.get(path)
    assert page.status_code == 200, text(page)
    return client.post(path, data={"csrf_token": csrf_token(text(page))})


def test_a_new_address_is_confirmed_by_the_emailed_link(app, auth, client, login_as, smtp):  # noqa: F811
    demo = login_as("regular")
    response = save_address(auth, "hanako@example.jp")
    assert response.location == "/settings"
    page = text(client.get("/settings"))
    assert "hanako@example.jp" in page and 'action="/email/resend"' in page
    assert preference(app, demo.key).email_confirmed is False
    drain(app)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "hanako@example.jp" and message["Content-Language"] == "ja"
    path = confirmation_path(smtp, "hanako@example.jp")
    # Following the link (a GET, as a mail scanner would) confirms nothing by itself.
    assert translated(app, "ja", "Confirm this address") in text(client.get(path))
    assert preference(app, demo.key).email_confirmed is False
    response = confirm(client, path)
    assert response.location == "/settings"
    assert preference(app, demo.key).email_confirmed is True
    confirmed = "%(email)s is confirmed. Notices are sent to this address."
    assert translated(app, "ja", confirmed, email="hanako@example.jp") in text(client.get("/settings"))
    assert 'action="/email/resend"' not in text(client.get("/settings"))


def test_the_link_works_without_logging_in(app, auth, client, login_as, smtp):  # noqa: F811
    demo = login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    auth.logout()
    response = confirm(client, confirmation_path(smtp, "hanako@example.jp"))
    assert response.status_code == 200 and "hanako@example.jp" in text(response)
    assert preference(app, demo.key).email_confirmed is True


def test_a_link_for_an_address_changed_since_is_refused(app, auth, client, login_as, smtp):  # noqa: F811
    demo = login_as("regular")
    save_address(auth, "first@example.jp")
    drain(app)
    old_path = confirmation_path(smtp, "first@example.jp")
    save_address(auth, "second@example.jp")
    drain(app)
    assert client.get(old_path).status_code == 404
    assert client.post(old_path, data={"csrf_token": csrf_token(text(client.get("/settings")))}).status_code == 404
    assert confirm(client, confirmation_path(smtp, "second@example.jp")).location == "/settings"
    stored = preference(app, demo.key)
    assert (stored.email, stored.email_confirmed) == ("second@example.jp", True)


def test_forged_and_expired_links_are_refused(app, client, monkeypatch):
    with app.app_context():
        from store.preferences import update_preferences

        update_preferences("P001", email="hanako@example.jp")
        nonce = confirmation_nonce("P001")
        good = confirmation_token(nonce)
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_000_000_000)
        expired = confirmation_token(nonce)
        monkeypatch.undo()
        unknown = confirmation_token("0" * 32)
    assert client.get(f"/email/confirm/{good}").status_code == 200
    assert client.get(f"/email/confirm/{good[:-2]}xx").status_code == 404
    assert client.get(f"/email/confirm/{expired}").status_code == 404
    assert client.get(f"/email/confirm/{unknown}").status_code == 404
    assert client.get("/email/confirm/not-a-token").status_code == 404


def test_changing_a_confirmed_address_tells_the_old_one(app, auth, client, login_as, smtp):  # noqa: F811
    login_as("regular")
    save_address(auth, "old@example.jp")
    drain(app)
    confirm(client, confirmation_path(smtp, "old@example.jp"))
    save_address(auth, "new@example.jp")
    drain(app)
    [notice] = smtp.sink.to("old@example.jp")[1:]
    assert "new@example.jp" not in body(notice)  # the old mailbox is not told the new address
    assert "変更" in body(notice) or "changed" in body(notice)
    assert confirmation_path(smtp, "new@example.jp")


def test_re_casing_a_confirmed_address_keeps_it_confirmed(app, auth, client, login_as, smtp):  # noqa: F811
    demo = login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    confirm(client, confirmation_path(smtp, "hanako@example.jp"))
    save_address(auth, "Hanako@Example.jp")
    drain(app)
    assert preference(app, demo.key).email_confirmed is True
    assert len(smtp.sink.messages) == 1


def test_removing_the_address(app, auth, client, login_as, smtp):  # noqa: F811
    demo = login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    confirm(client, confirmation_path(smtp, "hanako@example.jp"))
    response = auth.post_form("/settings", "/email/remove", {})
    assert response.location == "/settings"
    stored = preference(app, demo.key)
    assert stored.email is None and stored.email_confirmed is False
    drain(app)
    assert "removed" in body(smtp.sink.to("hanako@example.jp")[-1]) or "削除" in body(smtp.sink.to("hanako@example.jp")[-1])
    assert 'id="email-address"' not in text(client.get("/settings"))


def test_emptying_the_field_removes_the_address_too(app, auth, login_as):
    demo = login_as("regular")
    save_address(auth, "hanako@example.jp")
    save_address(auth, "")
    assert preference(app, demo.key).email is None


def test_resend_the_confirmation(app, auth, login_as, smtp):  # noqa: F811
    login_as("regular")
    save_address(auth, "hanako@example.jp")
    response = auth.post_form("/settings", "/email/resend", {})
    assert response.location == "/settings"
    drain(app)
    assert len(smtp.sink.wait_for(2)) == 2


def test_confirmation_mails_are_rate_limited_per_patron(app_config, smtp):  # noqa: F811
    from app import create_app
    from extensions import limiter
    from tests.conftest import AuthActions

    app_config.update(RATELIMIT_ENABLED=True, EMAIL_CONFIRM_RATE_LIMIT="2 per hour")
    app = create_app(app_config)
    limiter.reset()
    auth = AuthActions(app.test_client())
    assert auth.login("2000000001", "yamada2024").status_code == 302
    save_address(auth, "hanako@example.jp")
    auth.post_form("/settings", "/email/resend", {})
    response = auth.post_form("/settings", "/email/resend", {}, follow_redirects=True)
    assert translated(app, "ja", "Too many confirmation emails have been sent. Please try again later.") in text(response)
    drain(app)
    assert len(smtp.sink.messages) == 2


class EmailCapableDemo:
    """The demo adapter with Capability.PATRON_EMAIL, recording what it is told."""

    def __init__(self, adapter):
        self.inner = getattr(adapter, "inner", adapter)  # under the circuit breaker's GuardedAdapter
        self.calls = []

    def install(self, monkeypatch):
        monkeypatch.setattr(self.inner, "capabilities", self.inner.capabilities | {Capability.PATRON_EMAIL})
        monkeypatch.setattr(self.inner, "set_patron_email", lambda key, email: self.calls.append((key, email)))
        return self


def test_a_confirmed_address_is_written_to_the_ils_where_the_adapter_can(
    app, adapter, auth, client, login_as, smtp, monkeypatch  # noqa: F811
):
    ils = EmailCapableDemo(adapter).install(monkeypatch)
    demo = login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    assert ils.calls == []  # not before it is confirmed
    confirm(client, confirmation_path(smtp, "hanako@example.jp"))
    assert ils.calls == [(demo.key, "hanako@example.jp")]
    auth.post_form("/settings", "/email/remove", {})
    assert ils.calls[-1] == (demo.key, None)


def test_without_the_capability_the_ils_is_not_asked(app, adapter, auth, client, login_as, smtp, monkeypatch):  # noqa: F811
    calls = []
    monkeypatch.setattr(getattr(adapter, "inner", adapter), "set_patron_email", lambda *args: calls.append(args))
    login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    confirm(client, confirmation_path(smtp, "hanako@example.jp"))
    assert calls == []


def test_english_patron_gets_an_english_confirmation(app, auth, login_as, smtp):  # noqa: F811
    login_as("english")
    save_address(auth, "emily@example.com", language="en")
    drain(app)
    [message] = smtp.sink.wait_for(1)
    assert message["Content-Language"] == "en"
    assert "Please confirm that the library may email you" in body(message)


def test_the_link_names_neither_the_patron_nor_the_address(app, auth, login_as, smtp):  # noqa: F811
    import base64

    demo = login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    token = confirmation_path(smtp, "hanako@example.jp").rsplit("/", 1)[1]
    decoded = base64.urlsafe_b64decode(token.split(".")[0] + "==").decode("utf-8", "replace")
    assert demo.key not in decoded and "hanako" not in decoded and demo.key not in token


def test_following_a_link_again_after_confirming_says_so(app, auth, client, login_as, smtp):  # noqa: F811
    login_as("regular")
    save_address(auth, "hanako@example.jp")
    drain(app)
    path = confirmation_path(smtp, "hanako@example.jp")
    confirm(client, path)
    again = client.get(path)
    assert again.status_code == 200 and 'method="post"' not in again.get_data(as_text=True).split("<main")[1]

"""What the session cookie holds (an opaque id only: the patron is kept on the server), and a password
change ending the patron's other sessions. Run on both registries: the SQL store and Redis."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from app import create_app
from tests.conftest import AuthActions

COOKIE = "shiori_session"
NEW_PASSWORD = "Shiori2026new"


@pytest.fixture(params=["sql", "redis"])
def app(request, app_config):
    if request.param == "redis":
        app_config["SESSION_REDIS_URL"] = "redis://127.0.0.1:6379/0"
    app = create_app(app_config)
    yield app
    app.extensions["shiori.adapter"].close()


def browser(app) -> tuple:
    client = app.test_client()
    return client, AuthActions(client)


def cookie_payload(client) -> str:
    """What anyone at the PC can read of the cookie: its payload, decoded (no key needed)."""
    value = client.get_cookie(COOKIE).value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


@pytest.mark.parametrize("case", ["regular", "first-login"])
def test_the_cookie_names_no_patron(app, patron, case):
    """It held 'patron': ['P003', '2000000003', '鈴木 一郎', False]: a shared PC's browser kept the card
    number and the name. Now the page still greets the patron, from the server's registry."""
    demo = patron(case)
    client, auth = browser(app)
    auth.login(demo.card, demo.password)
    page = client.get("/" if case == "regular" else "/password/initial")
    assert page.status_code == 200
    payload = json.loads(cookie_payload(client))
    readable = json.dumps(payload, ensure_ascii=False)
    for secret in (demo.card, demo.card[-4:], demo.name, demo.name.split()[0], demo.key):
        assert secret not in readable, (secret, readable)
    assert set(payload) <= {"sid", "started", "_user_id", "_fresh", "csrf_token", "language", "furigana", "_flashes"}
    if case == "regular":
        assert demo.name in page.get_data(as_text=True)


def test_the_patron_comes_from_the_server_on_every_request(app, patron):
    """With the cookie unchanged, what the server holds for the session is who the page shows."""
    demo = patron("regular")
    client, auth = browser(app)
    auth.login(demo.card, demo.password)
    with client.session_transaction() as session:
        session_id = session["sid"]
    registry = app.extensions["shiori.sessions"]
    with app.app_context():
        registry.remove(session_id)
    assert client.get("/").location.startswith("/login")


def test_changing_the_password_ends_the_patrons_other_sessions(app, patron):
    """A change left a session opened elsewhere (by whoever knew the old password) alive; a reset did not."""
    me, other = patron("regular"), patron("many-loans")
    here, here_auth = browser(app)
    there, there_auth = browser(app)
    someone_else, someone_else_auth = browser(app)
    here_auth.login(me.card, me.password)
    there_auth.login(me.card, me.password)
    someone_else_auth.login(other.card, other.password)
    assert there.get("/loans").status_code == 200

    response = here_auth.post_form("/settings/password", "/settings/password",
                                   {"current": me.password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    page = here.get(response.location).get_data(as_text=True)
    assert "ほかのパソコン、スマートフォン、ブラウザーでのログインはすべて終了しました" in page  # and it says so
    assert here.get("/loans").status_code == 200  # this session goes on
    assert there.get("/loans").location.startswith("/login")  # the other one ended
    assert someone_else.get("/loans").status_code == 200  # another patron's did not


def test_the_initial_password_change_ends_the_other_sessions_too(app, patron):
    first = patron("first-login")
    here, here_auth = browser(app)
    there, there_auth = browser(app)
    here_auth.login(first.card, first.password)
    there_auth.login(first.card, first.password)
    response = here_auth.post_form("/password/initial", "/password/initial",
                                   {"current": first.password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.location == "/"
    assert "ログインはすべて終了しました" in here.get("/").get_data(as_text=True)
    assert here.get("/loans").status_code == 200  # no longer held on the change page
    assert there.get("/loans").location.startswith("/login")


def test_a_browser_logged_out_by_a_change_elsewhere_is_not_told_it_was_idle(app, patron):
    """It read "logged out because the page was left unused" a second after the change."""
    me = patron("regular")
    here, here_auth = browser(app)
    there, there_auth = browser(app)
    here_auth.login(me.card, me.password)
    there_auth.login(me.card, me.password)
    here_auth.post_form("/settings/password", "/settings/password",
                        {"current": me.password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    response = there.get("/loans")
    page = there.get(response.location).get_data(as_text=True)
    assert "ほかの場所でログアウトやパスワードの変更があった" in page

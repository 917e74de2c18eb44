"""Shared fixtures: an app on a fresh demo ILS in a temporary instance folder, a client, and
``auth`` helpers that go through the real login form (CSRF on, as in production)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.demo import DemoAdapter
from adapters.demo.store import copy_database
from app import create_app

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="session")
def seeded_demo(tmp_path_factory) -> Path:
    """One freshly seeded demo ILS per test run; each test gets its own copy (seeding takes a second)."""
    path = tmp_path_factory.mktemp("demo-seed") / "demo-ils.sqlite3"
    DemoAdapter(path).today()
    return path


@pytest.fixture
def app_config(tmp_path, seeded_demo):
    """The config every test app starts from; a test may add keys before ``app`` is built."""
    copy_database(seeded_demo, tmp_path / "demo-ils.sqlite3")
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prefs.sqlite3'}",
        "DEMO_DATABASE": str(tmp_path / "demo-ils.sqlite3"),
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["shiori.adapter"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


class AuthActions:
    """Log in and out the way a browser does: fetch the form, send it back with its token."""

    def __init__(self, client):
        self.client = client

    def post_form(self, page: str, url: str, data: dict, **kwargs):
        token = csrf_token(self.client.get(page).get_data(as_text=True))
        return self.client.post(url, data={"csrf_token": token, **data}, **kwargs)

    def login(self, card: str, password: str, **kwargs):
        return self.post_form("/login", "/login", {"card_number": card, "password": password}, **kwargs)

    def logout(self):
        return self.post_form("/", "/logout", {})


@pytest.fixture
def auth(client):
    return AuthActions(client)

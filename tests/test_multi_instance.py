"""Two portal instances behind one address share sessions, logout and login limits through
PostgreSQL (the store) and Redis (limits and sessions), as a multi-instance deployment runs."""

from __future__ import annotations

import re
import threading
import uuid

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app import create_app
from tests.store.test_preferences import POSTGRES_URL

pytestmark = pytest.mark.postgres
REDIS_URL = "redis://127.0.0.1:6379/0"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def shared_config(app_config):
    schema = f"shiori_multi_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    prefix = f"shiori-test-{uuid.uuid4().hex[:8]}"
    app_config.update(
        DATABASE_URL=POSTGRES_URL + f"?options=-csearch_path%3D{schema}",
        SESSION_REDIS_URL=REDIS_URL,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=prefix,
        LOGIN_RATE_LIMIT="100 per minute",
        LOGIN_LOCKOUT="3 per 30 minutes",
    )
    yield app_config
    client = redis.Redis.from_url(REDIS_URL)
    leftovers = client.keys(f"*{prefix}*")
    if leftovers:
        client.delete(*leftovers)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def two_instances(shared_config):
    """Two apps (two processes' worth of state: each its own adapter, pool and limiter) on two ports."""
    servers, urls = [], []
    for _ in range(2):
        server = make_server("127.0.0.1", 0, create_app(dict(shared_config)), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls.append(f"http://127.0.0.1:{server.server_port}")
    yield urls
    for server in servers:
        server.shutdown()


def post_form(client: httpx.Client, base: str, page: str, url: str, data: dict) -> httpx.Response:
    token = TOKEN.search(client.get(base + page).text).group(1)
    return client.post(base + url, data={"csrf_token": token, **data})


def test_a_session_started_on_one_instance_works_and_ends_on_both(two_instances):
    first, second = two_instances
    with httpx.Client() as browser:
        response = post_form(browser, first, "/login", "/login", {"card_number": "2000000001", "password": "yamada2024"})
        assert response.status_code == 302 and response.headers["location"] == "/"
        assert browser.get(second + "/loans").status_code == 200  # read on the other instance
        copied_cookie = dict(browser.cookies)
        post_form(browser, second, "/", "/logout", {})  # log out on the second
        assert browser.get(first + "/loans").status_code == 302  # logged out on the first too
    with httpx.Client(cookies=copied_cookie) as thief:  # a cookie copied before logout is dead
        assert thief.get(first + "/loans").status_code == 302
        assert thief.get(second + "/loans").status_code == 302


def test_the_login_lockout_counts_failures_on_every_instance(two_instances):
    first, second = two_instances
    with httpx.Client() as browser:
        for base in (first, second, first):
            failed = post_form(browser, base, "/login", "/login", {"card_number": "2000000001", "password": "wrong-pass1"})
            assert failed.status_code == 200
        locked = post_form(browser, second, "/login", "/login", {"card_number": "2000000001", "password": "yamada2024"})
        assert locked.status_code == 429

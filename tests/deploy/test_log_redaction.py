"""No log line carries a reset, email-confirmation or calendar-feed token (issue 14, item 2).

A patron goes through all three over real HTTP, against the real servers: gunicorn with
deploy/gunicorn.conf.py (its access log, its error log and the portal's own lines, all on its
output) and the Werkzeug development server (``flask run``); mail goes to an SMTP sink on loopback.
Then every token is looked for in everything the server printed. Each token's route was logged (as
``[token]``), so the search is not vacuous. The portal's own lines are also checked in-process, on
the error paths that log a path (an expired form on the reset and confirmation pages, the ILS down
while a calendar app fetches the feed).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from adapters.demo.seed import BY_CASE
from adapters.errors import IlsUnavailable
from tests.conftest import csrf_token
from tests.deploy.test_gunicorn_conf import CONF, ROOT, free_port, http_get
from tests.notifications.smtp import body, smtp  # noqa: F401  (the fixture)
from views.redaction import REDACTED, SECRET_PATH_PREFIXES, redact

REGULAR = BY_CASE["regular"]
ADDRESS = "hanako@example.jp"
CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/email/confirm/[^\s<\"]+)")
RESET_LINK = re.compile(r"https?://[^/\s]+(/password/reset/[^\s<\"]+)")
FEED_LINK = re.compile(r'id="calendar-url"[^>]*value="https?://[^/"]+(/calendar/[^"]+\.ics)"')
NEW_PASSWORD = "Shiori2026new"


def mail_to(sink, address: str, pattern: re.Pattern, count: int) -> str:
    messages = [m for m in sink.wait_for(count, timeout=30) if m["To"] == address]
    assert len(messages) >= count, f"{len(messages)} mails to {address}"
    match = pattern.search(body(messages[count - 1]))
    assert match, body(messages[count - 1])
    return match.group(1)


def post_page(client: httpx.Client, path: str, data: dict, page: str | None = None) -> httpx.Response:
    """Fetch the page's form, send it back with its CSRF token."""
    form = client.get(page or path)
    assert form.status_code == 200, (page or path, form.status_code)
    return client.post(path, data={"csrf_token": csrf_token(form.text), **data})


def go_through_every_token(base: str, sink) -> list[str]:
    """Confirm an address, make and fetch a calendar feed, reset the password by the emailed link (and
    try one expired form on each secret page). Returns the tokens."""
    with httpx.Client(base_url=base, timeout=30) as client:
        response = post_page(client, "/login", {"card_number": REGULAR.card, "password": REGULAR.password})
        assert response.status_code == 302 and response.headers["location"] == "/", response.text
        assert post_page(client, "/settings", {"email": ADDRESS, "language": "ja"}).status_code == 302
        confirm = mail_to(sink, ADDRESS, CONFIRM_LINK, 1)
        assert client.post(confirm, data={"csrf_token": "expired"}).status_code == 400  # logged by the portal
        assert post_page(client, confirm, {}).status_code in (200, 302)
        assert post_page(client, "/settings/calendar", {"action": "create"}, page="/settings").status_code == 302
        feed = FEED_LINK.search(client.get("/settings").text)
        assert feed, "no calendar address on the settings page"
        feed = feed.group(1)
        assert post_page(client, "/logout", {}, page="/").status_code == 302
    with httpx.Client(base_url=base, timeout=30) as calendar_app:
        response = calendar_app.get(feed)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    with httpx.Client(base_url=base, timeout=30) as client:
        response = post_page(client, "/password/forgot", {"card_number": REGULAR.card, "email": ADDRESS})
        assert response.status_code == 302
        reset = mail_to(sink, ADDRESS, RESET_LINK, 2)
        assert client.post(reset, data={"csrf_token": "expired"}).status_code == 400
        response = post_page(client, reset, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert response.status_code == 302 and response.headers["location"] == "/login", response.text
    return [path.rsplit("/", 1)[1].removesuffix(".ics") for path in (confirm, feed, reset)]


def assert_no_token(log: str, tokens: list[str]) -> None:
    for token in tokens:
        assert len(token) >= 20
        assert token not in log, f"token {token[:6]}... in the log:\n" + "\n".join(
            line for line in log.splitlines() if token in line)
    for prefix in SECRET_PATH_PREFIXES:  # the routes were logged, with the token taken out
        assert prefix + REDACTED in log, f"no {prefix} line in the log:\n{log}"


@pytest.fixture
def server_env(tmp_path, smtp):  # noqa: F811
    def env(port: int) -> dict[str, str]:
        return {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_ADAPTER": "demo",
                "PORTAL_DEMO_DATABASE": str(tmp_path / "demo.sqlite3"), "PORTAL_SECRET_KEY": "k" * 32,
                "PORTAL_MAIL_HOST": "127.0.0.1", "PORTAL_MAIL_PORT": str(smtp.port),
                "PORTAL_MAIL_FROM": "library@example.jp", "PORTAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    return env


def run_server(command: list[str], env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text(errors="replace")
        try:
            if http_get(port, "/healthz")[0].split(b" ")[1] == b"200":
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not answer /healthz in 60 s:\n" + log_path.read_text(errors="replace"))


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.mark.parametrize("server", ["gunicorn", "flask run"])
def test_no_token_in_any_log_line_of_a_real_server(server, server_env, smtp, tmp_path):  # noqa: F811
    port = free_port()
    env = server_env(port)
    if server == "gunicorn":
        env.update(SHIORI_BIND=f"127.0.0.1:{port}", SHIORI_WORKERS="2", SHIORI_THREADS="2")
        command = [sys.executable, "-m", "gunicorn", "-c", str(CONF), "app:create_app()"]
    else:
        command = [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port), "--no-reload"]
    log_path = tmp_path / "server.log"
    process = run_server(command, env, port, log_path)
    try:
        tokens = go_through_every_token(f"http://127.0.0.1:{port}", smtp.sink)
    finally:
        stop(process)
    assert_no_token(log_path.read_text(errors="replace"), tokens)


def test_redact_covers_every_route_with_a_token(app):
    """Redaction goes by route: every rule of the app with a <token> (now and any added later) is covered."""
    secret = "SeCrEt-ToKeN_0123456789abcdef.sig"
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "token" in rule.arguments:
                path = app.url_for(rule.endpoint, token=secret)
                found.append(rule.endpoint)
                for line in (f'127.0.0.1 "GET {path}" 200', f"GET {path}?x=1 HTTP/1.1", f"next={path}"):
                    assert secret not in redact(line), (rule.endpoint, redact(line))
    assert sorted(found) == ["calendar.feed", "email.confirm", "reset.reset_password"]
    assert redact('"GET /settings/calendar" 302') == '"GET /settings/calendar" 302'  # other paths are kept
    assert redact("CSRF check failed on /email/confirm/abc.DEF-1_x: expired") == (
        "CSRF check failed on /email/confirm/[token]: expired")


@pytest.fixture
def mail_app_config(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost")
    return app_config


def test_the_portals_own_lines_carry_no_token(mail_app_config, caplog, monkeypatch):
    """The error handlers log the path: an expired form on the reset and confirmation pages, the ILS
    down while a calendar app fetches the feed."""
    from app import create_app
    from extensions import db
    from notifications.tokens import confirmation_nonce, confirmation_token, issue_reset_token
    from store.models import Preference
    from store.preferences import update_preferences
    from views.calendar import feed_token

    app = create_app(mail_app_config)
    adapter = app.extensions["shiori.adapter"]
    with app.app_context():
        key = adapter.authenticate(REGULAR.card, REGULAR.password).key
        update_preferences(key, email=ADDRESS, email_confirmed=True)
        db.session.get(Preference, key).calendar_id = "c" * 32
        reset = issue_reset_token(key)
        confirm = confirmation_token(confirmation_nonce(key, fresh=True))
        db.session.commit()
        feed = feed_token("c" * 32)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    assert client.post(f"/password/reset/{reset}", data={"csrf_token": "expired"}).status_code == 400
    assert client.post(f"/email/confirm/{confirm}", data={"csrf_token": "expired"}).status_code == 400

    def down(*args):
        raise IlsUnavailable("down")

    monkeypatch.setattr(adapter, "loans", down)
    assert client.get(f"/calendar/{feed}.ics").status_code == 503
    adapter.close()
    lines = "\n".join(record.getMessage() for record in caplog.records)
    for token in (reset, confirm, feed):
        assert token not in lines, lines
    assert "CSRF check failed" in lines and "ILS unavailable" in lines, lines

"""Each notice exactly once: two runs at the same time, and a run that dies half-way then runs again,
on SQLite and on the local PostgreSQL (row locks there, a lease on SQLite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import create_app
from extensions import db
from notifications.ledger import Ledger
from notifications.mail import SmtpMailer
from notifications.notices import NoticeRun
from tests.notifications.conftest import FakeIls, register_address, use_fake_ils

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store_config(app_config, database_url):
    app_config["DATABASE_URL"] = database_url
    return app_config


def counts(app) -> dict[str, int]:
    with app.app_context():
        return Ledger(db.engine).counts()


def assert_each_once(sink, expected: int) -> None:
    ids = Counter(message["Message-ID"] for message in sink.messages)
    assert ids and max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    assert len(ids) == expected


def test_two_runs_at_once_send_each_notice_once(store_config, smtp):
    smtp.sink.delay = 0.003  # keep each SMTP transaction open a little, so the runs interleave
    first, second = create_app(store_config), create_app(store_config)
    fake = use_fake_ils(first, FakeIls(patrons=40, holds=2, loans=2))
    second.extensions["shiori.adapter"] = FakeIls(patrons=40, holds=2, loans=2)
    for app in (first, second):
        app.config["NOTICE_ILS_CONCURRENCY"] = 4
    start = threading.Barrier(2)
    summaries = []

    def run(app):
        start.wait()
        summaries.append(NoticeRun(app).run())

    threads = [threading.Thread(target=run, args=(app,)) for app in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(summaries) == 2 and all(s.errors == 0 for s in summaries)
    assert sum(s.sent for s in summaries) == fake.expected() == 120
    assert all(s.sent for s in summaries), "both runs took part"  # they really overlapped
    assert_each_once(smtp.sink, fake.expected())
    assert counts(first) == {"sent": 160}  # one ledger row per hold and per loan
    assert NoticeRun(first).run().sent == 0


class Crash(BaseException):
    """The process dying: not an Exception, so nothing on the way catches it."""


def test_a_run_that_dies_half_way_loses_nothing_and_repeats_nothing(store_config, smtp, monkeypatch):
    app = create_app(store_config)
    fake = use_fake_ils(app, FakeIls(patrons=10, holds=2, loans=1))
    app.config["NOTICE_ILS_CONCURRENCY"] = 2
    real_send, allowed, lock = SmtpMailer.send, [7], threading.Lock()

    def send_then_die(self, message):
        with lock:
            if allowed[0] == 0:
                raise Crash("killed")
            allowed[0] -= 1
        real_send(self, message)

    monkeypatch.setattr(SmtpMailer, "send", send_then_die)
    with pytest.raises(Crash):
        NoticeRun(app).run()
    assert len(smtp.sink.wait_for(7)) == 7
    monkeypatch.setattr(SmtpMailer, "send", real_send)

    later = lambda: datetime.now(UTC) + timedelta(seconds=app.config["NOTICE_LEASE_SECONDS"] + 1)  # noqa: E731
    if store_config["DATABASE_URL"].startswith("sqlite"):
        # The dead run's claims hold until their lease expires; a run before that leaves them alone.
        assert NoticeRun(app).run().errors == 0
        stuck = counts(app).get("sending", 0)
        assert stuck >= 1
        summary = NoticeRun(app, clock=later).run()
    else:
        summary = NoticeRun(app).run()  # PostgreSQL rolled the dead run's claims back at once
    assert summary.errors == 0
    assert_each_once(smtp.sink, fake.expected())
    assert counts(app) == {"sent": 30}
    assert NoticeRun(app, clock=later).run().sent == 0


def test_a_notice_run_killed_with_sigkill_then_run_again(store_config, smtp, tmp_path):
    """A real `flask notices run` process, SIGKILLed while the mail server holds its third message."""
    app = create_app(store_config)
    register_address(app, "P004", "misaki@example.jp")  # a hold ready for pickup
    register_address(app, "P001", "hanako@example.jp")  # a loan due soon
    register_address(app, "P006", "sakura@example.jp")  # loans due soon
    register_address(app, "P007", "yuko@example.jp")  # a loan due soon
    register_address(app, "P010", "emily@example.com", language="en")
    adapter = app.extensions["shiori.adapter"]
    adapter.checkin("I0011-1")  # Emily's hold becomes ready
    expected = 5
    env = {
        **os.environ,
        "PORTAL_SECRET_KEY": store_config["SECRET_KEY"],
        "PORTAL_INSTANCE_PATH": store_config["INSTANCE_PATH"],
        "PORTAL_DATABASE_URL": store_config["DATABASE_URL"],
        "PORTAL_DEMO_DATABASE": store_config["DEMO_DATABASE"],
        "PORTAL_MAIL_HOST": "127.0.0.1",
        "PORTAL_MAIL_PORT": str(smtp.port),
        "PORTAL_MAIL_FROM": "library@example.jp",
        "PORTAL_NOTICE_ILS_CONCURRENCY": "1",
        "PORTAL_NOTICE_LEASE_SECONDS": "2",
    }
    command = [sys.executable, "-m", "flask", "--app", "app", "notices", "run"]
    smtp.sink.hold_after = 2
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert smtp.sink.held.wait(30), process.communicate(timeout=5)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert len(smtp.sink.messages) == 2
    smtp.sink.hold_after = None
    smtp.sink.release.set()
    if store_config["DATABASE_URL"].startswith("sqlite"):
        time.sleep(2.1)  # the dead run's lease (2 s) runs out; PostgreSQL rolled its claim back already
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "0 errors" in again.stdout
    assert_each_once(smtp.sink, expected)
    third = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "0 notices sent" in third.stdout
    assert len(smtp.sink.messages) == expected

"""Workers that start together upgrade the store one at a time (store/upgrade_lock.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from store.upgrade_lock import one_upgrade_at_a_time
from tests.store.test_preferences import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def second_waits_for_first(engine_a, engine_b) -> None:
    """While one holder has the lock, another (its own connection or open file) does not get it."""
    entered = threading.Event()

    def second() -> None:
        with one_upgrade_at_a_time(engine_b):
            entered.set()

    with one_upgrade_at_a_time(engine_a):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not entered.wait(0.5)  # never set while the first holds the lock
    assert entered.wait(10)
    waiter.join(10)


def test_sqlite_upgrades_wait_for_each_other(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    second_waits_for_first(create_engine(url), create_engine(url))


@pytest.mark.postgres
def test_postgresql_upgrades_wait_for_each_other():
    second_waits_for_first(create_engine(POSTGRES_URL), create_engine(POSTGRES_URL))


def test_an_in_memory_database_needs_no_lock():
    with one_upgrade_at_a_time(create_engine("sqlite://")):
        pass


def test_eight_workers_start_together_on_a_fresh_store(tmp_path):
    """As gunicorn's workers do on a new instance folder: each builds the app, which migrates the
    store. Without the lock some of them failed with "table ... already exists"."""
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_SECRET_KEY": "k" * 32,
           "PORTAL_ADAPTER": "demo", "PORTAL_DEMO_DATABASE": str(tmp_path / "demo.sqlite3"), "PORTAL_MAIL_HOST": ""}
    (tmp_path / "instance").mkdir()
    # Each imports the app first, then all build it at the same moment, as forked workers do.
    start_at = time.time() + 5
    build = f"import time, app; time.sleep(max(0, {start_at} - time.time())); app.create_app()"
    workers = [subprocess.Popen([sys.executable, "-c", build], cwd=ROOT, env=env,  # noqa: S603
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(8)]
    outputs = [worker.communicate(timeout=120)[0].decode(errors="replace") for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 8, "\n".join(outputs)

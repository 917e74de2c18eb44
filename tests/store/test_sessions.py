"""The server-side session registry, in Redis and in the SQL store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.sessions import RedisSessionRegistry, SessionPatron, SqlSessionRegistry, new_session_id, touch_interval
from tests.notifications.conftest import database_url  # noqa: F401, F811  (the fixture: SQLite and PostgreSQL)


@pytest.fixture(params=["sql", "redis"])
def registry(request, app):
    idle = timedelta(minutes=15)
    if request.param == "redis":
        yield RedisSessionRegistry("redis://127.0.0.1:6379/0", idle)
    else:
        with app.app_context():
            yield SqlSessionRegistry(idle)


def who(key: str) -> SessionPatron:
    return SessionPatron(key, "20000" + key[-5:], f"名前 {key}", False)


def test_a_session_lives_until_removed_and_says_whose_it_is(registry):
    session_id = new_session_id()
    assert registry.touch(session_id) is None
    registry.add(session_id, who("P001"))
    assert registry.touch(session_id) == who("P001")
    registry.remove(session_id)
    assert registry.touch(session_id) is None


def test_the_initial_password_flag_is_cleared_on_the_server(registry):
    session_id = new_session_id()
    registry.add(session_id, SessionPatron("P-first", "2000000002", "名前", True))
    registry.password_changed(session_id)
    assert registry.touch(session_id) == SessionPatron("P-first", "2000000002", "名前", False)
    registry.remove(session_id)


def test_removing_a_patron_ends_all_their_sessions_and_no_one_elses(registry):
    mine = [new_session_id() for _ in range(3)]
    theirs = new_session_id()
    for session_id in mine:
        registry.add(session_id, who("P-mine"))
    registry.add(theirs, who("P-theirs"))
    assert registry.remove_patron("P-mine") == 3
    assert [registry.touch(session_id) for session_id in mine] == [None, None, None]
    assert registry.touch(theirs) == who("P-theirs")
    registry.remove(theirs)


def test_a_password_change_keeps_the_session_it_was_made_in(registry):
    here, elsewhere = new_session_id(), new_session_id()
    registry.add(here, who("P-change"))
    registry.add(elsewhere, who("P-change"))
    assert registry.remove_patron("P-change", keep=here) == 1
    assert registry.touch(here) == who("P-change") and registry.touch(elsewhere) is None
    registry.remove(here)


def test_an_idle_session_is_gone(app):
    with app.app_context():
        registry = SqlSessionRegistry(timedelta(seconds=-1))  # everything is already idle too long
        session_id = new_session_id()
        registry.add(session_id, who("P001"))
        assert registry.touch(session_id) is None


@pytest.mark.parametrize("minutes", [1, 5, 15, 60, 24 * 60])
def test_the_touch_interval_leaves_most_of_the_timeout_to_the_patron(minutes):
    """The stored last-seen time is at most ``touch_interval`` behind, so requests up to
    ``idle - touch_interval`` apart keep a session: 90% of the timeout, and never less than 54 s."""
    idle = timedelta(minutes=minutes)
    assert timedelta(0) < touch_interval(idle) <= idle / 10
    assert touch_interval(idle) <= timedelta(seconds=60)  # and the store is written at most once a minute


def test_an_active_session_outlives_a_short_timeout(app, monkeypatch):
    """The registry alone, at a 1-minute timeout, a request every 15 s for 5 minutes (it ended at 75 s)."""
    from datetime import UTC, datetime

    clock = [datetime.now(UTC)]
    monkeypatch.setattr("store.sessions._now", lambda: clock[0])
    with app.app_context():
        registry = SqlSessionRegistry(timedelta(minutes=1))
        session_id = new_session_id()
        registry.add(session_id, who("P-busy"))
        for step in range(20):
            clock[0] += timedelta(seconds=15)
            assert registry.touch(session_id) is not None, f"ended after {15 * (step + 1)} s"
        clock[0] += timedelta(seconds=61)
        assert registry.touch(session_id) is None


def test_the_sqlite_store_commits_without_waiting_for_the_disk(app):
    """Every pooled connection of the embedded store is in WAL mode with synchronous=NORMAL (1): a
    login's or logout's commit does not fsync while holding the write lock all workers share."""
    from sqlalchemy import text

    from extensions import db

    with app.app_context():
        connections = [db.engine.connect() for _ in range(3)]  # not just the one the app started with
        try:
            for connection in connections:
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert connection.execute(text("PRAGMA synchronous")).scalar() == 1
        finally:
            for connection in connections:
                connection.close()


def test_migration_0004_up_and_down(app_config, database_url):  # noqa: F811
    """The patron's columns come and go; sessions from before (their patron was in the cookie) end."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from app import MIGRATIONS, create_app
    from extensions import db

    app_config["DATABASE_URL"] = database_url
    app = create_app(app_config)
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("login_session")}
        assert {"card_number", "display_name", "must_change_password"} <= columns
        downgrade(directory=str(MIGRATIONS), revision="0003")
        assert "card_number" not in {c["name"] for c in inspect(db.engine).get_columns("login_session")}
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO login_session (session_id, patron_key, last_seen_at)"
                                    " VALUES ('old', 'P001', CURRENT_TIMESTAMP)"))
        upgrade(directory=str(MIGRATIONS))
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM login_session")).scalar() == 0
        registry = SqlSessionRegistry(timedelta(minutes=15))
        session_id = new_session_id()
        registry.add(session_id, who("P001"))
        assert registry.touch(session_id) == who("P001")

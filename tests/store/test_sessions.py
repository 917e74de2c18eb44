"""The server-side session registry, in Redis and in the SQL store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.sessions import RedisSessionRegistry, SqlSessionRegistry, new_session_id


@pytest.fixture(params=["sql", "redis"])
def registry(request, app):
    idle = timedelta(minutes=15)
    if request.param == "redis":
        yield RedisSessionRegistry("redis://127.0.0.1:6379/0", idle)
    else:
        with app.app_context():
            yield SqlSessionRegistry(idle)


def test_a_session_lives_until_removed(registry):
    session_id = new_session_id()
    assert registry.touch(session_id, "P001") is False
    registry.add(session_id, "P001")
    assert registry.touch(session_id, "P001") is True
    assert registry.touch(session_id, "P002") is False  # the id is bound to its patron
    registry.remove(session_id)
    assert registry.touch(session_id, "P001") is False


def test_removing_a_patron_ends_all_their_sessions_and_no_one_elses(registry):
    mine = [new_session_id() for _ in range(3)]
    theirs = new_session_id()
    for session_id in mine:
        registry.add(session_id, "P-mine")
    registry.add(theirs, "P-theirs")
    registry.remove_patron("P-mine")
    assert [registry.touch(session_id, "P-mine") for session_id in mine] == [False, False, False]
    assert registry.touch(theirs, "P-theirs") is True
    registry.remove(theirs)


def test_an_idle_session_is_gone(app):
    with app.app_context():
        registry = SqlSessionRegistry(timedelta(seconds=-1))  # everything is already idle too long
        session_id = new_session_id()
        registry.add(session_id, "P001")
        assert registry.touch(session_id, "P001") is False


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

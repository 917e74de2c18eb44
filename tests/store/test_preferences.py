"""The preference store, on SQLite (the default) and on the local PostgreSQL, through its migrations."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from app import create_app
from extensions import db
from store.preferences import get_preferences, update_preferences

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_app(request, app_config):
    if request.param == "postgresql":
        schema = f"shiori_test_{uuid.uuid4().hex[:8]}"
        engine = create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        app_config["DATABASE_URL"] = POSTGRES_URL + f"?options=-csearch_path%3D{schema}"
        yield create_app(app_config)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
    else:
        yield create_app(app_config)


def test_migrations_create_the_schema(store_app):
    with store_app.app_context():
        inspector = inspect(db.engine)
        assert "preference" in inspector.get_table_names()
        assert "alembic_version" in inspector.get_table_names()


def test_defaults_for_a_patron_who_never_saved(store_app):
    with store_app.app_context():
        preference = get_preferences("nobody")
        assert preference.email is None
        assert preference.notify_hold_ready is True
        assert db.session.get(type(preference), "nobody") is None  # nothing written by reading


def test_saved_preferences_survive_a_restart(store_app, app_config):
    with store_app.app_context():
        update_preferences("P1", email="hanako@example.jp", language="en", notify_due_soon=False)
        db.session.remove()
    again = create_app({**app_config, "DATABASE_URL": store_app.config["DATABASE_URL"]})
    with again.app_context():
        preference = get_preferences("P1")
        assert (preference.email, preference.language, preference.notify_due_soon) == ("hanako@example.jp", "en", False)
        assert preference.email_confirmed is False


def test_only_preferences_can_be_written(store_app):
    with store_app.app_context(), pytest.raises(KeyError):
        update_preferences("P1", password="secret")


def test_an_upgrade_keeps_the_data_of_the_first_schema(app_config, tmp_path):
    """A library upgrading from the first release keeps every patron's preferences."""
    from flask_migrate import upgrade

    from app import MIGRATIONS

    app_config.update(STORE_AUTO_UPGRADE=False, DATABASE_URL=f"sqlite:///{tmp_path / 'old.sqlite3'}")
    app = create_app(app_config)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision="0001")
        db.session.execute(
            text(
                "INSERT INTO preference (patron_key, language, furigana, email, email_confirmed, notify_hold_ready,"
                " notify_due_soon, created_at, updated_at) VALUES ('P001', 'en', 1, 'a@example.jp', 1, 1, 0,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        db.session.commit()
        upgrade(directory=str(MIGRATIONS))
        preference = get_preferences("P001")
        assert (preference.language, preference.furigana, preference.email, preference.notify_due_soon) == (
            "en", True, "a@example.jp", False)
        assert preference.email_confirmed is True

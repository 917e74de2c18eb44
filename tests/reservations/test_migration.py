"""Store migration 0006: up from 0003 keeping the preferences (``notify_renewable`` off for everyone),
down again and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from app import MIGRATIONS, create_app
from extensions import db
from store.preferences import get_preferences
from tests.notifications.conftest import database_url  # noqa: F401  (SQLite, and PostgreSQL in a throwaway schema)


def test_0006_up_down_and_up_again(app_config, database_url):  # noqa: F811
    from flask_migrate import downgrade, upgrade

    app_config.update(STORE_AUTO_UPGRADE=False, DATABASE_URL=database_url)
    app = create_app(app_config)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision="0003")
        db.session.execute(text(
            "INSERT INTO preference (patron_key, language, furigana, email, email_confirmed, notify_hold_ready,"
            " notify_due_soon, created_at, updated_at) VALUES ('P001', 'ja', false, 'a@example.jp', true, true,"
            " true, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        db.session.commit()
        upgrade(directory=str(MIGRATIONS), revision="0006")
        tables = set(inspect(db.engine).get_table_names())
        assert {"renewal_watch", "series_queue"} <= tables
        assert get_preferences("P001").notify_renewable is False
        db.session.remove()
        downgrade(directory=str(MIGRATIONS), revision="0003")
        tables = set(inspect(db.engine).get_table_names())
        assert not {"renewal_watch", "series_queue"} & tables
        assert "notify_renewable" not in {column["name"] for column in inspect(db.engine).get_columns("preference")}
        upgrade(directory=str(MIGRATIONS), revision="0006")
        assert get_preferences("P001").email == "a@example.jp"
    with app.app_context():
        db.engine.dispose()


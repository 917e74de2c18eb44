"""Migration 0002: the ledger, the reset tokens and the calendar id, on SQLite and PostgreSQL."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import MIGRATIONS, create_app
from extensions import db


def test_migration_0002_up_and_down(app_config, database_url):
    app_config["DATABASE_URL"] = database_url
    app = create_app(app_config)
    with app.app_context():
        inspector = inspect(db.engine)
        assert {"notice_ledger", "password_reset"} <= set(inspector.get_table_names())
        assert "calendar_id" in {c["name"] for c in inspector.get_columns("preference")}
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("notice_ledger")}
        assert ("kind", "patron_key", "subject", "event") in unique
        downgrade(directory=str(MIGRATIONS), revision="0001")
        inspector = inspect(db.engine)
        assert "notice_ledger" not in inspector.get_table_names()
        assert "calendar_id" not in {c["name"] for c in inspector.get_columns("preference")}
        upgrade(directory=str(MIGRATIONS))
        assert "notice_ledger" in inspect(db.engine).get_table_names()

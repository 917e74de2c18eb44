"""Shiori's application factory: ``create_app`` builds the app from named steps (flaskr, cookiecutter-flask).

``flask --app app run`` (or plain ``flask run`` in this folder) finds ``create_app`` here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from adapters.registry import create_adapter
from adapters.resilience import CircuitBreaker, GuardedAdapter
from config.loader import load_config
from config.maintenance import MaintenanceSchedule
from extensions import ADAPTER_EXTENSION_KEY, babel, csrf, db, limiter, login_manager, migrate
from views.metrics import count_cache_lookup, observe_ils_call

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "store" / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal. ``config`` overrides every other layer (tests pass one)."""
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("PORTAL_INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    load_config(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    register_extensions(app)
    register_adapter(app)
    register_store(app)
    register_blueprints(app)
    register_cli(app)
    return app


def configure_logging(app: Flask) -> None:
    """One line per event on stderr; gunicorn or systemd collects it. No line carries a reset,
    confirmation or calendar token (views/redaction.py): not the portal's, nor the development server's."""
    from views import redaction

    if not app.debug and not app.testing and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    redaction.install(logging.getLogger("werkzeug"), app.logger, *logging.getLogger().handlers)


def register_extensions(app: Flask) -> None:
    from views.i18n import select_locale, select_timezone

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=str(HERE / "translations"),
    )
    limiter.init_app(app)
    login_manager.init_app(app)


def register_adapter(app: Flask) -> None:
    """Create the configured ILS adapter once; an unknown name stops start-up with the valid choices."""
    if not app.config.get("DEMO_DATABASE"):
        app.config["DEMO_DATABASE"] = str(Path(app.instance_path) / "demo-ils.sqlite3")
    schedule = MaintenanceSchedule.from_config(app.config)
    breaker = CircuitBreaker(app.config["ILS_CIRCUIT_THRESHOLD"], app.config["ILS_CIRCUIT_RESET_SECONDS"])
    app.extensions["shiori.maintenance"] = schedule
    adapter = create_adapter(app.config)
    adapter.observe_cache(count_cache_lookup)
    app.extensions[ADAPTER_EXTENSION_KEY] = GuardedAdapter(adapter, breaker, schedule.disabled_now, observer=observe_ils_call)


def register_store(app: Flask) -> None:
    """Bring the preference store's schema up to date, so an upgrade never needs a manual step."""
    import store.links  # noqa: F401
    import store.models  # noqa: F401  (the tables must be known to SQLAlchemy)
    import store.sessions  # noqa: F401

    sqlite = app.config["DATABASE_URL"].startswith("sqlite")
    if sqlite:
        from sqlalchemy import event

        with app.app_context():
            # WAL's commit without an fsync (only checkpoints sync): a commit no longer waits for the
            # disk while holding the one write lock every worker's login and logout queue on. A power
            # cut may lose the last commits, never the file.
            event.listen(db.engine, "connect", lambda connection, _record: connection.execute(
                "PRAGMA synchronous=NORMAL"))
    if app.config["STORE_AUTO_UPGRADE"]:
        from flask_migrate import upgrade

        from store.upgrade_lock import one_upgrade_at_a_time

        with app.app_context(), one_upgrade_at_a_time(db.engine):  # workers start together
            upgrade(directory=str(MIGRATIONS))
    if sqlite:
        with app.app_context(), db.engine.connect() as connection:
            # Readers never wait for a writer (it stays set in the file for every later connection).
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def register_blueprints(app: Flask) -> None:
    from views import (
        account,
        auth,
        basket,
        calendar,
        card,
        catalog,
        email,
        errors,
        furigana,
        health,
        i18n,
        layout,
        linked,
        linking,
        messages,
        metrics,
        pickup,
        renewal_watch,
        reset,
        security,
        series,
        session,
        settings,
        start,
    )

    security.init_app(app)
    metrics.init_app(app)
    session.init_app(app)
    i18n.init_app(app)
    furigana.init_app(app)
    layout.init_app(app)
    messages.init_app(app)
    errors.init_app(app)
    basket.init_app(app)
    start.init_app(app)
    card.init_app(app)
    linked.init_app(app)
    for module in (auth, account, pickup, basket, renewal_watch, series, catalog, settings, i18n, furigana, layout, reset,
                   email, calendar, health, metrics, card, linked, linking):
        app.register_blueprint(module.bp)


def register_cli(app: Flask) -> None:
    import notifications
    from adapters.check_cli import ils_cli
    from adapters.demo.cli import demo_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(ils_cli)  # flask ils check
    notifications.init_app(app)  # flask notices run | test-email

"""Loading the layered configuration into a Flask app."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from config import defaults

INSTANCE_FILE = "portal.cfg"
ENV_PREFIX = "PORTAL"


class ConfigError(RuntimeError):
    """A configuration that cannot start: the message says what to set."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """defaults -> instance/portal.cfg -> PORTAL_* environment -> ``overrides``."""
    app.config.from_object(defaults)
    app.config.from_pyfile(INSTANCE_FILE, silent=True)
    app.config.from_prefixed_env(ENV_PREFIX)
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        raise ConfigError(
            "SECRET_KEY is not set. Run `python -m config.init` to write one into "
            f"{Path(app.instance_path) / INSTANCE_FILE}, or set PORTAL_SECRET_KEY."
        )
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'shiori.sqlite3'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if app.config["DATABASE_URL"].startswith("sqlite"):
        # Several gunicorn workers write (logins, settings): wait for a lock rather than fail at once.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})


def write_instance_file(instance_path: str) -> Path | None:
    """Create instance/portal.cfg with a fresh SECRET_KEY if there is none; return its path if written."""
    path = Path(instance_path) / INSTANCE_FILE
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Shiori instance configuration (Python syntax). See config/defaults.py for every setting.\n"
        f"SECRET_KEY = {secrets.token_hex(32)!r}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path

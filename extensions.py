"""Extensions, created unbound and attached to the app in ``app.create_app`` (Flask's extension pattern)."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from adapters.base import IlsAdapter

db = SQLAlchemy()
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

ADAPTER_EXTENSION_KEY = "shiori.adapter"


def ils() -> IlsAdapter:
    """The ILS adapter of the current app: the one way views reach the library system."""
    return current_app.extensions[ADAPTER_EXTENSION_KEY]

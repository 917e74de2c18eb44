"""What every page's layout needs: the library's branding in the current language, the language
switch and the logout button (both small POST forms with their own CSRF token)."""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale

LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}


def _localised(value, language: str, default_language: str) -> str:
    """A config value given either as plain text or as {"ja": ..., "en": ...}."""
    if isinstance(value, dict):
        return value.get(language) or value.get(default_language) or next(iter(value.values()), "")
    return value or ""


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")

    @app.context_processor
    def layout_context():
        default_language = app.config["LANGUAGES"][0]
        locale = get_locale()
        current = str(locale.language) if locale else default_language
        return {
            "current_language": current,
            "other_languages": [lang for lang in app.config["LANGUAGES"] if lang != current],
            "language_names": LANGUAGE_NAMES,
            "library_name": _localised(app.config["LIBRARY_NAME"], current, default_language),
            "library_contact": _localised(app.config["LIBRARY_CONTACT"], current, default_language),
            "library_home_url": app.config["LIBRARY_HOME_URL"],
            "library_opac_url": app.config["LIBRARY_OPAC_URL"],
        }

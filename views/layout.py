"""What every page's layout needs: the library's branding in the current language and colours,
and the language switch."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, current_app
from flask_babel import get_locale

from config.loader import ConfigError

bp = Blueprint("layout", __name__)
LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MIN_CONTRAST_WITH_WHITE = 4.5


def _localised(value, language: str, default_language: str) -> str:
    """A config value given either as plain text or as {"ja": ..., "en": ...}."""
    if isinstance(value, dict):
        return value.get(language) or value.get(default_language) or next(iter(value.values()), "")
    return value or ""


def contrast_with_white(colour: str) -> float:
    """WCAG 2.1 contrast ratio between ``#rrggbb`` and white."""

    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    luminance = 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)
    return 1.05 / (luminance + 0.05)


def check_colours(colours: dict) -> dict[str, str]:
    """The configured colours, or ConfigError for one that is malformed or too light for white text."""
    checked = {}
    for name in ("brand", "brand_dark"):
        colour = str(colours.get(name, ""))
        if not COLOUR.fullmatch(colour):
            raise ConfigError(f"LIBRARY_COLOURS[{name!r}] must be a colour like #1f5f8b, not {colour!r}")
        if contrast_with_white(colour) < MIN_CONTRAST_WITH_WHITE:
            raise ConfigError(
                f"LIBRARY_COLOURS[{name!r}] = {colour} is too light for white text "
                f"(contrast {contrast_with_white(colour):.1f}:1, WCAG AA needs {MIN_CONTRAST_WITH_WHITE}:1)"
            )
        checked[name] = colour
    return checked


@bp.get("/branding.css")
def branding_css():
    """The library's colours as CSS variables: a stylesheet, so the pages need no inline style."""
    colours = current_app.config["LIBRARY_COLOURS"]
    css = f":root {{ --brand: {colours['brand']}; --brand-dark: {colours['brand_dark']}; }}\n"
    response = Response(css, mimetype="text/css")
    response.cache_control.max_age = 3600
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.config["LIBRARY_COLOURS"] = check_colours(app.config["LIBRARY_COLOURS"])

    @app.context_processor
    def layout_context():
        default_language = app.config["LANGUAGES"][0]
        locale = get_locale()
        current = str(locale.language) if locale else default_language
        logo = app.config["LIBRARY_LOGO"]
        return {
            "current_language": current,
            "other_languages": [lang for lang in app.config["LANGUAGES"] if lang != current],
            "language_names": LANGUAGE_NAMES,
            "library_name": _localised(app.config["LIBRARY_NAME"], current, default_language),
            "library_contact": _localised(app.config["LIBRARY_CONTACT"], current, default_language),
            "library_home_url": app.config["LIBRARY_HOME_URL"],
            "library_opac_url": app.config["LIBRARY_OPAC_URL"],
            "maintenance_messages": app.extensions["shiori.maintenance"].messages(current),
            "library_logo": logo if "//" in logo or logo.startswith("/") or not logo else f"/static/{logo}",
        }

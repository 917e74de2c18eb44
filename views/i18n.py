"""Language choice and locale-aware formatting.

The language comes from the patron's saved preference (copied into the session at login), else
the choice made in this browser session (the switch works before login), else Accept-Language,
else the library's default.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, current_app, redirect, request, session
from flask_babel import format_date, get_locale
from flask_login import current_user
from markupsafe import Markup
from wtforms import HiddenField

from adapters.models import PickupLocation
from store.preferences import update_preferences
from views.forms import PortalForm
from views.furigana import furigana_enabled
from views.safety import safe_next_url

bp = Blueprint("i18n", __name__)

# Japanese dates read 2026年11月24日(火); English ones Tue, 24 Nov 2026.
DATE_PATTERNS = {"ja": "y年M月d日(E)", "en": "EEE, d MMM y"}


class LanguageForm(PortalForm):
    language = HiddenField()
    next = HiddenField()


def select_locale() -> str:
    """The browser session's choice (for a patron, their saved language, copied in at login and
    kept in step by the switches and the settings page), else Accept-Language, else the default."""
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("language")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


# Day numbers with their own readings (1日 is ついたち, not いちにち).
DAY_READINGS = {1: "ついたち", 2: "ふつか", 3: "みっか", 4: "よっか", 5: "いつか", 6: "むいか", 7: "なのか",
                8: "ようか", 9: "ここのか", 10: "とおか", 14: "じゅうよっか", 20: "はつか", 24: "にじゅうよっか"}
WEEKDAY_READINGS = ["げつ", "か", "すい", "もく", "きん", "ど", "にち"]


def _ruby(base: str, reading: str) -> str:
    return f'<ruby>{base}<rt aria-hidden="true">{reading}</rt></ruby>'


def local_date(value: date | None) -> str | Markup:
    """A date the way the current language writes it (with readings in furigana mode); empty for None."""
    if value is None:
        return ""
    language = str(get_locale().language)
    if language == "ja" and furigana_enabled():
        day = value.day
        day_part = _ruby(f"{day}日", DAY_READINGS[day]) if day in DAY_READINGS else f"{day}{_ruby('日', 'にち')}"
        weekday = format_date(value, "E")
        return Markup(  # noqa: S704 (built from escaped text and digits)
            f"{value.year}{_ruby('年', 'ねん')}{value.month}{_ruby('月', 'がつ')}{day_part}"
            f"({_ruby(weekday, WEEKDAY_READINGS[value.weekday()])})"
        )
    return format_date(value, DATE_PATTERNS.get(language, "medium"))


@bp.post("/language")
def set_language():
    """The language switch on every page: remembered in the session, and saved if logged in."""
    form = LanguageForm()
    target = safe_next_url(form.next.data)
    if form.validate_on_submit() and form.language.data in current_app.config["LANGUAGES"]:
        session["language"] = form.language.data
        if current_user.is_authenticated:
            update_preferences(current_user.patron_key, language=form.language.data)
    return redirect(target)


def place_name(location: PickupLocation) -> str:
    """A pickup location's name in the page's language, where the library system has one."""
    return location.name_in(str(get_locale().language))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["place_name"] = place_name

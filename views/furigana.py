"""Furigana mode: the Japanese UI with a reading over every kanji, as the seed guide prints it.

The readings come from ``translations/ja/furigana.txt``, curated by a person, never guessed at
request time. Only the portal's own words get readings (translated strings, flash messages, form
labels and errors); book titles and names from the ILS are shown as the library catalogued them.
A screen reader reads each word once: the reading is ``aria-hidden``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from flask import Blueprint, Flask, g, redirect, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from markupsafe import Markup, escape
from wtforms import HiddenField

from store.preferences import update_preferences
from views.forms import PortalForm
from views.safety import safe_next_url

bp = Blueprint("furigana", __name__)
READINGS_FILE = Path(__file__).resolve().parent.parent / "translations" / "ja" / "furigana.txt"
_ENTRY_PART = re.compile(r"\{([^|{}]+)\|([^|{}]+)\}|([^{}]+)")
_RT = re.compile(r"<rt\b[^>]*>.*?</rt>", re.DOTALL)
KANJI = re.compile(r"[\u3400-\u9fff々]")


@dataclass(frozen=True)
class Readings:
    """Longest-match annotation of text with the curated readings."""

    entries: dict[str, str]  # plain text -> the same text as HTML with <ruby>
    longest: int

    @classmethod
    def parse(cls, source: str) -> Readings:
        entries = {}
        for line in source.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            plain, html = [], []
            for kanji, reading, kana in _ENTRY_PART.findall(line):
                if kana:
                    plain.append(kana)
                    html.append(str(escape(kana)))
                else:
                    plain.append(kanji)
                    html.append(f'<ruby>{escape(kanji)}<rt aria-hidden="true">{escape(reading)}</rt></ruby>')
            entries["".join(plain)] = "".join(html)
        return cls(entries, max(map(len, entries), default=0))

    def annotate(self, html: str) -> str:
        """Put readings into already-escaped HTML text (which holds no tags, only entities).

        Every entry holds a kanji, so text without one passes through untouched.
        """
        out, position = [], 0
        while position < len(html):
            for size in range(min(self.longest, len(html) - position), 0, -1):
                annotated = self.entries.get(html[position : position + size])
                if annotated is not None:
                    out.append(annotated)
                    position += size
                    break
            else:
                out.append(html[position])
                position += 1
        return "".join(out)


@cache
def readings() -> Readings:
    return Readings.parse(READINGS_FILE.read_text(encoding="utf-8"))


def annotated(text) -> str:
    """``text`` escaped (unless already Markup), with readings."""
    return _annotate_html(str(escape(text)))


@lru_cache(maxsize=8192)
def _annotate_html(html: str) -> str:
    # The same few hundred messages and titles come back on every page, and annotating scans
    # every character, so answers are kept.
    return readings().annotate(html)


class FuriganaForm(PortalForm):
    furigana = HiddenField()
    next = HiddenField()


def furigana_enabled() -> bool:
    """On for Japanese pages when the patron (saved, copied into the session at login) or, before
    login, this browser session chose it."""
    if "furigana" not in g:
        locale = get_locale()
        g.furigana = locale is not None and locale.language == "ja" and bool(session.get("furigana"))
    return g.furigana


def library_text(text) -> Markup:
    """Jinja filter for the library's own texts from config, which may mark readings as {漢字|よみ}:
    rendered as ruby in furigana mode, as the bare kanji otherwise."""
    ruby = furigana_enabled()
    parts = []
    for kanji, reading, other in _ENTRY_PART.findall(str(text or "")):
        if other:
            parts.append(str(escape(other)))
        elif ruby:
            parts.append(f'<ruby>{escape(kanji)}<rt aria-hidden="true">{escape(reading)}</rt></ruby>')
        else:
            parts.append(str(escape(kanji)))
    return Markup("".join(parts))  # noqa: S704 (built from escaped text)


def with_readings(text) -> Markup | str:
    """Jinja filter: the text with readings when furigana mode is on, else unchanged."""
    if text is None or not furigana_enabled():
        return text
    return Markup(annotated(text))  # noqa: S704 (built from escaped text)


def plain_text(text) -> str:
    """Jinja filter for attributes and <title>: readings and tags removed."""
    return Markup(_RT.sub("", str(text))).striptags()  # noqa: S704 (built from escaped text)


@bp.post("/furigana")
def set_furigana():
    """The ふりがな switch: remembered in the session, and saved if logged in."""
    form = FuriganaForm()
    if form.validate_on_submit():
        enabled = form.furigana.data == "on"
        session["furigana"] = enabled
        g.pop("furigana", None)
        if current_user.is_authenticated:
            update_preferences(current_user.patron_key, furigana=enabled)
    return redirect(safe_next_url(form.next.data))


def init_app(app: Flask) -> None:
    """Install gettext callables that add readings, so every ``_()`` in a template gets them."""

    def translations():
        """Flask-Babel's translations, kept while its chosen locale stays the same object: it finds
        them through several context lookups, and a page asks a hundred times. ``force_locale``
        (mails, calendar feeds) sets another locale object, so it is never served stale ones."""
        locale = getattr(g.get("_flask_babel"), "babel_locale", None)
        kept = g.get("shiori_translations")
        if locale is not None and kept is not None and kept[0] is locale:
            return kept[1]
        found = get_translations()
        locale = getattr(g.get("_flask_babel"), "babel_locale", None)
        if locale is not None:
            g.shiori_translations = (locale, found)
        return found

    def gettext(string: str) -> str:
        translated = translations().ugettext(string)
        return annotated(translated) if furigana_enabled() else translated

    def ngettext(singular: str, plural: str, number: int) -> str:
        translated = translations().ungettext(singular, plural, number)
        return annotated(translated) if furigana_enabled() else translated

    app.jinja_env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)
    app.jinja_env.filters["furigana"] = with_readings
    app.jinja_env.filters["plain_text"] = plain_text
    app.jinja_env.filters["library_text"] = library_text

    @app.context_processor
    def furigana_context():
        return {"furigana_on": furigana_enabled()}

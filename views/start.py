"""The start page a visitor sees at / (seed guide steps 1 and 2): what the portal does, in the
library's words, one Log in button, the first-time and password-rule hints, the forgotten-password
link and the library's contact. A visitor who has done nothing wrong gets no error message."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from views.layout import _localised
from views.passwords import policy_rules


def start_page_for_visitors():
    """Before the menu's login check: a visitor at / gets the start page instead of a login prompt."""
    if request.endpoint != "account.menu" or current_user.is_authenticated:
        return None
    return render_template("start/index.html", paragraphs=library_paragraphs(), rules=policy_rules())


def library_paragraphs() -> list[str]:
    """START_PAGE_TEXT in the page's language, split into paragraphs; empty for the built-in text."""
    languages = current_app.config["LANGUAGES"]
    locale = get_locale()
    text = _localised(current_app.config["START_PAGE_TEXT"], str(locale.language) if locale else languages[0], languages[0])
    return [paragraph.strip() for paragraph in text.split("\n\n") if paragraph.strip()]


def init_app(app: Flask) -> None:
    app.before_request(start_page_for_visitors)

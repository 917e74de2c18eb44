"""A mail's subject, plain text and HTML, in the patron's language, with absolute links.

Every mail is two templates, ``templates/email/<name>.txt`` and ``<name>.html``, sharing their
msgids; they are rendered under Flask-Babel's ``force_locale`` so that a notice run (no request)
and a page (in the patron's current language) produce the same mail. Links are built from
PUBLIC_BASE_URL, never from the request's Host header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from notifications.mail import build_message
from views.layout import _localised

READING_MARKUP = re.compile(r"\{([^|{}]+)\|[^|{}]+\}")  # {漢字|よみ} in the library's texts (furigana mode)
_UNSET = object()

SUBJECTS = {
    "confirm_email": _l("Please confirm your email address"),
    "reset_password": _l("Resetting your password"),
    "password_changed": _l("Your password has been changed"),
    "email_changed": _l("Your email address for notices has been changed"),
    "hold_ready": _l("A reserved book is ready for pickup"),
    "due_soon": _l("Books due back soon"),
    "renewable": _l("You can now renew your books"),
    "series_placed": _l("The next volume has been reserved for you"),
    "test": _l("Test email from the patron portal"),
}


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    language: str
    sender_name: str

    def message(self, to: str, *, message_id: str | None = None, automatic: bool = True) -> EmailMessage:
        return build_message(
            current_app.config, to=to, subject=self.subject, text=self.text, html=self.html,
            sender_name=self.sender_name, language=self.language, message_id=message_id, automatic=automatic,
        )


def mail_language(language: str | None) -> str:
    """The patron's saved language if the portal offers it, else the library's first language."""
    languages = current_app.config["LANGUAGES"]
    return language if language in languages else languages[0]


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL under PUBLIC_BASE_URL; works with or without a request."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def library_setting(name: str, language: str) -> str:
    """LIBRARY_NAME / LIBRARY_CONTACT in ``language``, without furigana markup (mail has no ruby)."""
    config = current_app.config
    return READING_MARKUP.sub(r"\1", _localised(config[name], language, config["LANGUAGES"][0]))


def render_mail(name: str, language: str | None, **context: Any) -> RenderedMail:
    """Render ``email/<name>.txt`` and ``.html`` in ``language`` (needs an app context, not a request)."""
    language = mail_language(language)
    library_name = library_setting("LIBRARY_NAME", language)
    # Mail never gets furigana (the page's gettext would put <ruby> into it), and must not ask the
    # request's session whether to: there may be no request at all.
    furigana = g.pop("furigana", _UNSET)
    g.furigana = False
    try:
        with force_locale(language):
            context = {
                "library_name": library_name,
                "library_contact": library_setting("LIBRARY_CONTACT", language),
                "portal_url": external_url("account.menu"),
                "settings_url": external_url("settings.index"),
                "language": language,
                **context,
            }
            subject = f"[{library_name}] {SUBJECTS[name]}"
            text = render_template(f"email/{name}.txt", **context)
            html = render_template(f"email/{name}.html", **context)
    finally:
        g.pop("furigana", None)
        if furigana is not _UNSET:
            g.furigana = furigana
    return RenderedMail(subject=subject, text=text, html=html, language=language, sender_name=library_name)

"""Who is logged in, for how long, and what they must do first.

The patron's identity lives in the signed session cookie (key, card number, display name, the
must-change-password flag), so an ordinary page view costs no ILS round trip to find the user.
The cookie also carries a session id registered on the server (store/sessions.py): logout and
the timeouts remove it there, so a copied cookie does not outlive them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_user, logout_user

from adapters.models import Patron
from extensions import login_manager
from store.preferences import get_preferences
from store.sessions import RedisSessionRegistry, SqlSessionRegistry, new_session_id

SESSION_PATRON = "patron"
SESSION_LAST_SEEN = "last_seen"
SESSION_ID = "sid"
SESSION_STARTED = "started"
# How stale the last-seen time in the cookie may be: writing it on every request would re-sign
# and re-send the cookie with every page. The idle timeout may so end up to this much early.
LAST_SEEN_STEP_SECONDS = 30
# Kept in the session across login and logout: the language and furigana switches of this browser.
DISPLAY_CHOICES = ("language", "furigana")
# Endpoints a patron who must change the initial password may still reach.
ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset(
    {"auth.initial_password", "auth.logout", "i18n.set_language", "furigana.set_furigana", "static"}
)


@dataclass(frozen=True)
class PortalUser(UserMixin):
    """The Flask-Login user: just enough of ``Patron`` to render pages and call the adapter."""

    patron_key: str
    card_number: str
    display_name: str
    must_change_password: bool = False

    def get_id(self) -> str:
        return self.patron_key

    @classmethod
    def from_patron(cls, patron: Patron) -> PortalUser:
        return cls(patron.key, patron.card_number, patron.display_name, patron.must_change_password)


def start_session(patron: Patron) -> PortalUser:
    """Log the patron in with a fresh session: nothing carried over but this browser's display choices.

    They are not written to the patron's preferences: on a shared library PC they may be the
    previous patron's. A switch used while logged in saves the choice.
    """
    choices = {name: session[name] for name in DISPLAY_CHOICES if name in session}
    session.clear()
    session.update(choices)
    # The patron's saved choices win over this browser's; kept in the session so that pages
    # need not read the store for them.
    saved = get_preferences(patron.key)
    if saved.language in current_app.config["LANGUAGES"]:
        session["language"] = saved.language
    if saved.furigana:
        session["furigana"] = True
    user = PortalUser.from_patron(patron)
    session_id = new_session_id()
    registry().add(session_id, patron.key)
    session[SESSION_ID] = session_id
    session[SESSION_PATRON] = [user.patron_key, user.card_number, user.display_name, user.must_change_password]
    session[SESSION_LAST_SEEN] = session[SESSION_STARTED] = int(time.time())
    login_user(user)
    return user


def end_session() -> None:
    """Log out and forget everything in the session but this browser's display choices."""
    choices = {name: session[name] for name in DISPLAY_CHOICES if name in session}
    if SESSION_ID in session:
        registry().remove(session[SESSION_ID])
    logout_user()
    session.clear()
    session.update(choices)


def registry():
    return current_app.extensions["shiori.sessions"]


def mark_password_changed() -> None:
    key, card, name, _must_change = session[SESSION_PATRON]
    session[SESSION_PATRON] = [key, card, name, False]


@login_manager.user_loader
def load_user(user_id: str) -> PortalUser | None:
    stored = session.get(SESSION_PATRON)
    if not stored or stored[0] != user_id:
        return None
    return PortalUser(*stored)


def enforce_session_limits():
    """Log out a session that is idle too long (library PCs are shared), too old, or ended on the
    server (logged out elsewhere, or a cookie copied from a session that has ended)."""
    if request.endpoint == "static" or SESSION_PATRON not in session:
        return None
    config = current_app.config
    now = int(time.time())
    idle = now - session.get(SESSION_LAST_SEEN, 0) > config["IDLE_TIMEOUT_MINUTES"] * 60
    too_old = now - session.get(SESSION_STARTED, 0) > config["SESSION_ABSOLUTE_HOURS"] * 3600
    # The patron is checked too: with a leaked SECRET_KEY, a live session id must not carry another identity.
    if idle or too_old or not registry().touch(session.get(SESSION_ID, ""), session[SESSION_PATRON][0]):
        end_session()
        flash(_l("You were logged out because the page was left unused. Please log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if now - session.get(SESSION_LAST_SEEN, 0) >= LAST_SEEN_STEP_SECONDS:
        session[SESSION_LAST_SEEN] = now
    return None


def enforce_password_change():
    """Keep a patron with an initial password on the change page, whatever URL they try."""
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in ALLOWED_BEFORE_PASSWORD_CHANGE
    ):
        return redirect(url_for("auth.initial_password"))
    return None


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # we rotate the whole session at login instead
    idle = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"])
    redis_url = app.config["SESSION_REDIS_URL"]
    app.extensions["shiori.sessions"] = RedisSessionRegistry(redis_url, idle) if redis_url else SqlSessionRegistry(idle)
    app.before_request(enforce_session_limits)
    app.before_request(enforce_password_change)

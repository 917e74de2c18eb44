"""Who is logged in, for how long, and what they must do first.

The session cookie is signed, not encrypted: anyone at a shared library PC can read it. So it holds
only an opaque session id (and when the login started); the patron's identity (key, card number,
display name, the must-change-password flag) is registered on the server under that id
(store/sessions.py). Every request reads that entry once, which both checks that the session still
lives (logout, the idle timeout and a password change end it there, so a copied cookie does not
outlive them) and says who the patron is: an ordinary page view costs no ILS round trip and no
second read to find the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_user, logout_user

from adapters.models import Patron
from extensions import login_manager
from store.preferences import get_preferences
from store.sessions import RedisSessionRegistry, SessionPatron, SqlSessionRegistry, new_session_id

SESSION_ID = "sid"
SESSION_STARTED = "started"
# Kept in the session across login and logout: the language and furigana switches of this browser.
DISPLAY_CHOICES = ("language", "furigana")
# Endpoints a patron who must change the initial password may still reach.
ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset(
    {"auth.initial_password", "auth.logout", "i18n.set_language", "furigana.set_furigana", "static"}
)


@dataclass(frozen=True)
class PortalUser(UserMixin):
    """The Flask-Login user: the patron registered for this session, enough to render pages and call
    the adapter. Flask-Login's id is the session id, so the cookie names no patron."""

    session_id: str
    patron_key: str
    card_number: str
    display_name: str
    must_change_password: bool = False

    def get_id(self) -> str:
        return self.session_id

    @classmethod
    def registered(cls, session_id: str, who: SessionPatron) -> PortalUser:
        return cls(session_id, who.patron_key, who.card_number, who.display_name, who.must_change_password)


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
    session_id = new_session_id()
    who = SessionPatron(patron.key, patron.card_number, patron.display_name, patron.must_change_password)
    registry().add(session_id, who)
    session[SESSION_ID] = session_id
    session[SESSION_STARTED] = int(time.time())
    user = g.portal_user = PortalUser.registered(session_id, who)
    login_user(user)
    session.pop("_id", None)  # Flask-Login's hash of the address and browser: unused, as session_protection is off
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
    registry().password_changed(session[SESSION_ID])


def end_other_sessions() -> int:
    """After a password change: end the patron's sessions elsewhere (OWASP ASVS 3.3.3); how many ended."""
    return registry().remove_patron(current_user.patron_key, keep=session[SESSION_ID])


@login_manager.user_loader
def load_user(user_id: str) -> PortalUser | None:
    """The user ``enforce_session_limits`` found registered for this request's session (no second read)."""
    user = g.get("portal_user")
    return user if user is not None and user.session_id == user_id else None


def enforce_session_limits():
    """Find who this session belongs to, on the server; log out a session that is idle too long
    (library PCs are shared), too old, or ended on the server (logged out elsewhere, a password
    changed or reset, or a cookie copied from a session that has ended)."""
    if request.endpoint == "static" or SESSION_ID not in session:
        return None
    too_old = int(time.time()) - session.get(SESSION_STARTED, 0) > current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    who = None if too_old else registry().touch(session[SESSION_ID])  # the idle timeout is the registry's
    if who is None:
        end_session()
        # The registry cannot tell an idle session from one ended elsewhere (Redis forgets both alike).
        flash(_l("You were logged out: the page was left unused for a while, or you logged out or changed "
                 "your password elsewhere. Please log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    g.portal_user = PortalUser.registered(session[SESSION_ID], who)
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

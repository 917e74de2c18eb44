"""A per-patron secret calendar feed (iCalendar) of due dates and pickup deadlines.

The URL carries a random id kept in the patron's preferences, signed with SECRET_KEY: the store
alone does not give the URL away, and the patron can revoke it or make a new one (the old one then
stops working) in settings. Fetching it needs no login (calendar apps cannot log in); it is built
live from the ILS and holds nothing but titles and dates: no names, card numbers, authors, places.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from icalendar import Calendar, Event
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from adapters.models import Capability, HoldStatus
from adapters.validation import mask_card_number
from extensions import db, ils
from notifications.render import external_url, library_setting, mail_language
from store.models import Preference
from store.preferences import get_preferences
from views.forms import EmptyForm

bp = Blueprint("calendar", __name__)
log = logging.getLogger(__name__)

SALT = "shiori.calendar-feed"
ACTIONS = ("create", "regenerate", "revoke")


def _signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt=SALT, digest_method=hashlib.sha256)


def feed_token(calendar_id: str) -> str:
    return _signer().sign(calendar_id).decode("ascii")


def feed_url(preference: Preference) -> str | None:
    """The patron's feed URL (absolute, under PUBLIC_BASE_URL), or None if they have none."""
    if not preference.calendar_id:
        return None
    return external_url("calendar.feed", token=feed_token(preference.calendar_id))


def _calendar_id(token: str) -> str | None:
    if len(token) > 200:
        return None
    try:
        return _signer().unsign(token).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        return None


def _uid(*parts: str) -> str:
    """A stable event UID that does not reveal the ILS's ids."""
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"{digest}@shiori"


@bp.get("/calendar/<token>.ics")
def feed(token: str):
    calendar_id = _calendar_id(token)
    preference = (
        db.session.execute(select(Preference).where(Preference.calendar_id == calendar_id)).scalar_one_or_none()
        if calendar_id
        else None
    )
    if preference is None:
        abort(404)
    adapter = ils()
    key = preference.patron_key
    loans = adapter.loans(key) if adapter.supports(Capability.LOANS) else []
    holds = adapter.holds(key) if adapter.supports(Capability.HOLDS) else []
    language = mail_language(preference.language)
    stamp = datetime.now(UTC).replace(microsecond=0)
    with force_locale(language):
        calendar = Calendar()
        calendar.add("prodid", "-//Shiori//Patron portal//EN")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("x-wr-calname", library_setting("LIBRARY_NAME", language))
        for loan in loans:
            if loan.due_date is None:
                continue
            calendar.add_component(_event(
                _uid(calendar_id, "loan", loan.loan_id, loan.due_date.isoformat()),
                _("Due back: %(title)s", title=loan.title), loan.due_date, stamp,
            ))
        for hold in holds:
            if hold.status is HoldStatus.READY and hold.pickup_deadline is not None:
                calendar.add_component(_event(
                    _uid(calendar_id, "hold", hold.hold_id, hold.pickup_deadline.isoformat()),
                    _("Pickup deadline: %(title)s", title=hold.title), hold.pickup_deadline, stamp,
                ))
    response = Response(calendar.to_ical(), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="library.ics"'
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _event(uid: str, summary: str, day, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("summary", summary)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    return event


@bp.post("/settings/calendar")
@login_required
def manage():
    """Create, regenerate (the old URL stops working) or revoke the patron's calendar feed."""
    form = EmptyForm()
    action = request.form.get("action")
    if not form.validate_on_submit() or action not in ACTIONS:
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("settings.index"))
    preference = get_preferences(current_user.patron_key)
    db.session.add(preference)  # a patron who never saved settings gets their row now
    if action == "revoke":
        preference.calendar_id = None
        flash(_("The calendar address has been turned off. Calendars using it no longer update."), "success")
    else:
        preference.calendar_id = secrets.token_hex(16)
        flash(
            _("A new calendar address has been made. The old one no longer works.")
            if action == "regenerate"
            else _("Your calendar address is ready. Add it to your calendar app as a subscription."),
            "success",
        )
    db.session.commit()
    log.info("calendar feed %s for patron %s", action, mask_card_number(current_user.patron_key))
    return redirect(url_for("settings.index") + "#calendar")

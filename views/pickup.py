"""Changing the pickup location of placed reservations, several at once (or all of them), from the holds page.

The holds page's one form carries the checkboxes; its "change pickup location" buttons post here.
Like renewals and cancellations, every hold gets its own outcome (changed, or refused with the
reason), shown on the holds page after the redirect. The adapter checks that every id is the
patron's own (``IlsAdapter.change_pickup``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from adapters.errors import IlsUnavailable
from adapters.models import Capability, PickupChangeOutcome
from extensions import ils
from views.forms import CancelHoldsForm
from views.series import holds_page_rows

bp = Blueprint("pickup", __name__)

PICKUP_OUTCOMES = "pickup_outcomes"
MAX_IDS_PER_REQUEST = 200


@bp.before_request
@login_required
def require_login():
    """Only the patron's own holds move."""


@bp.post("/holds/pickup")
def change_pickup():
    adapter = ils()
    adapter.require(Capability.CHANGE_PICKUP)
    form = CancelHoldsForm()  # the holds page's form: its CSRF token
    location_id = (request.form.get("pickup_location") or "")[:64]
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("account.holds"))
    if request.form.get("scope") == "all":
        hold_ids = [hold.hold_id for hold in adapter.holds(current_user.patron_key)]
    else:
        hold_ids = request.form.getlist("hold")[:MAX_IDS_PER_REQUEST]
    if not hold_ids:
        flash(_("Choose the reservations whose pickup location you want to change."), "error")
        return redirect(url_for("account.holds"))
    known = {location.location_id for location in adapter.pickup_locations(current_user.patron_key)}
    if location_id not in known:
        flash(_("Choose a pickup location."), "error")
        return redirect(url_for("account.holds"))
    outcomes = adapter.change_pickup(current_user.patron_key, hold_ids, location_id)
    _report(outcomes)
    return redirect(url_for("account.holds"))


def _report(outcomes: list[PickupChangeOutcome]) -> None:
    changed = sum(1 for outcome in outcomes if outcome.changed)
    refused = len(outcomes) - changed
    if changed:
        flash(ngettext("Pickup location changed for %(num)d reservation.",
                       "Pickup location changed for %(num)d reservations.", changed), "success")
    if refused:
        flash(ngettext("The pickup location of %(num)d reservation could not be changed.",
                       "The pickup locations of %(num)d reservations could not be changed.", refused), "error")
    session[PICKUP_OUTCOMES] = [[o.hold_id, o.changed, o.reason, o.title, o.message] for o in outcomes]


def holds_page_context(patron_key: str) -> dict:
    """What the holds page needs for pickup changes (the choices, the last outcomes) and the series queues."""
    adapter = ils()
    locations = []
    if adapter.supports(Capability.CHANGE_PICKUP):
        try:
            locations = adapter.pickup_locations(patron_key)
        except IlsUnavailable:
            locations = []  # the page still lists the holds; the change form is left out
    return {"pickup_choices": locations,
            "pickup_outcomes": {row[0]: row for row in session.pop(PICKUP_OUTCOMES, None) or []},
            "series_rows": holds_page_rows(patron_key)}

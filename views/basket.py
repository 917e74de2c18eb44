"""予約かご, the reservation basket: collect titles from search results and record pages, then
reserve them all on one confirmation page, with one pickup location (and "not needed after") for all.

The basket lives in the session only (record ids and titles, nothing in the store). It holds at most
as many titles as the patron may still reserve: the library's hold limit (``IlsAdapter.hold_limit``,
else ``BASKET_MAX_TITLES``) minus the holds already placed. Placing reports one outcome per title,
placed or refused with its reason, as batch renewals do, and empties the basket.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from adapters.errors import IlsUnavailable, InvalidInput, RecordNotFound, Refused
from adapters.models import Capability, HoldRequest, Reason
from extensions import ils
from views.catalog import _find_record
from views.forms import BasketForm, EmptyForm
from views.i18n import place_name
from views.safety import safe_next_url

bp = Blueprint("basket", __name__)

BASKET = "basket"  # [[record_id, title], ...] in the order added
BASKET_OUTCOMES = "basket_outcomes"
CATALOGUE_PAGES = frozenset({"catalog.search", "catalog.record"})


@bp.before_request
@login_required
def require_login():
    """The basket is the logged-in patron's: its size depends on their holds."""
    ils().require(Capability.PLACE_HOLD)


def basket_items() -> list[list[str]]:
    return list(session.get(BASKET) or [])


def room_left(patron_key: str) -> int:
    """How many more titles the patron may reserve: the hold limit minus the holds placed."""
    adapter = ils()
    limit = adapter.hold_limit(patron_key)
    if limit is None:
        limit = int(current_app.config["BASKET_MAX_TITLES"])
    return max(0, limit - adapter.account_summary(patron_key).holds)


@bp.post("/basket/add")
def add():
    form = EmptyForm()
    back = safe_next_url(request.form.get("next"), "basket.show")
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    record = _find_record(request.form.get("record", ""))
    items = basket_items()
    if any(record_id == record.record_id for record_id, _title in items):
        flash(_("Already in your reservation basket: %(title)s", title=record.title), "info")
    elif len(items) >= room_left(current_user.patron_key):
        flash(_("Your reservation basket is full: you can reserve %(num)d more titles now.",
                num=room_left(current_user.patron_key)), "error")
    else:
        session[BASKET] = [*items, [record.record_id, record.title]]
        flash(_("Added to your reservation basket: %(title)s", title=record.title), "success")
    return redirect(back)


@bp.post("/basket/remove")
def remove():
    form = EmptyForm()
    if form.validate_on_submit():
        record_id = request.form.get("record", "")
        session[BASKET] = [item for item in basket_items() if item[0] != record_id]
    return redirect(url_for("basket.show"))


@bp.route("/basket", methods=["GET", "POST"])
def show():
    adapter = ils()
    patron_key = current_user.patron_key
    form = BasketForm()
    form.pickup_location.choices = [(location.location_id, place_name(location))
                                    for location in adapter.pickup_locations(patron_key)]
    items = basket_items()
    if request.method == "POST" and form.validate_on_submit() and items:
        if form.not_needed_after.data and form.not_needed_after.data < adapter.today():
            form.not_needed_after.errors.append(_("Choose today or a later date."))
        else:
            _place_all(items, form.pickup_location.data, form.not_needed_after.data)
            return redirect(url_for("basket.show"))
    outcomes = session.pop(BASKET_OUTCOMES, None) or []
    return render_template("basket/basket.html", items=items, form=form, outcomes=outcomes,
                           room=room_left(patron_key), remove_form=EmptyForm())


def _place_all(items: list[list[str]], pickup_location_id: str, not_needed_after) -> None:
    """One hold per title, in the basket's order; once the ILS is down, the rest are not tried."""
    adapter = ils()
    outcomes = []
    down = False
    for record_id, title in items:
        reason = None
        if down:
            reason = Reason.UNAVAILABLE
        else:
            try:
                adapter.place_hold(current_user.patron_key, HoldRequest(record_id, pickup_location_id, not_needed_after))
            except Refused as refusal:
                reason = refusal.reason
            except RecordNotFound:
                reason = Reason.NOT_FOUND
            except InvalidInput:
                reason = Reason.INVALID_PICKUP
            except IlsUnavailable:
                down, reason = True, Reason.UNAVAILABLE
        outcomes.append([record_id, title, reason is None, reason])
    placed = sum(1 for outcome in outcomes if outcome[2])
    if placed:
        flash(ngettext("%(num)d title reserved.", "%(num)d titles reserved.", placed), "success")
    if len(outcomes) - placed:
        flash(ngettext("%(num)d title could not be reserved.", "%(num)d titles could not be reserved.",
                       len(outcomes) - placed), "error")
    session[BASKET] = []
    session[BASKET_OUTCOMES] = outcomes


def init_app(app: Flask) -> None:
    @app.context_processor
    def basket_context():
        """The basket's count for the header of every page (from the session: no ILS call), and on
        the catalogue's pages the "add to basket" buttons' form for a patron who may reserve."""
        if not has_request_context():  # a mail rendered by the notice run
            return {}
        form = None
        if request.endpoint in CATALOGUE_PAGES and current_user.is_authenticated and ils().supports(
                Capability.PLACE_HOLD):
            form = EmptyForm()
        return {"basket_count": len(session.get(BASKET) or []), "basket_form": form}

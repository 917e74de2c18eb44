"""Catalogue search, a record's page, and placing a hold (also reachable as /holds/new?record=ID,
so that a library's own OPAC can link straight to it)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from adapters.errors import InvalidInput, RecordNotFound, Refused
from adapters.models import Capability, HoldRequest
from extensions import ils
from views.forms import PlaceHoldForm, SearchForm
from views.i18n import place_name
from views.linked import acting_card, own_card
from views.messages import REASONS

bp = Blueprint("catalog", __name__)
MAX_PAGE = 500


@bp.get("/search")
def search():
    adapter = ils()
    form = SearchForm(request.args)
    result = None
    if not adapter.supports(Capability.CATALOG_SEARCH):
        return render_template("catalog/search.html", form=form, result=None, supported=False)
    if request.args.get("q") is not None and form.validate():
        page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
        result = adapter.search(form.q.data.strip(), page=page, per_page=current_app.config["SEARCH_PAGE_SIZE"])
    return render_template("catalog/search.html", form=form, result=result, supported=True)


@bp.get("/records/<record_id>")
def record(record_id: str):
    record = _find_record(record_id)
    return render_template("catalog/record.html", record=record)


@bp.route("/holds/new", methods=["GET", "POST"])
@login_required
def place_hold():
    adapter = ils()
    adapter.require(Capability.PLACE_HOLD)
    form = PlaceHoldForm()
    record_id = form.record.data if request.method == "POST" else request.args.get("record", "")
    record = _find_record(record_id)
    form.record.data = record.record_id
    card = acting_card() or own_card()  # whose card the hold is for: the patron's own or a linked one
    locations = adapter.pickup_locations(card.patron_key, record.record_id)
    form.pickup_location.choices = [(location.location_id, place_name(location)) for location in locations]
    if form.validate_on_submit() and _not_needed_after_is_ahead(form, adapter.today()):
        request_ = HoldRequest(record.record_id, form.pickup_location.data, form.not_needed_after.data)
        try:
            adapter.place_hold(card.patron_key, request_)
        except InvalidInput:
            form.pickup_location.errors.append(_("Check the pickup location and the date."))
        except Refused as refusal:
            flash(refusal.message or str(REASONS.get(refusal.reason, REASONS[refusal.reason.OTHER])), "error")
        else:
            flash(_("Reserved: %(title)s", title=record.title), "success")
            return redirect(url_for("account.holds", **card.url_args))
    return render_template("catalog/place_hold.html", form=form, record=record, card=card)


def _not_needed_after_is_ahead(form: PlaceHoldForm, today) -> bool:
    """A "not needed after" date must not have passed already (by the library's calendar)."""
    if form.not_needed_after.data and form.not_needed_after.data < today:
        form.not_needed_after.errors.append(_("Choose today or a later date."))
        return False
    return True


def _find_record(record_id: str):
    """The record, or a 404 page for an id that is malformed, unknown, or cannot even be sent to the ILS."""
    if not record_id or len(record_id) > 64 or not record_id.isprintable() or "|" in record_id:
        abort(404)
    try:
        return ils().record(record_id)
    except (RecordNotFound, InvalidInput):
        abort(404)

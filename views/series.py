"""順番予約: reserve the volumes of a numbered series in volume order, from a record's page.

The patron picks volumes; the first is reserved at once, each next one by ``flask notices run``
once the one before has been picked up (or is ready: ``SERIES_ADVANCE_ON``), see
``notifications.series``. The queue is kept in the store (``store.series``) and shown on the holds
page, where a queued volume can be cancelled. Only adapters with series data offer it
(``Capability.SERIES``: the demo ILS and Koha; SIP2 carries no series).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from adapters.errors import IlsError
from adapters.models import Capability
from extensions import ils
from notifications.series import advance_patron
from store import series
from views.catalog import _find_record
from views.forms import CancelHoldsForm, SeriesForm
from views.i18n import place_name

bp = Blueprint("series", __name__)


@bp.before_request
@login_required
def require_login():
    """The queue is the patron's own."""


@bp.route("/series/<record_id>", methods=["GET", "POST"])
def reserve_in_order(record_id: str):
    adapter = ils()
    adapter.require(Capability.PLACE_HOLD)
    record = _find_record(record_id)
    if not adapter.supports(Capability.SERIES) or record.volume is None:
        return render_template("series/reserve.html", record=record, volumes=None, form=None), 404
    patron_key = current_user.patron_key
    volumes = adapter.series_volumes(record)
    unavailable = _unavailable(patron_key)
    form = SeriesForm()
    form.pickup_location.choices = [(location.location_id, place_name(location))
                                    for location in adapter.pickup_locations(patron_key)]
    if request.method == "POST" and form.validate_on_submit():
        wanted = set(request.form.getlist("volume"))
        chosen = [volume for volume in volumes if volume.record_id in wanted and volume.record_id not in unavailable]
        if not chosen:
            flash(_("Choose the volumes to reserve."), "error")
        elif form.not_needed_after.data and form.not_needed_after.data < adapter.today():
            form.not_needed_after.errors.append(_("Choose today or a later date."))
        else:
            series.queue_volumes(patron_key, chosen, form.pickup_location.data, form.not_needed_after.data)
            try:
                placed = advance_patron(adapter, patron_key, current_app.config["SERIES_ADVANCE_ON"])
            except IlsError:
                placed = []  # the first volume waits for the notice run, like the others
            first = chosen[0]
            if any(row.record_id == first.record_id for row in placed):
                flash(_("Reserved: %(title)s. The next volumes follow in order.", title=first.title), "success")
            else:
                flash(_("Queued in volume order: %(title)s and the volumes after it.", title=first.title), "success")
            return redirect(url_for("account.holds"))
    selected = {volume.record_id for volume in volumes
                if volume.volume.number >= record.volume.number and volume.record_id not in unavailable}
    return render_template("series/reserve.html", record=record, volumes=volumes, form=form, selected=selected,
                           unavailable=unavailable, advance_on=current_app.config["SERIES_ADVANCE_ON"])


def _unavailable(patron_key: str) -> dict[str, str]:
    """Record id -> why the patron cannot queue it: on loan, reserved, already queued."""
    adapter = ils()
    why = {hold.record_id: "held" for hold in adapter.holds(patron_key) if hold.record_id}
    if adapter.supports(Capability.LOANS):
        why.update({loan.record_id: "on_loan" for loan in adapter.loans(patron_key) if loan.record_id})
    why.update({record_id: "queued" for record_id in series.queued_record_ids(patron_key)})
    return why


@bp.post("/series/cancel")
def cancel():
    form = CancelHoldsForm()  # the holds page's form: its CSRF token
    entry = request.form.get("entry", "")
    if not form.validate_on_submit() or not entry.isdigit():
        abort(400)
    if series.cancel(current_user.patron_key, int(entry)):
        flash(_("The volume will not be reserved."), "success")
    return redirect(url_for("account.holds"))


def holds_page_rows(patron_key: str) -> list:
    """The queued volumes the holds page shows (still to come, or stopped with a reason)."""
    if not ils().supports(Capability.SERIES):
        return []
    return series.entries(patron_key, series.SHOWN)

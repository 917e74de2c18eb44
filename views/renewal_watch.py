""""Tell me when I can renew": on the loans page, per loan not yet renewable, a request for a mail on
the day renewal opens (for every loan at once: Settings). The notice run sends it (``notifications.notices``).

Only loans whose adapter tells the day renewal opens can be watched (``Capability.RENEWAL_OPENS``), and
only the patron's own loans (the id is looked up among their loans before it is stored).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from adapters.models import Capability, RenewalStatus
from extensions import ils
from store.preferences import get_preferences
from store.renewal_watch import unwatch, watch, watched_loans
from views.forms import RenewForm

bp = Blueprint("renewal_watch", __name__)


@bp.before_request
@login_required
def require_login():
    ils().require(Capability.RENEWAL_OPENS)


@bp.post("/loans/watch")
def watch_loan():
    form = RenewForm()  # the loans page's form: its CSRF token
    loan_id = (request.form.get("watch") or "")[:64]
    if form.validate_on_submit():
        loan = next((loan for loan in ils().loans(current_user.patron_key) if loan.loan_id == loan_id), None)
        if loan is None or loan.forecast.status is not RenewalStatus.NOT_YET:
            flash(_("That loan cannot be watched."), "error")
        else:
            watch(current_user.patron_key, loan.loan_id)
            flash(_("We will email you when %(title)s can be renewed.", title=loan.title), "success")
    return redirect(url_for("account.loans"))


@bp.post("/loans/unwatch")
def unwatch_loan():
    form = RenewForm()
    if form.validate_on_submit():
        unwatch(current_user.patron_key, [(request.form.get("unwatch") or "")[:64]])
        flash(_("No mail will be sent for that loan."), "success")
    return redirect(url_for("account.loans"))


def loans_page_context(patron_key: str) -> dict:
    """What the loans page needs: the loans watched, and whether mail can reach the patron at all."""
    if not ils().supports(Capability.RENEWAL_OPENS):
        return {"watched": None, "watch_all": False, "can_mail": False}
    preferences = get_preferences(patron_key)
    return {"watched": watched_loans(patron_key), "watch_all": bool(preferences.notify_renewable),
            "can_mail": bool(preferences.email and preferences.email_confirmed)}

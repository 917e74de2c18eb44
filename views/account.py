"""The menu, loans (with renewal) and holds (with cancellation): seed guide steps 5 and 1."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from adapters.errors import Refused
from adapters.models import CancelOutcome, Capability, Reason, RenewalResult
from extensions import ils
from views.forms import CancelHoldsForm, RenewForm
from views.linked import acting_card, all_holds_page, all_loans_page
from views.messages import REASONS
from views.pickup import holds_page_context
from views.renewal_watch import loans_page_context

bp = Blueprint("account", __name__)

NO_WATCHES = {"watched": None, "watch_all": False, "can_mail": False}
NO_PICKUP_OR_SERIES = {"pickup_choices": [], "pickup_outcomes": {}, "series_rows": []}

# The outcome of the last batch action, carried across the redirect (POST-redirect-GET).
RENEWAL_OUTCOMES = "renewal_outcomes"
CANCEL_OUTCOMES = "cancel_outcomes"
MAX_IDS_PER_REQUEST = 200


@bp.before_request
@login_required
def require_login():
    """Every page here is the patron's own."""


@bp.get("/")
def menu():
    adapter = ils()
    summary = adapter.account_summary(current_user.patron_key)
    return render_template("account/menu.html", summary=summary)


@bp.get("/loans")
def loans():
    adapter = ils()
    card = acting_card()  # the patron's own, or a linked card (None: every card on one page)
    if card is None:
        return all_loans_page()
    outcomes = session.pop(RENEWAL_OUTCOMES, None)
    return render_template(
        "account/loans.html",
        loans=adapter.loans(card.patron_key),
        form=RenewForm(),
        outcomes=_outcomes_by_id(outcomes),
        blocks=adapter.patron(card.patron_key).blocks,
        today=adapter.today(),
        card=card,
        # renew-window mail is the logged-in patron's own preference, offered on their own card only
        **(loans_page_context(card.patron_key) if card.link_id is None else NO_WATCHES),
    )


@bp.post("/loans/renew")
def renew():
    form = RenewForm()
    card = acting_card() or abort(404)
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("account.loans", **card.url_args))
    adapter = ils()
    if form.action.data == "all":
        result = adapter.renew_all(card.patron_key)
    else:
        loan_ids = request.form.getlist("loan")[:MAX_IDS_PER_REQUEST]
        if not loan_ids:
            flash(_("Choose the books to renew."), "error")
            return redirect(url_for("account.loans", **card.url_args))
        result = adapter.renew(card.patron_key, loan_ids)
    _report_renewal(result)
    return redirect(url_for("account.loans", **card.url_args))


def _report_renewal(result: RenewalResult) -> None:
    renewed = result.renewed_count
    refused = len(result.outcomes) - renewed
    if renewed:
        flash(ngettext("%(num)d book renewed.", "%(num)d books renewed.", renewed), "success")
    if refused:
        flash(ngettext("%(num)d book could not be renewed.", "%(num)d books could not be renewed.", refused), "error")
    session[RENEWAL_OUTCOMES] = [
        [o.loan_id, o.renewed, o.new_due_date.isoformat() if o.new_due_date else None, o.reason, o.title, o.message]
        for o in result.outcomes
    ]


def _outcomes_by_id(stored: list | None) -> dict[str, dict]:
    """Rebuild the outcomes kept in the session for the loans page (one row per requested loan)."""
    return {
        loan_id: {
            "renewed": renewed,
            "new_due_date": date.fromisoformat(due) if due else None,
            "reason": reason,
            "title": title,
            "message": message,
        }
        for loan_id, renewed, due, reason, title, message in (stored or [])
    }


@bp.get("/holds")
def holds():
    adapter = ils()
    card = acting_card()
    if card is None:
        return all_holds_page()
    if not adapter.supports(Capability.HOLDS):
        return render_template("account/holds.html", holds=None, form=None, outcomes={}, card=card)
    outcomes = {row[0]: row for row in session.pop(CANCEL_OUTCOMES, None) or []}
    return render_template(
        "account/holds.html", holds=adapter.holds(card.patron_key), form=CancelHoldsForm(), outcomes=outcomes,
        card=card,
        # pickup changes and series queues act on the logged-in patron's own holds only (for now)
        **(holds_page_context(card.patron_key) if card.link_id is None else NO_PICKUP_OR_SERIES),
    )


@bp.post("/holds/cancel")
def cancel_holds():
    form = CancelHoldsForm()
    card = acting_card() or abort(404)
    hold_ids = request.form.getlist("hold")[:MAX_IDS_PER_REQUEST]
    if not form.validate_on_submit() or not hold_ids:
        flash(_("Choose the reservations to cancel."), "error")
        return redirect(url_for("account.holds", **card.url_args))
    outcomes = ils().cancel_holds(card.patron_key, hold_ids)
    _report_cancellation(outcomes)
    return redirect(url_for("account.holds", **card.url_args))


@bp.post("/holds/suspend")
def suspend_hold():
    """Pause one waiting reservation (holidays, a full shelf at home) until the patron resumes it."""
    return _change_hold(ils().suspend_hold, request.form.get("suspend", ""), _("Reservation paused: %(title)s"))


@bp.post("/holds/resume")
def resume_hold():
    return _change_hold(ils().resume_hold, request.form.get("resume", ""), _("Reservation resumed: %(title)s"))


def _change_hold(action, hold_id: str, done_message: str):
    form = CancelHoldsForm()  # the holds page's form: its CSRF token
    card = acting_card() or abort(404)
    if form.validate_on_submit() and hold_id:
        try:
            hold = action(card.patron_key, hold_id[:64])
        except Refused as refusal:
            flash(str(REASONS.get(refusal.reason, REASONS[Reason.OTHER])), "error")
        else:
            flash(done_message % {"title": hold.title}, "success")
    return redirect(url_for("account.holds", **card.url_args))


def _report_cancellation(outcomes: list[CancelOutcome]) -> None:
    cancelled = sum(1 for outcome in outcomes if outcome.cancelled)
    refused = len(outcomes) - cancelled
    if cancelled:
        flash(ngettext("%(num)d reservation cancelled.", "%(num)d reservations cancelled.", cancelled), "success")
    if refused:
        flash(
            ngettext("%(num)d reservation could not be cancelled.", "%(num)d reservations could not be cancelled.", refused),
            "error",
        )
    session[CANCEL_OUTCOMES] = [[o.hold_id, o.cancelled, o.reason, o.title, o.message] for o in outcomes]

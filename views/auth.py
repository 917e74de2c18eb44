"""Logging in and out, and the password changes (the forced one at first login, and the voluntary one)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from adapters.errors import AccountLocked, AuthenticationFailed, IlsError, InvalidInput, Refused
from adapters.models import Capability
from adapters.validation import mask_card_number, normalize_card_number
from extensions import ils, limiter
from store.links import remove_links_to
from views.forms import ChangePasswordForm, EmptyForm, LoginForm
from views.passwords import policy_rules
from views.safety import safe_next_url
from views.session import end_other_sessions, end_session, mark_password_changed, start_session

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_lockout() -> str:
    return current_app.config["LOGIN_LOCKOUT"]


def card_being_tried() -> str:
    """The lockout's key: the card number as the ILS would see it (so 2000-0000-01 is 2000000001),
    case-folded. The card number itself keeps its case (Evergreen user names are case-sensitive), but
    servers that ignore case (Koha's userid under MySQL's usual collation) would otherwise give every
    case variant of an alphanumeric card its own allowance of guesses."""
    try:
        return "login-card:" + normalize_card_number(request.form.get("card_number", "")).casefold()
    except InvalidInput:
        return "login-card:invalid"


def login_failed(response) -> bool:
    """Only a wrong password counts toward the lockout; a success or a typo in the form does not."""
    return bool(g.get("login_failed"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
@limiter.limit(login_lockout, key_func=card_being_tried, methods=["POST"], deduct_when=login_failed)
def login():
    """Seed guide step 3: card number (hyphens allowed) and password."""
    if current_user.is_authenticated:
        return redirect(url_for("account.menu"))
    form = LoginForm(next=request.args.get("next"))
    if form.validate_on_submit():
        try:
            patron = ils().authenticate(form.card_number.data, form.password.data)
        except AuthenticationFailed:
            g.login_failed = True
            log.info("login failed for card %s", mask_card_number(form.card_number.data))
            flash(_("The card number or password is incorrect."), "error")
        except AccountLocked:
            log.info("login refused, account locked: card %s", mask_card_number(form.card_number.data))
            flash(_("This card is locked. Please contact the library."), "error")
        else:
            start_session(patron)
            log.info("login: card %s", mask_card_number(patron.card_number))
            if patron.must_change_password:
                return redirect(url_for("auth.initial_password"))
            return redirect(safe_next_url(form.next.data))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """Seed guide step 10. A POST, so that a link on another site cannot log a patron out."""
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        try:
            ils().end_session(current_user.patron_key)
        except IlsError:
            log.warning("ILS did not acknowledge the end of session", exc_info=True)
        end_session()
        flash(_("You have logged out. Thank you for using the library."), "success")
    return redirect(url_for("auth.login"))


def apply_password_change(form: ChangePasswordForm) -> bool:
    """Send a validated change to the ILS; put any refusal on the form's fields. True on success, after
    which the patron's other sessions have ended and the page says so."""
    try:
        ils().change_password(current_user.patron_key, form.current.data, form.new.data)
    except AuthenticationFailed:
        form.current.errors.append(_("The current password is incorrect."))
    except Refused as refusal:
        form.new.errors.append(refusal.message or _("The library system did not accept this password."))
    else:
        # A session opened elsewhere, perhaps by whoever learnt the old password, ends (OWASP ASVS 3.3.3).
        ended = end_other_sessions()
        log.info("password changed: card %s; %d other session(s) ended", mask_card_number(current_user.card_number), ended)
        remove_links_to(current_user.patron_key)  # links to this card rested on the old password
        flash(_("Your password has been changed. You have been logged out everywhere else "
                "(other computers, phones and browsers)."), "success")
        return True
    return False


@bp.route("/password/initial", methods=["GET", "POST"])
@login_required
def initial_password():
    """Seed guide step 4: the initial password must be changed before anything else."""
    if not current_user.must_change_password:
        return redirect(url_for("account.menu"))
    form = ChangePasswordForm()
    if form.validate_on_submit() and apply_password_change(form):
        mark_password_changed()
        return redirect(url_for("account.menu"))
    return render_template(
        "auth/password.html", form=form, rules=policy_rules(), initial=True,
        supported=ils().supports(Capability.CHANGE_PASSWORD),
    )


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    supported = ils().supports(Capability.CHANGE_PASSWORD)
    if supported and form.validate_on_submit() and apply_password_change(form):
        return redirect(url_for("settings.index"))
    return render_template("auth/password.html", form=form, rules=policy_rules(), initial=False, supported=supported)

"""The patron's email address: the confirmation link, sending it again, and removing the address.

An address is used (for notices and password reset) only after the patron follows the signed,
expiring link mailed to it. The link opens a page with a button: the POST confirms, so a mail
scanner that fetches every link cannot confirm an address someone mistyped. A confirmed address is
also written to the ILS where the adapter declares ``Capability.PATRON_EMAIL``. When a confirmed
address is changed or removed, the old address is told.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from limits import parse

from adapters.errors import IlsError
from adapters.models import Capability
from adapters.validation import mask_card_number as who
from extensions import db, ils, limiter
from notifications.mail import mail_enabled, mask_address
from notifications.outbox import outbox, send_now
from notifications.render import external_url, render_mail
from notifications.tokens import (
    confirmation_nonce,
    confirmation_token,
    forget_confirmation,
    read_confirmation_token,
    same_address,
    void_reset_tokens,
)
from store.models import Preference
from store.preferences import get_preferences, update_preferences
from views.forms import EmptyForm

bp = Blueprint("email", __name__, url_prefix="/email")
log = logging.getLogger(__name__)


# --- used by the settings page --------------------------------------------------------------------


def confirmation_quota_left(patron_key: str) -> bool:
    """Count one confirmation mail against EMAIL_CONFIRM_RATE_LIMIT; False once it is used up."""
    if not current_app.config.get("RATELIMIT_ENABLED", True) or not limiter.enabled:
        return True
    return limiter.limiter.hit(parse(current_app.config["EMAIL_CONFIRM_RATE_LIMIT"]), "email-confirm", patron_key)


def request_confirmation(patron_key: str, email: str, *, new_address: bool = False) -> bool:
    """Queue the confirmation mail for ``email``; flash what happened. False if not sent.

    A new address gets a new link id, which voids the links sent for the one before."""
    nonce = confirmation_nonce(patron_key, fresh=new_address)
    if not mail_enabled(current_app.config):
        flash(_("This library does not send email, so the address cannot be confirmed."), "error")
        return False
    if not confirmation_quota_left(patron_key):
        flash(_("Too many confirmation emails have been sent. Please try again later."), "error")
        return False
    outbox().submit(send_confirmation, patron_key, email, nonce, str(get_locale()))
    flash(
        _("We have sent a confirmation link to %(email)s. Notices go there once you follow the link.", email=email),
        "success",
    )
    return True


def address_changed(patron_key: str, old_email: str | None, old_confirmed: bool, new_email: str | None) -> None:
    """After the settings form changed the address: confirm the new one, tell the old one, tidy up."""
    if same_address(old_email, new_email):
        return
    void_reset_tokens(patron_key)  # a reset link sent to the old address no longer applies
    if old_email and old_confirmed:
        outbox().submit(send_address_changed, patron_key, old_email, bool(new_email), str(get_locale()))
        if not new_email:
            write_to_ils(patron_key, None)
    if new_email:
        request_confirmation(patron_key, new_email, new_address=True)
    else:
        forget_confirmation(patron_key)


def write_to_ils(patron_key: str, email: str | None) -> None:
    """Record the (confirmed) address in the ILS too, where the adapter can. Failures are logged only:
    the portal's store is what notices use."""
    adapter = ils()
    if not adapter.supports(Capability.PATRON_EMAIL):
        return
    try:
        adapter.set_patron_email(patron_key, email)
    except IlsError:
        log.warning("could not write the email address of patron %s to the ILS", who(patron_key), exc_info=True)


# --- background jobs ------------------------------------------------------------------------------


def send_confirmation(patron_key: str, email: str, nonce: str, language: str) -> bool:
    preference = db.session.get(Preference, patron_key)
    if preference is None or preference.email != email or preference.email_nonce != nonce:
        return False  # changed again before the mail went
    mail = render_mail(
        "confirm_email", preference.language or language, email=email,
        confirm_url=external_url("email.confirm", token=confirmation_token(nonce)),
        hours=current_app.config["EMAIL_CONFIRM_HOURS"],
    )
    ok = send_now(mail.message(email, automatic=False))
    log.info("confirmation link for patron %s to %s %s", who(patron_key), mask_address(email),
             "sent" if ok else "NOT sent")
    return ok


def send_address_changed(patron_key: str, old_email: str, replaced: bool, language: str) -> bool:
    preference = db.session.get(Preference, patron_key)
    mail = render_mail(
        "email_changed", (preference.language if preference else None) or language, replaced=replaced,
        old_email=old_email,
    )
    return send_now(mail.message(old_email, automatic=False))


# --- pages ------------------------------------------------------------------------------------------


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """The emailed link. Works without logging in: the signed id names the patron's pending address."""
    preference = read_confirmation_token(token)
    if preference is None:
        return render_template("address/invalid.html"), 404
    patron_key, email = preference.patron_key, preference.email
    form = EmptyForm()
    if preference.email_confirmed:
        return render_template("address/confirm.html", email=email, form=None, done=True)
    if form.validate_on_submit():
        update_preferences(patron_key, email_confirmed=True)
        write_to_ils(patron_key, email)
        log.info("email address confirmed for patron %s", who(patron_key))
        if current_user.is_authenticated and current_user.patron_key == patron_key:
            flash(_("Your email address has been confirmed."), "success")
            return redirect(url_for("settings.index"))
        return render_template("address/confirm.html", email=email, form=None, done=True)
    return render_template("address/confirm.html", email=email, form=form, done=False)


@bp.post("/resend")
@login_required
def resend():
    form = EmptyForm()
    preference = get_preferences(current_user.patron_key)
    if form.validate_on_submit() and preference.email and not preference.email_confirmed:
        request_confirmation(current_user.patron_key, preference.email)
    return redirect(url_for("settings.index"))


@bp.post("/remove")
@login_required
def remove():
    form = EmptyForm()
    preference = get_preferences(current_user.patron_key)
    if form.validate_on_submit() and preference.email:
        old_email, old_confirmed = preference.email, preference.email_confirmed
        update_preferences(current_user.patron_key, email=None, email_confirmed=False)
        address_changed(current_user.patron_key, old_email, old_confirmed, None)
        flash(_("Your email address has been removed. No more emails will be sent."), "success")
    return redirect(url_for("settings.index"))


@bp.after_request
def no_referrer(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

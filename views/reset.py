"""Forgot password (seed guide step 8): card number + registered address -> a single-use emailed link
-> a new password under the portal's policy, set through the adapter.

The page answers the same whatever was typed, and in the same time: the request only checks the
form and queues a background job, which looks the card up, compares the confirmed address, and
mails a link if both match. Requests are rate-limited per client address and per card number.
Where the adapter cannot set passwords, or the portal sends no email, the page gives the
library's contact text instead.
"""

from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length

from adapters.errors import InvalidInput, Refused
from adapters.models import Capability
from adapters.validation import mask_card_number, normalize_card_number
from extensions import db, ils, limiter
from notifications.mail import mail_enabled
from notifications.outbox import outbox, send_now
from notifications.render import external_url, render_mail
from notifications.tokens import (
    give_back_reset_token,
    issue_reset_token,
    reset_token_patron,
    same_address,
    use_reset_token,
    void_reset_tokens,
)
from store.links import remove_links_to
from store.models import Preference
from views.forms import CardNumberField, PortalForm, SafeText, new_password_again_field, new_password_field
from views.passwords import policy_rules
from views.session import end_session, registry

bp = Blueprint("reset", __name__)
log = logging.getLogger(__name__)


class ForgotPasswordForm(PortalForm):
    card_number = CardNumberField(
        _l("Library card number"), validators=[DataRequired(_l("Enter your library card number.")), Length(max=64)]
    )
    email = EmailField(
        _l("Registered email address"),
        validators=[
            DataRequired(_l("Enter the email address you registered.")),
            Length(max=254),
            Email(_l("Enter an email address such as name@example.jp.")),
            SafeText(254),
        ],
    )


class ResetPasswordForm(PortalForm):
    new = new_password_field()
    confirm = new_password_again_field()


def reset_available() -> bool:
    """The portal can reset passwords by email: the adapter sets passwords and mail is configured."""
    return ils().supports(Capability.SET_PASSWORD) and mail_enabled(current_app.config)


def reset_rate_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


def reset_card_rate_limit() -> str:
    return current_app.config["RESET_CARD_RATE_LIMIT"]


def card_rate_key() -> str:
    """The per-card limit's key: a hash of the normalised card number (no card numbers in Redis),
    case-folded like the login lockout's so case variants share one allowance."""
    raw = request.form.get("card_number", "")[:64]
    try:
        card = normalize_card_number(raw).casefold()
    except InvalidInput:
        card = raw
    return "card:" + hashlib.sha256(card.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(reset_rate_limit, methods=["POST"])
@limiter.limit(reset_card_rate_limit, key_func=card_rate_key, methods=["POST"])
def forgot():
    if not reset_available():
        return render_template("reset/forgot.html", form=None, available=False)
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # Everything that depends on the card or the address happens after the response.
        outbox().submit(send_reset_link, form.card_number.data, form.email.data.strip(), str(get_locale()))
        return redirect(url_for("reset.sent"))
    return render_template("reset/forgot.html", form=form, available=True)


@bp.get("/password/forgot/sent")
def sent():
    return render_template("reset/sent.html", minutes=current_app.config["RESET_LINK_MINUTES"])


def send_reset_link(card_number: str, email: str, language: str) -> bool:
    """The background half of a request: mail a link if the card has this confirmed address."""
    adapter = ils()
    patron = adapter.find_patron(card_number)
    preference = db.session.get(Preference, patron.key) if patron else None
    if patron is None or preference is None or not preference.email_confirmed or not same_address(
        preference.email, email
    ):
        log.info("password reset requested for card %s: no match, nothing sent", mask_card_number(card_number))
        return False
    token = issue_reset_token(patron.key)
    mail = render_mail(
        "reset_password", preference.language or language,
        reset_url=external_url("reset.reset_password", token=token),
        minutes=current_app.config["RESET_LINK_MINUTES"], card=mask_card_number(patron.card_number),
    )
    sent_ok = send_now(mail.message(preference.email, automatic=False))
    log.info("password reset link for card %s %s", mask_card_number(patron.card_number),
             "sent" if sent_ok else "NOT sent (mail failed)")
    return sent_ok


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """The emailed link: a GET only shows the form (a mail scanner following it uses nothing)."""
    if not reset_available():
        return render_template("reset/forgot.html", form=None, available=False)
    if reset_token_patron(token) is None:
        return render_template("reset/invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        patron_key = use_reset_token(token)
        if patron_key is None:  # used or expired between the GET and now
            return render_template("reset/invalid.html"), 404
        try:
            ils().set_password(patron_key, form.new.data)
        except Refused as refusal:
            give_back_reset_token(token)
            form.new.errors.append(refusal.message or _("The library system did not accept this password."))
        except Exception:
            give_back_reset_token(token)  # nothing changed: the link may be used again
            raise
        else:
            void_reset_tokens(patron_key)
            remove_links_to(patron_key)  # links to this card rested on the old password
            registry().remove_patron(patron_key)  # a session opened with the old password ends too
            log.info("password reset through an emailed link: patron %s", mask_card_number(patron_key))
            outbox().submit(send_password_changed, patron_key, str(get_locale()))
            if current_user.is_authenticated:
                end_session()
            flash(_("Your password has been reset. Please log in with the new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("reset/reset.html", form=form, rules=policy_rules())


def send_password_changed(patron_key: str, language: str) -> bool:
    """Tell the confirmed address that the password was reset (so a patron who did not, can act)."""
    preference = db.session.get(Preference, patron_key)
    if preference is None or not preference.email_confirmed or not preference.email:
        return False
    mail = render_mail("password_changed", preference.language or language, login_url=external_url("auth.login"))
    return send_now(mail.message(preference.email, automatic=False))


@bp.after_request
def no_referrer(response):
    """The reset link's token is in the URL: never let it leave in a Referer header."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response

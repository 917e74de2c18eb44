"""Linking cards in Settings: add a card by its number and password, remove it, choose to get its
mail too; and, for a card's own holder, see who has linked it and remove them.

The password is checked once through the adapter, under the login's own limits (per client
address, and the per-card lockout that counts only wrong passwords, shared with the login page so
that linking cannot be used to guess a card's password), and is never kept or logged.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from adapters.errors import AccountLocked, AuthenticationFailed, IlsError
from adapters.validation import mask_card_number
from extensions import ils, limiter
from store.links import CardLink, add_link, count_links, link_of, links_of, links_to, remove_link, set_notify_owner
from views.auth import card_being_tried, login_failed, login_lockout, login_rate_limit
from views.forms import EmptyForm, LinkCardForm
from views.linked import linking_enabled

bp = Blueprint("linking", __name__, url_prefix="/settings/links")
log = logging.getLogger(__name__)


def settings_section() -> dict:
    """What the Settings page shows about linked cards (a template global, so settings stays one view)."""
    return {
        "enabled": linking_enabled(),
        "links": links_of(current_user.patron_key) if linking_enabled() else [],
        "linked_by": links_to(current_user.patron_key),
        "maximum": current_app.config["LINKED_CARDS_MAX"],
        "form": LinkCardForm(formdata=None),
        "action_form": EmptyForm(formdata=None),
    }


# The login's own buckets: Flask-Limiter names a route's limit by its endpoint, and a shared limit by its
# scope, so a shared limit scoped "auth.login" counts in the same buckets as the login page's limits.
LOGIN_BUCKET = "auth.login"


@bp.route("", methods=["GET", "POST"])
@login_required
@limiter.shared_limit(login_rate_limit, scope=LOGIN_BUCKET, methods=["POST"])
@limiter.shared_limit(login_lockout, scope=LOGIN_BUCKET, key_func=card_being_tried, methods=["POST"],
                      deduct_when=login_failed)
def add():
    """Link a card: on GET the form alone (also where a failed attempt is shown again)."""
    if not linking_enabled():
        flash(_("This library does not offer linked cards."), "error")
        return redirect(url_for("settings.index"))
    form = LinkCardForm()
    if form.validate_on_submit() and _link(form):
        return redirect(url_for("settings.index", _anchor="linked-cards"))
    return render_template("linked/add.html", form=form, maximum=current_app.config["LINKED_CARDS_MAX"])


def _link(form: LinkCardForm) -> bool:
    card = form.card_number.data
    if card == current_user.card_number:
        form.card_number.errors.append(_("This is your own card."))
        return False
    if count_links(current_user.patron_key) >= current_app.config["LINKED_CARDS_MAX"] and not any(
        link.linked_card == card for link in links_of(current_user.patron_key)
    ):
        form.card_number.errors.append(
            _("You have linked the most cards allowed (%(num)d).", num=current_app.config["LINKED_CARDS_MAX"]))
        return False
    try:
        patron = ils().authenticate(card, form.password.data)
    except AuthenticationFailed:
        g.login_failed = True
        log.info("linking refused, wrong password: card %s", mask_card_number(card))
        form.password.errors.append(_("The card number or password is incorrect."))
        return False
    except AccountLocked:
        form.card_number.errors.append(_("This card is locked. Please contact the library."))
        return False
    try:
        ils().end_session(patron.key)  # the check was a login of that card (SIP2's 63): end it
    except IlsError:
        log.warning("ILS did not acknowledge the end of the linking check", exc_info=True)
    if patron.key == current_user.patron_key:
        form.card_number.errors.append(_("This is your own card."))
        return False
    add_link(current_user.patron_key, current_user.display_name, patron.key, patron.card_number, patron.display_name)
    log.info("card %s linked to card %s", mask_card_number(patron.card_number), mask_card_number(current_user.card_number))
    flash(_("%(name)s's card is now linked.", name=patron.display_name), "success")
    return True


def _own_link(link_id: int) -> CardLink:
    link = link_of(current_user.patron_key, link_id)
    if link is None:
        abort(404)
    return link


@bp.post("/<int:link_id>/remove")
@login_required
def remove(link_id: int):
    """The patron who linked a card unlinks it."""
    link = _own_link(link_id)
    if EmptyForm().validate_on_submit():
        remove_link(link)
        flash(_("%(name)s's card is no longer linked.", name=link.linked_name), "success")
    return redirect(url_for("settings.index", _anchor="linked-cards"))


@bp.post("/<int:link_id>/notices")
@login_required
def notices(link_id: int):
    """Choose whether the linked card's hold-ready and due-date mail also comes to this patron."""
    link = _own_link(link_id)
    if EmptyForm().validate_on_submit():
        set_notify_owner(link, request.form.get("notify") == "on")
        flash(_("Your settings have been saved."), "success")
    return redirect(url_for("settings.index", _anchor="linked-cards"))


@bp.post("/by/<int:link_id>/remove")
@login_required
def remove_by_holder(link_id: int):
    """The card's own holder removes someone's link to their card."""
    link = next((link for link in links_to(current_user.patron_key) if link.id == link_id), None)
    if link is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        remove_link(link)
        log.info("card %s removed a link to it", mask_card_number(current_user.card_number))
        flash(_("%(name)s can no longer see or use your card.", name=link.owner_name), "success")
    return redirect(url_for("settings.index", _anchor="linked-by"))

"""Settings (seed guide step 9): email address, language and notice opt-ins, kept in the local store.

A new address is confirmed by an emailed link before anything is sent to it (``views.email``);
the calendar-feed controls post to ``views.calendar``.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from adapters.models import Capability
from extensions import ils
from notifications.tokens import same_address
from store.preferences import get_preferences, update_preferences
from store.renewal_watch import drop_automatic
from views.calendar import feed_url
from views.email import address_changed
from views.forms import EmptyForm, SettingsForm

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.route("", methods=["GET", "POST"])
@login_required
def index():
    preferences = get_preferences(current_user.patron_key)
    form = SettingsForm(obj=preferences)
    if form.language.data is None:
        form.language.data = preferences.language or str(get_locale().language)  # the language shown now
    if form.validate_on_submit():
        email = (form.email.data or "").strip() or None
        changes = {
            "language": form.language.data,
            "notify_hold_ready": form.notify_hold_ready.data,
            "notify_due_soon": form.notify_due_soon.data,
        }
        if ils().supports(Capability.RENEWAL_OPENS):
            changes["notify_renewable"] = form.notify_renewable.data
            if preferences.notify_renewable and not form.notify_renewable.data:
                drop_automatic(current_user.patron_key)
        old_email, old_confirmed = preferences.email, preferences.email_confirmed
        if email != preferences.email:  # a new address waits for its confirmation (one only re-cased need not)
            changes.update(email=email, email_confirmed=old_confirmed and same_address(email, old_email))
        update_preferences(current_user.patron_key, **changes)
        session["language"] = form.language.data
        flash(_("Your settings have been saved."), "success")
        if email != old_email:
            address_changed(current_user.patron_key, old_email, old_confirmed, email)
        return redirect(url_for("settings.index"))
    return render_template(
        "settings/index.html", form=form, preferences=preferences, action_form=EmptyForm(formdata=None),
        calendar_url=feed_url(preferences),
    )

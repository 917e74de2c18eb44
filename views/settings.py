"""Settings (seed guide step 9): email address, language and notice opt-ins, kept in the local store."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from store.preferences import get_preferences, update_preferences
from views.forms import SettingsForm

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
        if email != preferences.email:
            changes.update(email=email, email_confirmed=False)
        update_preferences(current_user.patron_key, **changes)
        session["language"] = form.language.data
        flash(_("Your settings have been saved."), "success")
        return redirect(url_for("settings.index"))
    return render_template("settings/index.html", form=form, preferences=preferences)

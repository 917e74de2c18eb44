"""Reading and writing a patron's preferences."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context

from extensions import db
from store.models import Preference

EDITABLE = frozenset({"language", "furigana", "email", "email_confirmed", "notify_hold_ready", "notify_due_soon"})


def get_preferences(patron_key: str) -> Preference:
    """The patron's preferences; an unsaved default row if they have never changed any.

    Kept for the rest of the request: the language, the furigana switch and the page all ask, and
    for a patron without a saved row each asking would be another query (SQLAlchemy's identity
    map only spares the query for rows that exist)."""
    cached = g.setdefault("shiori_preferences", {}) if has_request_context() else {}
    preference = cached.get(patron_key)
    if preference is None:
        preference = cached[patron_key] = db.session.get(Preference, patron_key) or Preference(
            patron_key=patron_key, furigana=False, email_confirmed=False, notify_hold_ready=True,
            notify_due_soon=True,
        )
    return preference


def update_preferences(patron_key: str, **changes: Any) -> Preference:
    """Set the given fields and commit. Unknown field names are a programming error."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise KeyError(f"not a preference: {sorted(unknown)}")
    preference = get_preferences(patron_key)
    for name, value in changes.items():
        setattr(preference, name, value)
    db.session.add(preference)
    db.session.commit()
    return preference

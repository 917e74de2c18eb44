"""Reading and writing a patron's preferences."""

from __future__ import annotations

from typing import Any

from extensions import db
from store.models import Preference

EDITABLE = frozenset({"language", "furigana", "email", "email_confirmed", "notify_hold_ready", "notify_due_soon",
                      "notify_renewable"})


def get_preferences(patron_key: str) -> Preference:
    """The patron's preferences; an unsaved default row if they have never changed any."""
    return db.session.get(Preference, patron_key) or Preference(
        patron_key=patron_key, furigana=False, email_confirmed=False, notify_hold_ready=True, notify_due_soon=True,
        notify_renewable=False,
    )


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

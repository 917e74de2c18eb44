"""Hold-ready and due-date mail about a linked card, for the patron who linked it, if they asked
(Settings: "Send me this card's emails too").

The linked card's own mail is untouched: it goes to that card's own confirmed address, as for
every patron. The copy is a recipient of its own in the notice run: the ILS is asked about the
linked card, the mail goes to the owner's confirmed address in the owner's language, and the
ledger keeps it under a key of its own for the (owner, card) pair, so each event is sent once to
each of them, and an overlapping or repeated run sends nothing twice. When both have the same
confirmed address and the card's holder wants that kind of notice, no copy is made: one address
gets one mail per event.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy import select

from extensions import db
from notifications.ledger import DUE_SOON, HOLD_READY
from notifications.tokens import same_address
from store.links import CardLink
from store.models import Preference


def ledger_key(link: CardLink) -> str:
    """The ledger's patron key for this owner's copies of this card's notices (fits the 64-character column)."""
    digest = hashlib.sha256(f"{link.owner_key}\x00{link.linked_key}".encode()).hexdigest()[:40]
    return f"link:{digest}"


def linked_recipients(kinds: tuple[str, ...]):
    """A ``Recipient`` per link whose owner asked for the card's mail and has a confirmed address."""
    from notifications.notices import Recipient

    config = current_app.config
    if not (config["LINKED_CARDS_ENABLED"] and config["LINKED_CARDS_NOTICES"]):
        return []
    links = db.session.scalars(select(CardLink).where(CardLink.notify_owner.is_(True)).order_by(CardLink.id)).all()
    found = []
    for link in links:
        owner = db.session.get(Preference, link.owner_key)
        if owner is None or not owner.email_confirmed or not owner.email:
            continue
        holder = db.session.get(Preference, link.linked_key)
        shared = holder is not None and holder.email_confirmed and same_address(holder.email, owner.email)
        hold_ready = HOLD_READY in kinds and owner.notify_hold_ready and not (shared and holder.notify_hold_ready)
        due_soon = DUE_SOON in kinds and owner.notify_due_soon and not (shared and holder.notify_due_soon)
        if hold_ready or due_soon:
            found.append(Recipient(link.linked_key, owner.email, owner.language, hold_ready, due_soon,
                                   ledger_key=ledger_key(link), card_holder=link.linked_name, link_id=link.id))
    return found

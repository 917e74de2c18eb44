"""Linked cards: a patron (the owner) acting for another card (a child's, a partner's) from their own login.

A link keeps what acting for the card needs and nothing of its password: the owner's and the
linked card's adapter keys (``Patron.key``), the linked card's number (for its barcode on /card)
and both holders' names as the ILS gave them (the owner's is shown to the linked card's holder in
their Settings). It is one-way: a link from A to B shows B's card to A, never A's to B. Every
lookup starts from the owner's key, so a link id from a browser only ever finds one of that
owner's own links. A password change or reset of the linked card removes every link to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from store.models import utcnow


class CardLink(db.Model):
    __tablename__ = "card_link"
    __table_args__ = (UniqueConstraint("owner_key", "linked_key", name="uq_card_link_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_key: Mapped[str] = mapped_column(String(64), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    linked_key: Mapped[str] = mapped_column(String(64), index=True)
    linked_card: Mapped[str] = mapped_column(String(64))
    linked_name: Mapped[str] = mapped_column(String(200))
    # The owner also gets the linked card's hold-ready and due-date mail (at the owner's address).
    notify_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def links_of(owner_key: str) -> list[CardLink]:
    """The cards this patron has linked, oldest first."""
    return list(db.session.scalars(select(CardLink).where(CardLink.owner_key == owner_key).order_by(CardLink.id)))


def link_of(owner_key: str, link_id) -> CardLink | None:
    """The owner's own link with this id (from a browser), or None for any other id."""
    try:
        number = int(str(link_id))
    except ValueError:
        return None
    return db.session.scalars(
        select(CardLink).where(CardLink.id == number, CardLink.owner_key == owner_key)
    ).first()


def links_to(linked_key: str) -> list[CardLink]:
    """Who has linked this patron's card: for the card holder's own Settings."""
    return list(db.session.scalars(select(CardLink).where(CardLink.linked_key == linked_key).order_by(CardLink.id)))


def count_links(owner_key: str) -> int:
    return db.session.scalar(select(func.count()).select_from(CardLink).where(CardLink.owner_key == owner_key)) or 0


def add_link(owner_key: str, owner_name: str, linked_key: str, linked_card: str, linked_name: str) -> CardLink:
    """Link the card, or refresh the names and number of an existing link to it; commits."""
    link = db.session.scalars(
        select(CardLink).where(CardLink.owner_key == owner_key, CardLink.linked_key == linked_key)
    ).first() or CardLink(owner_key=owner_key, linked_key=linked_key, notify_owner=False)
    link.owner_name, link.linked_card, link.linked_name = owner_name[:200], linked_card, linked_name[:200]
    db.session.add(link)
    db.session.commit()
    return link


def set_notify_owner(link: CardLink, enabled: bool) -> None:
    link.notify_owner = enabled
    db.session.commit()


def remove_link(link: CardLink) -> None:
    db.session.delete(link)
    db.session.commit()


def remove_links_to(linked_key: str) -> int:
    """Remove every link to this card (its password changed: the proof the links rested on is gone)."""
    removed = db.session.execute(delete(CardLink).where(CardLink.linked_key == linked_key)).rowcount
    db.session.commit()
    return removed or 0


def owners_notified(linked_keys) -> dict[str, list[str]]:
    """linked key -> the owners who asked for that card's notices too (for the notices run)."""
    keys = list(linked_keys)
    if not keys:
        return {}
    rows = db.session.execute(
        select(CardLink.linked_key, CardLink.owner_key).where(CardLink.notify_owner.is_(True), CardLink.linked_key.in_(keys))
    )
    found: dict[str, list[str]] = {}
    for linked_key, owner_key in rows:
        found.setdefault(linked_key, []).append(owner_key)
    return found

"""Tables of the local store. Changing one needs a migration: `flask db migrate -m "..."`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class Preference(db.Model):
    """One patron's portal preferences. ``patron_key`` is ``Patron.key`` from the adapter."""

    __tablename__ = "preference"

    patron_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    furigana: Mapped[bool] = mapped_column(Boolean, default=False)
    # The address notices go to; used only once confirmed.
    email: Mapped[str | None] = mapped_column(String(254))
    email_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_hold_ready: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_due_soon: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

"""Tables of the local store. Changing one needs a migration: `flask db migrate -m "..."`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Integer, String, UniqueConstraint
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
    # The random id a confirmation link for ``email`` carries (signed, with an expiry); a new address gets a new one.
    email_nonce: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    # The random id in the patron's secret calendar-feed URL (signed with SECRET_KEY); None: no feed.
    calendar_id: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PasswordReset(db.Model):
    """An emailed password-reset link: only the SHA-256 of its random token is kept, and it works once."""

    __tablename__ = "password_reset"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    patron_key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NoticeLedger(db.Model):
    """One row per notice event, so that each is sent once (see ``notifications.ledger``).

    ``kind`` is ``hold_ready`` (``subject`` the hold id, ``event`` its pickup deadline) or ``due_soon``
    (``subject`` the loan id, ``event`` its due date). ``state``: pending -> sending -> sent, or failed.
    """

    __tablename__ = "notice_ledger"
    __table_args__ = (UniqueConstraint("kind", "patron_key", "subject", "event", name="uq_notice_ledger_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    patron_key: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))

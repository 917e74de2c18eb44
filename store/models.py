"""Tables of the local store. Changing one needs a migration: `flask db migrate -m "..."`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Boolean, Date, DateTime, Integer, String, UniqueConstraint, false
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
    # A mail on the day renewal opens, for every loan (per loan: RenewalWatch).
    notify_renewable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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


class RenewalWatch(db.Model):
    """"Tell me when I can renew" for one loan: the notice run mails the patron once renewal opens."""

    __tablename__ = "renewal_watch"
    __table_args__ = (UniqueConstraint("patron_key", "loan_id", name="uq_renewal_watch_loan"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patron_key: Mapped[str] = mapped_column(String(64), index=True)
    loan_id: Mapped[str] = mapped_column(String(64))
    # Made by the notice run for "every loan" (Settings), not asked for on the loans page: dropped when
    # the patron turns that setting off.
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SeriesQueueEntry(db.Model):
    """One volume of a numbered series the patron asked to reserve in volume order (``store.series``).

    ``state``: queued (waiting for the previous volume) -> placing (claimed by one notice run) ->
    placed (``hold_id``), or cancelled by the patron, or stalled (the previous volume's hold ended
    without being picked up), or refused (the ILS refused the hold; ``reason``)."""

    __tablename__ = "series_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patron_key: Mapped[str] = mapped_column(String(64), index=True)
    series: Mapped[str] = mapped_column(String(200))
    volume_number: Mapped[int] = mapped_column(Integer)
    volume_label: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    pickup_location_id: Mapped[str] = mapped_column(String(64))
    not_needed_after: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    reason: Mapped[str | None] = mapped_column(String(32))
    hold_id: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

"""Login sessions kept on the server: who is logged in, and whether they still are.

The browser's session cookie is signed, not encrypted, so it carries only a random session id; the
patron it belongs to (key, card number, display name, whether the password must be changed first)
is registered here under that id. Every request reads its entry once (which both checks that the
session lives and says who it is) and touches it; logout, the idle timeout and a password change
or reset remove entries, so a copied cookie does not outlive them. With several instances, all use
the same registry: Redis when SESSION_REDIS_URL is set (entries expire by themselves), else the
shared SQL store.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, DateTime, String, delete, text, update
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

# The SQL store writes an entry's last-seen time at most this often, so that most page views do not
# write; with a short idle timeout, a tenth of it (see touch_interval).
TOUCH_EVERY_AT_MOST = timedelta(seconds=60)
# The check every page view makes: plain SQL (typed), which costs half what a select() construct does.
_ENTRY = text(
    "SELECT patron_key, card_number, display_name, must_change_password, last_seen_at"
    " FROM login_session WHERE session_id = :session_id"
).columns(patron_key=String, card_number=String, display_name=String, must_change_password=Boolean,
          last_seen_at=DateTime(timezone=True))


@dataclass(frozen=True)
class SessionPatron:
    """Who a session belongs to: what pages need of the patron, kept on the server."""

    patron_key: str
    card_number: str
    display_name: str
    must_change_password: bool = False


class LoginSession(db.Model):
    __tablename__ = "login_session"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patron_key: Mapped[str] = mapped_column(String(64), index=True)
    card_number: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String)
    must_change_password: Mapped[bool] = mapped_column(Boolean)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def touch_interval(idle: timedelta) -> timedelta:
    """How stale a stored last-seen time may get. A request finds it at most this much behind the one
    before, so a patron whose requests are less than ``idle - touch_interval`` apart is never logged
    out, and an idle one is logged out between ``idle - touch_interval`` and ``idle``. A tenth of the
    timeout (at most a minute): at 1 minute, requests up to 54 s apart keep the session."""
    return min(TOUCH_EVERY_AT_MOST, idle / 10)


class SqlSessionRegistry:
    def __init__(self, idle: timedelta) -> None:
        self.idle = idle
        self.touch_every = touch_interval(idle)

    def add(self, session_id: str, patron: SessionPatron) -> None:
        db.session.add(LoginSession(session_id=session_id, last_seen_at=_now(), **vars(patron)))
        db.session.execute(delete(LoginSession).where(LoginSession.last_seen_at < _now() - self.idle))
        db.session.commit()

    def touch(self, session_id: str) -> SessionPatron | None:
        """The session's patron if it is still registered and not idle too long (and it is extended); else None."""
        entry = db.session.execute(_ENTRY, {"session_id": session_id}).first()
        now = _now()
        if entry is None or _aware(entry.last_seen_at) < now - self.idle:
            return None
        if now - _aware(entry.last_seen_at) >= self.touch_every:
            db.session.execute(
                update(LoginSession).where(LoginSession.session_id == session_id).values(last_seen_at=now)
            )
            db.session.commit()
        return SessionPatron(entry.patron_key, entry.card_number, entry.display_name, entry.must_change_password)

    def password_changed(self, session_id: str) -> None:
        db.session.execute(
            update(LoginSession).where(LoginSession.session_id == session_id).values(must_change_password=False)
        )
        db.session.commit()

    def remove(self, session_id: str) -> None:
        db.session.execute(delete(LoginSession).where(LoginSession.session_id == session_id))
        db.session.commit()

    def remove_patron(self, patron_key: str, keep: str | None = None) -> int:
        """End every session of a patron but ``keep`` (after a password change or reset); how many ended."""
        query = delete(LoginSession).where(LoginSession.patron_key == patron_key)
        if keep:
            query = query.where(LoginSession.session_id != keep)
        ended = db.session.execute(query).rowcount
        db.session.commit()
        return ended


class RedisSessionRegistry:
    """Each session is a key holding its patron as JSON, expiring ``idle`` after the last request;
    a set per patron lists their session ids, so that all of them can be ended at once."""

    PREFIX = "shiori:session:"
    PATRON_PREFIX = "shiori:patron-sessions:"

    def __init__(self, url: str, idle: timedelta) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.idle = idle

    def add(self, session_id: str, patron: SessionPatron) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(self.PREFIX + session_id, json.dumps(astuple(patron)), ex=self.idle)
            pipe.sadd(self.PATRON_PREFIX + patron.patron_key, session_id)
            # A day: longer than a login lasts (SESSION_ABSOLUTE_HOURS, 8 by default); renewed at each login.
            pipe.expire(self.PATRON_PREFIX + patron.patron_key, timedelta(days=1))
            pipe.execute()

    def touch(self, session_id: str) -> SessionPatron | None:
        """The session's patron if it is still registered (and it is extended); else None. One round trip."""
        key = self.PREFIX + session_id
        with self.redis.pipeline() as pipe:
            pipe.get(key)
            pipe.expire(key, self.idle)
            stored, _extended = pipe.execute()
        return SessionPatron(*json.loads(stored)) if stored is not None else None

    def password_changed(self, session_id: str) -> None:
        key = self.PREFIX + session_id
        stored = self.redis.get(key)
        if stored is not None:
            patron = SessionPatron(*json.loads(stored))
            patron = SessionPatron(patron.patron_key, patron.card_number, patron.display_name, False)
            self.redis.set(key, json.dumps(astuple(patron)), xx=True, keepttl=True)

    def remove(self, session_id: str) -> None:
        self.redis.delete(self.PREFIX + session_id)

    def remove_patron(self, patron_key: str, keep: str | None = None) -> int:
        index = self.PATRON_PREFIX + patron_key
        others = [sid.decode() for sid in self.redis.smembers(index) if sid.decode() != keep]
        if not others:
            return 0
        with self.redis.pipeline() as pipe:
            pipe.delete(*(self.PREFIX + sid for sid in others))
            pipe.srem(index, *others)
            ended, _removed = pipe.execute()
        return ended


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

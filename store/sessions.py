"""Login sessions kept on the server, so that logging out ends a session for good.

The session cookie is signed but would stay valid if copied; so every login gets a random session
id registered here, each request checks it is still registered to the same patron (and touches it), and logout or
the idle timeout removes it. With several instances, all use the same registry: Redis when
SESSION_REDIS_URL is set (entries expire by themselves), else the shared SQL store.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, delete, text, update
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db

# Touch an entry at most this often, so an ordinary page view does not write to the store.
TOUCH_EVERY = timedelta(seconds=60)
# The check every page view makes: plain SQL (typed), which costs half what a select() construct does.
_ENTRY = text("SELECT patron_key, last_seen_at FROM login_session WHERE session_id = :session_id").columns(
    patron_key=String, last_seen_at=DateTime(timezone=True))


class LoginSession(db.Model):
    __tablename__ = "login_session"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patron_key: Mapped[str] = mapped_column(String(64), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


class SqlSessionRegistry:
    def __init__(self, idle: timedelta) -> None:
        self.idle = idle

    def add(self, session_id: str, patron_key: str) -> None:
        db.session.add(LoginSession(session_id=session_id, patron_key=patron_key, last_seen_at=_now()))
        db.session.execute(delete(LoginSession).where(LoginSession.last_seen_at < _now() - self.idle))
        db.session.commit()

    def touch(self, session_id: str, patron_key: str) -> bool:
        """True if the session is still registered, for this patron, and not idle too long; extends it."""
        entry = db.session.execute(_ENTRY, {"session_id": session_id}).first()
        now = _now()
        if entry is None or entry.patron_key != patron_key or _aware(entry.last_seen_at) < now - self.idle:
            return False
        if now - _aware(entry.last_seen_at) > TOUCH_EVERY:
            db.session.execute(
                update(LoginSession).where(LoginSession.session_id == session_id).values(last_seen_at=now)
            )
            db.session.commit()
        return True

    def remove(self, session_id: str) -> None:
        db.session.execute(delete(LoginSession).where(LoginSession.session_id == session_id))
        db.session.commit()

    def remove_patron(self, patron_key: str) -> None:
        """End every session of a patron (after their password was reset)."""
        db.session.execute(delete(LoginSession).where(LoginSession.patron_key == patron_key))
        db.session.commit()


class RedisSessionRegistry:
    PREFIX = "shiori:session:"

    def __init__(self, url: str, idle: timedelta) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.idle = idle

    PATRON_PREFIX = "shiori:patron-sessions:"

    def add(self, session_id: str, patron_key: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(self.PREFIX + session_id, patron_key, ex=self.idle)
            pipe.sadd(self.PATRON_PREFIX + patron_key, session_id)
            pipe.expire(self.PATRON_PREFIX + patron_key, timedelta(days=1))
            pipe.execute()

    def touch(self, session_id: str, patron_key: str) -> bool:
        """True if the session is still registered for this patron; extends it."""
        key = self.PREFIX + session_id
        with self.redis.pipeline() as pipe:
            pipe.get(key)
            pipe.expire(key, self.idle)
            owner, _extended = pipe.execute()
        return owner is not None and owner.decode() == patron_key

    def remove(self, session_id: str) -> None:
        self.redis.delete(self.PREFIX + session_id)

    def remove_patron(self, patron_key: str) -> None:
        session_ids = self.redis.smembers(self.PATRON_PREFIX + patron_key)
        self.redis.delete(self.PATRON_PREFIX + patron_key, *(self.PREFIX + sid.decode() for sid in session_ids))


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

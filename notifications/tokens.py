"""The links a mail carries: email confirmation (signed) and password reset (single-use, stored).

- A confirmation link carries a random id kept with the address in the patron's preferences,
  signed with itsdangerous (SECRET_KEY, its own salt) and valid EMAIL_CONFIRM_HOURS. A new address
  gets a new id, so changing the address again voids the links sent before; and the URL names
  neither the patron nor the address (a SIP2 patron key is the card number).
- A reset link carries 32 random bytes; the store keeps only their SHA-256, with an expiry
  (RESET_LINK_MINUTES) and the time it was used. Using it is one conditional UPDATE, so two
  browsers racing with the same link cannot both set a password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update

from extensions import db
from store.models import PasswordReset, Preference

CONFIRM_SALT = "shiori.email-confirm"


def _now() -> datetime:
    return datetime.now(UTC)


# --- email confirmation -------------------------------------------------------------------------


def _confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def confirmation_nonce(patron_key: str, *, fresh: bool = False) -> str:
    """The id the patron's confirmation links carry; a new one (voiding older links) if ``fresh``."""
    preference = db.session.get(Preference, patron_key)
    if preference is None:
        raise LookupError(f"no preferences stored for {patron_key!r}")
    if fresh or not preference.email_nonce:
        preference.email_nonce = secrets.token_hex(16)
        db.session.commit()
    return preference.email_nonce


def forget_confirmation(patron_key: str) -> None:
    """No address any more: no confirmation link may work."""
    preference = db.session.get(Preference, patron_key)
    if preference is not None and preference.email_nonce:
        preference.email_nonce = None
        db.session.commit()


def confirmation_token(nonce: str) -> str:
    return _confirm_serializer().dumps(nonce)


def read_confirmation_token(token: str) -> Preference | None:
    """The preferences a confirmation link is for; None if forged, malformed, expired or superseded."""
    if not token or len(token) > 200:
        return None
    max_age = int(current_app.config["EMAIL_CONFIRM_HOURS"]) * 3600
    try:
        nonce = _confirm_serializer().loads(token, max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    if not isinstance(nonce, str) or not nonce:
        return None
    preference = db.session.execute(select(Preference).where(Preference.email_nonce == nonce)).scalar_one_or_none()
    return preference if preference is not None and preference.email else None


def same_address(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.strip().casefold() == b.strip().casefold()


# --- password reset -----------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_reset_token(patron_key: str) -> str:
    """A new reset token for the patron, stored hashed; the plain token goes into the mail only."""
    token = secrets.token_urlsafe(32)
    now = _now()
    db.session.add(
        PasswordReset(
            token_hash=_hash(token), patron_key=patron_key, created_at=now,
            expires_at=now + timedelta(minutes=int(current_app.config["RESET_LINK_MINUTES"])),
        )
    )
    db.session.execute(delete(PasswordReset).where(PasswordReset.expires_at < now - timedelta(days=1)))
    db.session.commit()
    return token


def reset_token_patron(token: str) -> str | None:
    """The patron key of a reset token that is unused and unexpired (without using it)."""
    if not token or len(token) > 128:
        return None
    row = db.session.execute(
        select(PasswordReset.patron_key).where(
            PasswordReset.token_hash == _hash(token), PasswordReset.used_at.is_(None), PasswordReset.expires_at > _now()
        )
    ).first()
    return row[0] if row else None


def use_reset_token(token: str) -> str | None:
    """Mark the token used, atomically; its patron key if this call was the one that used it."""
    patron_key = reset_token_patron(token)
    if patron_key is None:
        return None
    used = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == _hash(token), PasswordReset.used_at.is_(None),
               PasswordReset.expires_at > _now())
        .values(used_at=_now())
    ).rowcount
    db.session.commit()
    return patron_key if used == 1 else None


def give_back_reset_token(token: str) -> None:
    """Make a used token usable again (the ILS failed to set the password, so nothing happened)."""
    db.session.execute(update(PasswordReset).where(PasswordReset.token_hash == _hash(token)).values(used_at=None))
    db.session.commit()


def void_reset_tokens(patron_key: str) -> None:
    """Void every outstanding reset link of the patron (password reset done, or the address changed)."""
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.patron_key == patron_key, PasswordReset.used_at.is_(None))
        .values(used_at=_now())
    )
    db.session.commit()

"""The Koha adapter's settings and their defaults (keys without the PORTAL_ prefix).

``DEFAULTS`` is meant to be merged into ``config/defaults.py``; until then ``KohaAdapter.from_config``
falls back to it for any key the app config lacks. Values set through the environment may arrive as
str, int or float (``PORTAL_KOHA_VERSION=24.05`` is parsed as the float 24.05): ``KohaSettings``
coerces every one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Koha's base URL, without /api/v1 (e.g. "https://staff.library.example"). Required.
    "KOHA_URL": "",
    # OAuth2 client credentials of the API client (syspref RESTOAuth2ClientCredentials) ...
    "KOHA_CLIENT_ID": "",
    "KOHA_CLIENT_SECRET": "",
    # ... or HTTP Basic credentials of the API client's staff user (syspref RESTBasicAuth).
    "KOHA_USER": "",
    "KOHA_PASSWORD": "",
    # Seconds to wait for Koha (connect, read, write, pool).
    "KOHA_TIMEOUT": 10,
    # Retries of an idempotent GET after a connection error or a 502/503/504, with exponential backoff.
    "KOHA_RETRIES": 2,
    "KOHA_RETRY_BACKOFF": 0.3,
    # Connections kept to Koha (httpx pool).
    "KOHA_MAX_CONNECTIONS": 10,
    # The Koha release ("23.11", "24.05", ...). Empty: find the routes from the contract Koha serves at /api/v1/.
    "KOHA_VERSION": "",
    # How long title records (and items' titles) stay cached, in seconds.
    "KOHA_BIBLIO_CACHE_SECONDS": 3600,
    # Koha's "No renewal before" circulation rule in days, if one value holds for the portal's patrons:
    # lets a loan that is too soon to renew say from which date it can be. Empty: the date is not shown.
    "KOHA_RENEWAL_WINDOW_DAYS": "",
    # Koha's FailedLoginAttempts syspref, so that a locked card is told apart from a wrong password.
    "KOHA_FAILED_LOGIN_ATTEMPTS": "",
    # Owing more than this (the library's currency) shows the FINES_OVER_LIMIT block and stops
    # renewals and holds, like Koha's OPAC (noissuescharge / OPACFineNoRenewals). Empty: no limit.
    "KOHA_FINE_LIMIT": "",
    # How a patron changes their password: "public" (POST /public/patrons/{id}/password as the patron,
    # needs RESTBasicAuth and OpacPasswordChange), "staff" (the staff route, after checking the current
    # password), or "auto" (public, falling back to staff where Koha refuses Basic auth or the password expired).
    "KOHA_PASSWORD_CHANGE": "auto",
    # The library's time zone, for due dates; empty means BABEL_DEFAULT_TIMEZONE.
    "KOHA_TIMEZONE": "",
    # Currency of Koha's amounts.
    "KOHA_CURRENCY": "JPY",
    # Renewal forecasts are asked for this many loans at a time.
    "KOHA_PARALLEL_REQUESTS": 4,
}

PASSWORD_CHANGE_MODES = ("auto", "public", "staff")


class KohaConfigError(ValueError):
    """A Koha setting that cannot work; the message names the PORTAL_ variable to fix."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # PORTAL_KOHA_VERSION=24.05 arrives as 24.05
        return f"{value:.2f}"
    return str(value).strip()


def _number(config: Mapping[str, Any], key: str, kind: type = float) -> Any:
    raw = config.get(key, DEFAULTS.get(key))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = kind(raw) if kind is float else kind(float(raw))
    except (TypeError, ValueError) as exc:
        raise KohaConfigError(f"PORTAL_{key} must be a number, not {raw!r}") from exc
    if value < 0:
        raise KohaConfigError(f"PORTAL_{key} must not be negative")
    return value


def parse_version(value: Any) -> tuple[int, int] | None:
    """ "24.05" / 24.05 / "24.05.02.000" -> (24, 5); empty -> None."""
    text = _text(value)
    if not text:
        return None
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError as exc:
        raise KohaConfigError(f"PORTAL_KOHA_VERSION must look like 24.05, not {value!r}") from exc


@dataclass(frozen=True)
class KohaSettings:
    url: str
    client_id: str = ""
    client_secret: str = ""
    user: str = ""
    password: str = ""
    timeout: float = 10.0
    retries: int = 2
    retry_backoff: float = 0.3
    max_connections: int = 10
    version: tuple[int, int] | None = None
    biblio_cache_seconds: float = 3600.0
    renewal_window_days: int | None = None
    failed_login_attempts: int | None = None
    fine_limit: float | None = None
    change_route: str = "auto"  # KOHA_PASSWORD_CHANGE
    timezone: str = "UTC"
    currency: str = "JPY"
    due_soon_days: int = 3
    parallel_requests: int = 4

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> KohaSettings:
        def text(key: str) -> str:
            return _text(config.get(key, DEFAULTS.get(key)))

        url = text("KOHA_URL").rstrip("/")
        if url.endswith("/api/v1"):
            url = url[: -len("/api/v1")]
        if not url.startswith(("http://", "https://")):
            raise KohaConfigError("PORTAL_KOHA_URL must be Koha's base URL, e.g. https://koha.library.example")
        client_id, client_secret = text("KOHA_CLIENT_ID"), text("KOHA_CLIENT_SECRET")
        user, password = text("KOHA_USER"), text("KOHA_PASSWORD")
        if bool(client_id) != bool(client_secret):
            raise KohaConfigError("set both PORTAL_KOHA_CLIENT_ID and PORTAL_KOHA_CLIENT_SECRET")
        if not client_id and not (user and password):
            raise KohaConfigError(
                "set PORTAL_KOHA_CLIENT_ID and PORTAL_KOHA_CLIENT_SECRET (OAuth2), "
                "or PORTAL_KOHA_USER and PORTAL_KOHA_PASSWORD (HTTP Basic)"
            )
        mode = text("KOHA_PASSWORD_CHANGE").lower() or "auto"
        if mode not in PASSWORD_CHANGE_MODES:
            raise KohaConfigError(f"PORTAL_KOHA_PASSWORD_CHANGE must be one of {', '.join(PASSWORD_CHANGE_MODES)}")
        timezone = text("KOHA_TIMEZONE") or _text(config.get("BABEL_DEFAULT_TIMEZONE")) or "UTC"
        return cls(
            url=url,
            client_id=client_id,
            client_secret=client_secret,
            user=user,
            password=password,
            timeout=_number(config, "KOHA_TIMEOUT") or 10.0,
            retries=_number(config, "KOHA_RETRIES", int) or 0,
            retry_backoff=_number(config, "KOHA_RETRY_BACKOFF") or 0.0,
            max_connections=_number(config, "KOHA_MAX_CONNECTIONS", int) or 10,
            version=parse_version(config.get("KOHA_VERSION", DEFAULTS["KOHA_VERSION"])),
            biblio_cache_seconds=_number(config, "KOHA_BIBLIO_CACHE_SECONDS") or 0.0,
            renewal_window_days=_number(config, "KOHA_RENEWAL_WINDOW_DAYS", int),
            failed_login_attempts=_number(config, "KOHA_FAILED_LOGIN_ATTEMPTS", int) or None,
            fine_limit=_number(config, "KOHA_FINE_LIMIT"),
            change_route=mode,
            timezone=timezone,
            currency=text("KOHA_CURRENCY") or "JPY",
            due_soon_days=_number(config, "DUE_SOON_DAYS", int) if config.get("DUE_SOON_DAYS") not in (None, "")
            else 3,
            parallel_requests=max(1, _number(config, "KOHA_PARALLEL_REQUESTS", int) or 1),
        )

    @property
    def uses_oauth(self) -> bool:
        return bool(self.client_id)

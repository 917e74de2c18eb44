"""The errors an adapter may raise. Every back-end failure is translated into one of these at the
adapter's edge (``raise IlsUnavailable(...) from exc``), so views handle a closed set."""

from __future__ import annotations

from adapters.models import Capability, Reason


class IlsError(Exception):
    """Base of every error that crosses the adapter boundary."""


class AuthenticationFailed(IlsError):
    """Wrong card number or password. Deliberately says neither which."""


class AccountLocked(IlsError):
    """The ILS refuses logins for this card until staff or time unlock it."""


class IlsUnavailable(IlsError):
    """The library system is down, timed out, or answered something that could not be understood."""


class NotSupported(IlsError):
    """The adapter (or this ILS's configuration) cannot do this operation."""

    def __init__(self, capability: Capability | str, detail: str | None = None) -> None:
        super().__init__(detail or f"not supported: {capability}")
        self.capability = capability


class Refused(IlsError):
    """The ILS understood the request and said no, for a reason the patron can be told."""

    def __init__(self, reason: Reason, message: str | None = None) -> None:
        super().__init__(message or reason.value)
        self.reason = reason
        self.message = message


class RecordNotFound(IlsError):
    """No catalogue record with that id."""


class InvalidInput(IlsError, ValueError):
    """A value that must never reach the ILS (control characters, a delimiter, too long)."""

"""Exceptions of the SIP2 client. The adapter maps them onto the portal's contract errors.

Suggested mapping: ``UnsafeFieldValue`` -> invalid input (nothing was sent);
``Sip2Unavailable`` and its subclasses -> ILS unavailable; ``Sip2ProtocolError`` -> ILS
unavailable too (the ACS answered something we could not trust), but worth logging apart.
"""

from __future__ import annotations


class Sip2Error(Exception):
    """Base of every failure that comes from talking to an ACS."""


class Sip2ProtocolError(Sip2Error):
    """A frame that cannot be parsed, an unexpected reply, or an ACS that keeps corrupting
    its replies. The connection that saw it is closed, because its framing or sequence can
    no longer be trusted."""


class Sip2ChecksumError(Sip2ProtocolError):
    """A frame whose AZ checksum does not match its bytes."""


class Sip2Unavailable(Sip2Error):
    """The ACS cannot be reached or kept: refused or timed-out connect, a read timeout, a
    connection dropped twice in a row, or no pooled connection free within the timeout."""


class Sip2Timeout(Sip2Unavailable):
    """The ACS did not answer within the read timeout."""


class Sip2OutcomeUnknown(Sip2Unavailable):
    """The connection dropped after a state-changing request (renew, renew all, hold) was
    sent. The ACS may or may not have carried it out, so it is deliberately not re-sent:
    the caller should re-read the patron's account rather than retry blindly."""


class Sip2LoginRefused(Sip2Unavailable):
    """The ACS answered the 93 login with ``940``: the portal's SIP credentials or location
    are wrong. Real servers close the socket after this, so it is not retried."""


class UnsafeFieldValue(ValueError):
    """A value that must never be put into a SIP2 field: it contains the delimiter ``|``,
    CR, LF or another control character, cannot be encoded in the connection's character
    set, or is longer than 255 encoded bytes. Raised before anything is sent, so it is an
    input error, not an ACS failure (hence not a ``Sip2Error``)."""

    def __init__(self, field_id: str, reason: str) -> None:
        super().__init__(f"unsafe value for SIP2 field {field_id}: {reason}")
        self.field_id = field_id
        self.reason = reason

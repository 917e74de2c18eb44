"""Per-ILS settings of the SIP2 client."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from adapters.sip2.codec import check_encoding, check_field_value


@dataclass(frozen=True)
class Sip2Settings:
    """Everything needed to reach one ACS. Validated on creation (ValueError).

    ``user`` empty means "send no 93 login" (for ACSs configured without one).
    ``terminator`` is what we send: CR per spec, CRLF for ACSs that insist; replies are
    always accepted with either. ``encoding`` must be agreed with the site (cp850 is the
    spec default; utf-8 where the ILS allows; shift_jis/cp932 for legacy Japanese ACSs).
    ``max_idle_seconds``: a pooled connection idle longer than this is reopened rather than
    trusted, since ACSs and firewalls drop idle sessions without telling anyone.
    """

    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)
    institution: str = ""
    location: str = ""
    terminal_password: str = field(default="", repr=False)
    encoding: str = "cp850"
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    terminator: str = "\r"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    pool_size: int = 4
    pool_timeout: float = 5.0
    max_idle_seconds: float = 60.0
    error_detection: bool = True
    resend_limit: int = 2
    max_message_size: int = 65536

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("host is required")
        if not 0 < self.port < 65536:
            raise ValueError(f"port out of range: {self.port}")
        check_encoding(self.encoding)
        if self.terminator not in ("\r", "\r\n"):
            raise ValueError("terminator must be '\\r' or '\\r\\n'")
        for name in ("connect_timeout", "read_timeout", "pool_timeout", "max_idle_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if self.resend_limit < 0:
            raise ValueError("resend_limit must not be negative")
        if self.max_message_size < 256:
            raise ValueError("max_message_size below 256 bytes cannot hold a 64 response")
        for field_id, value in (
            ("CN", self.user),
            ("CO", self.password),
            ("AO", self.institution),
            ("CP", self.location),
            ("AC", self.terminal_password),
        ):
            check_field_value(field_id, value, self.encoding)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context these settings ask for, or None without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

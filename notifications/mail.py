"""Building a message and sending it over SMTP, as the MAIL_* settings say.

One ``SmtpMailer`` keeps one connection per thread and reuses it (a notice run sends many messages);
``close()`` ends them all. The password is never logged, and neither is a message body.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server (it was not sent)."""


class MailNotConfigured(MailError):
    """MAIL_HOST is empty: this portal sends no email."""


def mail_enabled(config: Mapping[str, Any]) -> bool:
    return bool(config.get("MAIL_HOST"))


def sender_domain(config: Mapping[str, Any]) -> str:
    address = parseaddr(config.get("MAIL_FROM") or "")[1]
    return address.rpartition("@")[2] or "localhost"


def build_message(
    config: Mapping[str, Any],
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    sender_name: str = "",
    language: str | None = None,
    message_id: str | None = None,
    automatic: bool = True,
) -> EmailMessage:
    """A multipart/alternative message (plain text first, then HTML) from MAIL_FROM."""
    message = EmailMessage()
    message["From"] = formataddr((sender_name, parseaddr(config["MAIL_FROM"])[1] or config["MAIL_FROM"]))
    message["To"] = to
    if config.get("MAIL_REPLY_TO"):
        message["Reply-To"] = config["MAIL_REPLY_TO"]
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain=sender_domain(config))
    if automatic:
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notice
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    if language:
        message["Content-Language"] = language  # after set_content, which drops Content-* headers
    return message


class SmtpMailer:
    """Sends messages through the configured SMTP server, one reused connection per thread."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = config.get("MAIL_HOST") or ""
        self.port = int(config.get("MAIL_PORT") or 25)
        self.use_ssl = bool(config.get("MAIL_SSL"))
        self.starttls = bool(config.get("MAIL_STARTTLS"))
        self.username = config.get("MAIL_USERNAME") or ""
        self._password = config.get("MAIL_PASSWORD") or ""
        self.timeout = float(config.get("MAIL_TIMEOUT") or 30)
        if self.use_ssl and self.starttls:
            raise ValueError("MAIL_SSL and MAIL_STARTTLS are exclusive: SSL from the start (465) or STARTTLS (587)")
        self._local = threading.local()
        self._open: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # no password, ever
        return f"SmtpMailer({self.host}:{self.port}, ssl={self.use_ssl}, starttls={self.starttls})"

    def _connect(self) -> smtplib.SMTP:
        if not self.host:
            raise MailNotConfigured("MAIL_HOST is empty")
        context = ssl.create_default_context()
        if self.use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if self.starttls:
                connection.starttls(context=context)
                connection.ehlo()
            if self.username:
                connection.login(self.username, self._password)
        except BaseException:
            _quietly_close(connection)
            raise
        return connection

    def _connection(self) -> smtplib.SMTP:
        """This thread's connection, checked with NOOP before reuse (servers drop idle ones)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            try:
                if connection.noop()[0] == 250:
                    return connection
            except (smtplib.SMTPException, OSError):
                pass
            self._discard(connection)
        connection = self._connect()
        self._local.connection = connection
        with self._lock:
            self._open.append(connection)
        return connection

    def _discard(self, connection: smtplib.SMTP) -> None:
        self._local.connection = None
        with self._lock:
            if connection in self._open:
                self._open.remove(connection)
        _quietly_close(connection)

    def send(self, message: EmailMessage) -> None:
        """Hand the message to the server. Raises MailError if the server did not accept it.

        A NOOP-checked connection is used, and a failed send is never retried here: after the DATA
        has gone, a lost connection leaves it unknown whether the server accepted the message, and
        retrying would risk a duplicate. The caller (the notice ledger) decides about retries.
        """
        try:
            connection = self._connection()
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"cannot connect to {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc
        try:
            refused = connection.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            self._discard(connection)
            raise MailError(f"{self.host}:{self.port} did not take the message: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise MailError(f"recipient refused: {sorted(refused)}")

    def close(self) -> None:
        """End every connection this mailer opened (from any thread)."""
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(connection)


def _quietly_close(connection: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        connection.close()


def mask_address(email: str) -> str:
    """h***@example.jp: enough to recognise an address in a log line, not to harvest it."""
    local, _, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"

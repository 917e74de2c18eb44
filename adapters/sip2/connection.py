"""One logged-in SIP2 session over TCP (optionally TLS).

``Sip2Connection.transact(request)`` sends a request built by :mod:`adapters.sip2.builders`
and returns the decoded reply, to be read with :mod:`adapters.sip2.responses`. It handles:

* login (93) and status (99) whenever the socket is (re)opened; an ACS reporting itself
  off-line counts as unavailable;
* error detection (AY/AZ, switchable): a reply with a bad checksum gets a ``97`` resend
  request, at most ``resend_limit`` times; a ``96`` from the ACS makes us re-send our
  request (same AY); a reply with a valid checksum but someone else's AY is discarded;
* one reopen-and-retry when the socket turns out dead, but never a blind re-send of a
  state-changing request (29/65/15) once it was written: see :class:`Sip2OutcomeUnknown`.

A connection is not meant to be shared between threads (use the pool); an internal lock
still serialises callers so a mistake cannot interleave two requests on one socket.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time

from adapters.sip2.builders import login_request, resend_request, sc_status_request
from adapters.sip2.codec import Message, decode_message, encode_message
from adapters.sip2.errors import (
    Sip2ChecksumError,
    Sip2LoginRefused,
    Sip2OutcomeUnknown,
    Sip2ProtocolError,
    Sip2Timeout,
    Sip2Unavailable,
)
from adapters.sip2.framing import ConnectionLost, FrameReader
from adapters.sip2.layouts import REPLY_COMMAND
from adapters.sip2.responses import AcsStatus, parse_acs_status, parse_login_response
from adapters.sip2.settings import Sip2Settings

__all__ = ["Sip2Connection", "Sip2Settings", "STATE_CHANGING_COMMANDS"]

logger = logging.getLogger(__name__)

# Requests whose effect must not be doubled by re-sending them on a new connection.
STATE_CHANGING_COMMANDS = frozenset({"01", "09", "11", "15", "19", "25", "29", "37", "65"})
# Replies with a foreign AY tolerated per request before the stream is deemed out of step.
MAX_DISCARDED_REPLIES = 3


class Sip2Connection:
    """A SIP2 client session. Opens lazily on the first :meth:`transact`."""

    def __init__(self, settings: Sip2Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._ssl_context = ssl_context if ssl_context is not None else settings.ssl_context()
        self._sock: socket.socket | None = None
        self._reader: FrameReader | None = None
        self._next_sequence = 0
        self._last_used = time.monotonic()
        self._lock = threading.RLock()
        self.acs_status: AcsStatus | None = None
        """The 98 reply of the last open: BX tells which messages the ACS supports."""

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    @property
    def idle_seconds(self) -> float:
        return time.monotonic() - self._last_used

    def is_alive(self) -> bool:
        """Open, not closed by the peer, no unsolicited bytes waiting. No round trip."""
        with self._lock:
            return self._reader is not None and self._reader.is_idle_and_open()

    def open(self) -> AcsStatus:
        """(Re)connect, log in and fetch the ACS status. Raises :class:`Sip2Unavailable`
        (or :class:`Sip2LoginRefused`), :class:`Sip2ProtocolError`; leaves nothing open on
        failure."""
        with self._lock:
            self.close()
            settings = self.settings
            try:
                raw = socket.create_connection((settings.host, settings.port), timeout=settings.connect_timeout)
            except TimeoutError:
                raise Sip2Timeout(
                    f"no answer from {settings.host}:{settings.port} within the connect timeout"
                ) from None
            except OSError as exc:
                raise Sip2Unavailable(f"cannot connect to {settings.host}:{settings.port}: {exc}") from exc
            self._sock = raw
            try:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._ssl_context is not None:
                    self._sock = self._ssl_context.wrap_socket(raw, server_hostname=settings.host)
                self._reader = FrameReader(self._sock, settings.max_message_size)
                self._next_sequence = 0
                self._log_in()
                status = parse_acs_status(self._exchange(sc_status_request()))
                if not status.online:
                    raise Sip2Unavailable("the ACS reports itself off-line")
                self.acs_status = status
                self._last_used = time.monotonic()
                return status
            except ConnectionLost as exc:
                self.close()
                raise Sip2Unavailable(f"connection lost while logging in: {exc}") from exc
            except OSError as exc:  # TLS handshake failures and resets during setup
                self.close()
                raise Sip2Unavailable(f"cannot set up the session: {exc}") from exc
            except BaseException:
                self.close()
                raise

    def _log_in(self) -> None:
        settings = self.settings
        if not settings.user:
            return
        request = login_request(settings.user, settings.password, settings.location or None)
        if not parse_login_response(self._exchange(request)).ok:
            raise Sip2LoginRefused("the ACS refused the SIP2 login (check user, password, location)")

    def close(self) -> None:
        with self._lock:
            sock, self._sock, self._reader = self._sock, None, None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> Sip2Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------

    def transact(self, request: Message) -> Message:
        """Send ``request``, return the ACS reply of the matching command.

        Raises :class:`UnsafeFieldValue` (nothing sent, connection untouched),
        :class:`Sip2Unavailable` (incl. :class:`Sip2Timeout`, :class:`Sip2OutcomeUnknown`,
        :class:`Sip2LoginRefused`) or :class:`Sip2ProtocolError`; after those the
        connection is closed and reopens on the next call.
        """
        if request.command not in REPLY_COMMAND:
            raise ValueError(f"{request.command} is not a request that gets a reply")
        # Encode once before touching the socket: an unsafe value must not cost a reconnect.
        encode_message(request, self.settings.encoding, sequence=0)
        with self._lock:
            try:
                return self._transact_with_one_reopen(request)
            except BaseException:
                self.close()
                raise
            finally:
                self._last_used = time.monotonic()

    def _transact_with_one_reopen(self, request: Message) -> Message:
        # The one reopen is spent either on a connection found dead before sending or on
        # one that drops during the exchange; the very first open is not a reopen.
        reopened = False
        if not self.is_alive():
            if self.is_open:
                logger.info("SIP2 connection to %s found dead; reopening", self.settings.host)
                reopened = True
            self.open()
        try:
            return self._exchange(request)
        except ConnectionLost as lost:
            self.close()
            if reopened or not self._may_resend(request, lost):
                raise self._lost_error(request, lost) from lost
            logger.info("SIP2 connection to %s dropped; reopening once", self.settings.host)
        self.open()
        try:
            return self._exchange(request)
        except ConnectionLost as lost:
            raise self._lost_error(request, lost) from lost

    @staticmethod
    def _may_resend(request: Message, lost: ConnectionLost) -> bool:
        return not lost.request_sent or request.command not in STATE_CHANGING_COMMANDS

    @classmethod
    def _lost_error(cls, request: Message, lost: ConnectionLost) -> Sip2Unavailable:
        if not cls._may_resend(request, lost):
            return Sip2OutcomeUnknown(f"connection lost after sending {request.command}; the ACS may have done it")
        return Sip2Unavailable(f"connection lost again after reopening: {lost}")

    def _exchange(self, request: Message) -> Message:
        """One request/reply on the open socket, with the resend and AY rules."""
        settings = self.settings
        sequence = self._take_sequence()
        frame = encode_message(request, settings.encoding, sequence=sequence, error_detection=settings.error_detection)
        expected = REPLY_COMMAND[request.command]
        deadline = time.monotonic() + settings.read_timeout
        self._send(frame, first=True)
        resends = discarded = 0
        last_sent_was_resend_request = False
        while True:
            assert self._reader is not None
            raw = self._reader.read_frame(deadline)
            try:
                reply = decode_message(raw, settings.encoding, verify_checksum=settings.error_detection)
            except Sip2ChecksumError:
                if resends >= settings.resend_limit:
                    raise Sip2ProtocolError(f"reply checksum still wrong after {resends} resend requests") from None
                resends += 1
                self._send(encode_message(resend_request(), settings.encoding))
                last_sent_was_resend_request = True
                continue
            if reply.command == "96":
                if last_sent_was_resend_request or resends >= settings.resend_limit:
                    raise Sip2ProtocolError("the ACS keeps asking for a resend (96)")
                resends += 1
                self._send(frame)  # a resend keeps its AY, as the spec requires
                last_sent_was_resend_request = False
                continue
            if settings.error_detection and reply.sequence not in (None, sequence):
                # Evergreen strips AY from resent replies, so only a *different* AY is foreign.
                discarded += 1
                if discarded > MAX_DISCARDED_REPLIES:
                    raise Sip2ProtocolError("replies keep carrying a foreign sequence number")
                continue
            if reply.command != expected:
                raise Sip2ProtocolError(f"expected a {expected} reply to {request.command}, got {reply.command}")
            return reply

    def _take_sequence(self) -> int:
        sequence = self._next_sequence
        self._next_sequence = (sequence + 1) % 10
        return sequence

    def _send(self, frame: bytes, *, first: bool = False) -> None:
        assert self._sock is not None
        self._sock.settimeout(self.settings.read_timeout)
        try:
            self._sock.sendall(frame + self.settings.terminator.encode("ascii"))
        except TimeoutError:
            raise Sip2Timeout("the ACS does not accept data (send timed out)") from None
        except OSError as exc:
            # The terminator is the last byte we write, so a failed send of the first
            # frame cannot have delivered a complete request.
            raise ConnectionLost(str(exc), request_sent=not first) from exc

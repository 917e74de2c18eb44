"""Reading CR-terminated SIP2 frames from a (TLS) socket with deadlines and a size cap."""

from __future__ import annotations

import select
import socket
import ssl
import time

from adapters.sip2.errors import Sip2ProtocolError, Sip2Timeout


class ConnectionLost(Exception):
    """The peer closed or reset the socket. Internal: the connection decides between
    reopening and raising :class:`Sip2Unavailable`. ``request_sent`` is False only when the
    request provably never reached the ACS complete."""

    def __init__(self, reason: str, *, request_sent: bool = True) -> None:
        super().__init__(reason)
        self.request_sent = request_sent


class FrameReader:
    """Splits the byte stream on CR. A LF right after the CR (Koha's default CRLF) and
    empty lines are dropped, so replies parse the same whatever terminator the ACS uses."""

    def __init__(self, sock: socket.socket, max_message_size: int) -> None:
        self._sock = sock
        self._max_message_size = max_message_size
        self._buffer = bytearray()

    def read_frame(self, deadline: float) -> bytes:
        """Next frame without its terminator. Raises :class:`Sip2Timeout` at ``deadline``
        (a ``time.monotonic()`` value), :class:`ConnectionLost` on EOF or reset and
        :class:`Sip2ProtocolError` for a frame over the size cap."""
        while True:
            end = self._buffer.find(b"\r")
            if end > self._max_message_size or (end < 0 and len(self._buffer) > self._max_message_size):
                raise Sip2ProtocolError(f"frame longer than {self._max_message_size} bytes")
            if end >= 0:
                frame = bytes(self._buffer[:end]).lstrip(b"\n")
                del self._buffer[: end + 1]
                if frame:
                    return frame
                continue
            self._buffer += self._receive(deadline)

    def _receive(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Sip2Timeout("no complete reply from the ACS within the read timeout")
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise Sip2Timeout("no complete reply from the ACS within the read timeout") from None
        except OSError as exc:
            raise ConnectionLost(f"connection reset: {exc}") from exc
        if not chunk:
            raise ConnectionLost("the ACS closed the connection")
        return chunk

    def is_idle_and_open(self) -> bool:
        """Cheap liveness check between requests, without a round trip.

        False if the peer closed or reset the socket, or sent anything unsolicited (which
        would be mistaken for the next reply). Stray LFs (the tail of a CRLF) are fine.
        """
        while True:
            if self._buffer.strip(b"\n"):
                return False
            self._buffer.clear()
            pending = isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0
            try:
                readable, _, _ = select.select([self._sock], [], [], 0)
            except (OSError, ValueError):
                return False
            if not readable and not pending:
                return True
            self._sock.settimeout(0)
            try:
                chunk = self._sock.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError):
                return True  # only part of a TLS record (e.g. a session ticket) so far
            except OSError:
                return False
            if not chunk:
                return False
            self._buffer += chunk

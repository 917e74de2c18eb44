"""A scriptable threaded SIP2 ACS on 127.0.0.1 for connection tests.

Deliberately independent of ``adapters.sip2``: replies are literal frames and the checksum is
computed here with the README's two-line algorithm, so a codec bug cannot hide itself by
being on both ends. A responder maps each request frame to a list of actions: bytes to send
(terminator added), :class:`Raw` bytes, :class:`Sleep`, or :data:`CLOSE`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

NOW = b"20250825    143000"
_REQUEST_TRAILER = re.compile(rb"AY([0-9])AZ[0-9A-Fa-f]{4}$")


def sip_checksum(prefix: bytes) -> bytes:
    return b"%04X" % (-sum(prefix) & 0xFFFF)


def sequence_of(request: bytes) -> int | None:
    match = _REQUEST_TRAILER.search(request)
    return int(match.group(1)) if match else None


def reply_to(request: bytes, body: bytes) -> bytes:
    """``body`` with an AY/AZ trailer echoing the request's AY, if the request had one."""
    sequence = sequence_of(request)
    if sequence is None:
        return body
    prefix = body + b"AY%dAZ" % sequence
    return prefix + sip_checksum(prefix)


def corrupt_checksum(frame: bytes) -> bytes:
    last = frame[-1:]
    return frame[:-1] + (b"0" if last != b"0" else b"1")


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Raw:
    """Bytes sent exactly as given (no terminator): partial frames, garbage."""

    data: bytes


CLOSE = object()


@dataclass
class Session:
    """Per-connection state a responder may use (``last_reply`` serves 97)."""

    number: int
    state: dict = field(default_factory=dict)
    last_reply: bytes | None = None


STANDARD_REPLIES: dict[bytes, bytes] = {
    b"93": b"941",
    b"99": b"98YYYYNN60000320250825    1430002.00AOLIB|AMTest Library|BXYYYYYYYYYYYYYYYY|",
    b"23": b"24              000" + NOW + b"AOLIB|AA1001|AEAda Lovelace|BLY|CQY|",
    b"63": b"64              000" + NOW + b"000000000002000000000000AOLIB|AA1001|AEAda Lovelace|BLY|CQY|"
    b"AUitem-1|AUitem-2|",
    b"17": b"1803000120250825    143000ABitem-1|AJA Title|AH20250901    235900|",
    b"29": b"301YNN" + NOW + b"AOLIB|AA1001|ABitem-1|AJA Title|AH20250915    235900|",
    b"65": b"6610002000020250825    143000AOLIB|BMitem-1|BMitem-2|",
    b"15": b"161N" + NOW + b"BR1|AOLIB|AA1001|ABitem-1|",
    b"35": b"36Y" + NOW + b"AOLIB|AA1001|",
}


def standard_acs(request: bytes, session: Session) -> list:
    """A well-behaved ACS: canned replies, 97 answered with the last reply (as pysip2)."""
    command = request[:2]
    if command == b"97":
        return [session.last_reply if session.last_reply is not None else b"96AZFEF6"]
    body = STANDARD_REPLIES.get(command)
    return [] if body is None else [reply_to(request, body)]


Responder = Callable[[bytes, Session], list]


class LoopbackAcs:
    """Threaded ACS. Use as a context manager; ``stop()`` joins every thread it started."""

    def __init__(
        self,
        responder: Responder = standard_acs,
        *,
        port: int = 0,
        terminator: bytes = b"\r",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.responder = responder
        self.terminator = terminator
        self._ssl_context = ssl_context
        self._requested_port = port
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self.received: list[tuple[int, bytes]] = []
        self.sessions = 0
        self.port = 0

    def __enter__(self) -> LoopbackAcs:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._requested_port))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop)

    def stop(self) -> None:
        self._stopping.set()
        self.drop_clients()
        for thread in self._threads:
            thread.join(timeout=5)
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if self._listener is not None:
            self._listener.close()
        assert not stuck, f"loopback threads did not stop: {stuck}"

    def drop_clients(self) -> None:
        """Close every client connection at once, as an ACS restart would."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(OSError):  # already closed by the client
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def frames(self, command: bytes | None = None) -> list[bytes]:
        with self._lock:
            return [frame for _, frame in self.received if command is None or frame[:2] == command]

    def _spawn(self, target: Callable, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"loopback-acs-{target.__name__}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._ssl_context is not None:
                try:
                    client.settimeout(2)
                    client = self._ssl_context.wrap_socket(client, server_side=True)
                except (OSError, ssl.SSLError):
                    client.close()
                    continue
            with self._lock:
                self.sessions += 1
                session = Session(self.sessions)
                self._clients.append(client)
            self._spawn(self._serve, client, session)

    def _serve(self, client: socket.socket, session: Session) -> None:
        buffer = b""
        client.settimeout(0.05)
        try:
            while not self._stopping.is_set():
                try:
                    chunk = client.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk
                while b"\r" in buffer:
                    frame, buffer = buffer.split(b"\r", 1)
                    frame = frame.lstrip(b"\n")
                    with self._lock:
                        self.received.append((session.number, frame))
                    if not self._act(client, session, self.responder(frame, session)):
                        return
        except OSError:
            return
        finally:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            client.close()

    def _act(self, client: socket.socket, session: Session, actions: list) -> bool:
        for action in actions:
            if action is CLOSE:
                return False
            if isinstance(action, Sleep):
                if self._stopping.wait(action.seconds):
                    return False
                continue
            if isinstance(action, Raw):
                client.sendall(action.data)
                continue
            client.sendall(action + self.terminator)
            session.last_reply = action
        return True


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()

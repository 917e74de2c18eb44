"""What the benchmarks share: a freshly seeded demo ILS and copies of it, free loopback ports, and
the demo SIP2 server (adapters/demo/sip2_server.py) in a child process that counts every frame it
receives, by command.

The server runs in its own process, as a real ILS does not share the portal's interpreter (and its
GIL): its CPU is its own (``pid`` for /proc), and the portal's timings do not include it. It is
started with multiprocessing's ``spawn``, so the child imports a clean interpreter, not a fork of
the bench's threads and sockets. The counts live in shared memory, read with :meth:`snapshot`;
"ILS messages" are counted where the ILS sees them, including 93 logins and 97 resends that never
reach the message handling.

    with DemoSip2ServerProcess(database, latency_ms=20) as server:
        before = server.snapshot()
        ...  # traffic to 127.0.0.1:server.port
        sent = {command: n - before[command] for command, n in server.snapshot().items()}
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import time
from pathlib import Path

# The commands counted one by one; any other frame counts as "other".
COMMANDS = ("93", "99", "63", "17", "29", "65", "15", "35", "23", "97")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the demo ILS --------------------------------------------------------------------------------------


def seed_demo_ils(path: Path):
    """The demo ILS at ``path``, freshly seeded (its first use seeds it: about a second, most of it
    hashing the eleven demo passwords). Returns its DemoAdapter."""
    from adapters.demo import DemoAdapter

    demo = DemoAdapter(path)
    demo.today()
    return demo


# --- the demo SIP2 server, in a child process ----------------------------------------------------------


def _serve_counting(database: str, latency_ms: float, user: str, password: str,
                    counts, answer_time, port, ready, stop) -> None:  # pragma: no cover - runs in the child
    """The child process: the demo SIP2 server on a free port, counting every frame into ``counts``."""
    from adapters.demo import DemoAdapter
    from adapters.demo.sip2_server import DemoSip2Server, _Handler

    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it, also on Ctrl-C
    # A thread whose wait is over asks for the GIL; with Python's default switch interval it may wait
    # up to 5 ms for another connection's thread, and the ILS "at 20 ms" answers late.
    sys.setswitchinterval(0.0005)

    class CountingHandler(_Handler):
        def _answer(self, sock, session, frame: bytes, received: float) -> bool:
            command = frame[:2].decode("ascii", "replace")
            index = COMMANDS.index(command) if command in COMMANDS else len(COMMANDS)
            with counts.get_lock():
                counts[index] += 1
            try:
                return super()._answer(sock, session, frame, received)
            finally:
                with answer_time.get_lock():  # arrival to reply sent, as the portal's socket sees it
                    answer_time[0] += time.monotonic() - received
                    answer_time[1] += 1

    server = DemoSip2Server(DemoAdapter(database), port=0, latency_ms=latency_ms, user=user, password=password)
    server._server.RequestHandlerClass = CountingHandler  # the bench's instrument; the server is unchanged
    server.start()
    port.value = server.port
    ready.set()
    try:
        stop.wait()
    finally:
        server.stop()


class DemoSip2ServerProcess:
    """The demo SIP2 server over ``database`` in a child process, delaying every reply by ``latency_ms``.

    ``user``/``password``, when given, are the 93 login it requires. ``start()`` (or ``with``) waits
    until it listens on ``port``; ``stop()`` asks it to stop and kills it if it has not within 10 s.
    """

    def __init__(self, database: Path, latency_ms: float, *, user: str = "", password: str = "") -> None:
        context = multiprocessing.get_context("spawn")
        self._counts = context.Array("q", len(COMMANDS) + 1)
        self._answer_time = context.Array("d", 2)  # seconds from arrival to reply, frames answered
        self._port = context.Value("i", 0)
        self._ready, self._stop = context.Event(), context.Event()
        self._process = context.Process(
            target=_serve_counting,
            args=(str(database), latency_ms, user, password, self._counts, self._answer_time, self._port, self._ready,
                  self._stop),
            name="demo-sip2-server", daemon=True)
        self.port = 0

    @property
    def pid(self) -> int | None:
        """The child's process id once started (for its CPU time in /proc)."""
        return self._process.pid

    def start(self) -> DemoSip2ServerProcess:
        self._process.start()
        if not self._ready.wait(60):
            self._process.kill()
            raise SystemExit("the demo SIP2 server did not start")
        self.port = self._port.value
        return self

    def stop(self) -> None:
        if self._process.pid is None:
            return
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    def __enter__(self) -> DemoSip2ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def snapshot(self) -> dict[str, int]:
        """Frames received so far, by command (in ``COMMANDS`` order, then "other")."""
        with self._counts.get_lock():
            values = list(self._counts)
        return dict(zip((*COMMANDS, "other"), values, strict=True))

    def answer_time(self) -> tuple[float, int]:
        """Seconds from each frame's arrival to its reply, added up, and how many frames: the ILS's own
        reply time, which the ceiling assumes is exactly the latency asked for."""
        with self._answer_time.get_lock():
            return self._answer_time[0], int(self._answer_time[1])

"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, parsed, for the tests.

``SmtpSink`` can also refuse recipients for a while (``refuse``), slow down (``delay``), or hold
the Nth message at the RCPT stage until released (``hold_after``), to stand for a failing or stuck
mail server while a notice run is killed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = False  # answer RCPT with a temporary failure
        self.delay = 0.0  # seconds to wait in DATA, to make runs overlap
        self.hold_after: int | None = None  # hold the RCPT of every message after this many, until released
        self.held = threading.Event()  # set once a message is being held
        self.release = threading.Event()
        self.rcpts = 0
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "451 4.3.0 Mail server temporarily unavailable"
        with self._lock:
            self.rcpts += 1
            hold = self.hold_after is not None and self.rcpts > self.hold_after
        if hold:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
            return "421 4.3.0 Closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()


def body(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


@pytest.fixture
def smtp():
    """A running SMTP sink on 127.0.0.1; ``smtp.port``, ``smtp.sink``."""
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    controller.sink = sink
    controller.port = port
    try:
        yield controller
    finally:
        sink.release.set()
        controller.stop()

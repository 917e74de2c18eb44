"""Mail that a page causes goes out on a background thread, after the response has been sent.

So the forgot-password page answers in the same time whether or not a mail is sent (the whole
lookup runs here, not in the request), and a slow SMTP server never holds a page up. Each job runs
in its own app context. ``drain()`` waits for the queued jobs (tests, and shutdown).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from flask import Flask, current_app

from notifications.mail import MailError, SmtpMailer

log = logging.getLogger(__name__)

OUTBOX_EXTENSION_KEY = "shiori.outbox"
WORKERS = 2


class Outbox:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._pending: set[Future] = set()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():  # a forked worker needs its own threads
                self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="shiori-outbox")
                self._pid = os.getpid()
            return self._executor

    def submit(self, job: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``job(*args, **kwargs)`` later in an app context; its errors are logged, not raised."""
        future = self._pool().submit(self._run, job, args, kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, job: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        with self.app.app_context():
            try:
                return job(*args, **kwargs)
            except Exception:
                log.exception("background mail job %s failed", getattr(job, "__name__", job))
                return None

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every job submitted so far has finished."""
        with self._lock:
            pending = set(self._pending)
        if pending:
            wait(pending, timeout=timeout)


def outbox() -> Outbox:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    box = app.extensions.get(OUTBOX_EXTENSION_KEY)
    if box is None:
        box = app.extensions.setdefault(OUTBOX_EXTENSION_KEY, Outbox(app))
    return box


def send_now(message) -> bool:
    """Send one message with a connection of its own (in a background job). False, logged, on failure."""
    mailer = SmtpMailer(current_app.config)
    try:
        mailer.send(message)
    except MailError as exc:
        log.warning("mail not sent: %s", exc)
        return False
    finally:
        mailer.close()
    return True

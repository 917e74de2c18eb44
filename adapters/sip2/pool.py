"""A bounded, thread-safe pool of logged-in SIP2 connections.

SIP2 is strictly request/reply per socket, so one shared connection would make every
concurrent page view queue behind the slowest one. The pool hands each caller its own
connection, up to ``pool_size``, opening them lazily and outside the pool lock so a slow
ACS login does not block callers that could reuse an idle connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from adapters.sip2.connection import Sip2Connection
from adapters.sip2.errors import Sip2Unavailable
from adapters.sip2.settings import Sip2Settings


@dataclass(frozen=True)
class PoolStats:
    size: int
    open: int
    idle: int

    @property
    def in_use(self) -> int:
        return self.open - self.idle


class Sip2ConnectionPool:
    """``with pool.connection() as conn: conn.transact(...)``.

    An idle connection is checked before reuse: reopened (login + status again) if it has
    been idle longer than ``max_idle_seconds`` or the cheap liveness check says the ACS
    closed it. A connection that failed (and so closed itself) is dropped on return.
    """

    def __init__(
        self,
        settings: Sip2Settings,
        *,
        connection_factory: Callable[[], Sip2Connection] | None = None,
    ) -> None:
        self.settings = settings
        self._new_connection = connection_factory or (lambda: Sip2Connection(settings))
        self._condition = threading.Condition()
        self._idle: list[Sip2Connection] = []  # a stack: the most recently used is warmest
        self._counted = 0  # idle + lent out + being opened
        self._closed = False

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Sip2Connection]:
        """Lend a logged-in connection. Waits up to ``timeout`` (default
        ``settings.pool_timeout``) for a free slot, then raises :class:`Sip2Unavailable`;
        opening raises what :meth:`Sip2Connection.open` raises."""
        connection = self._acquire(self.settings.pool_timeout if timeout is None else timeout)
        try:
            yield connection
        finally:
            self._release(connection)

    def stats(self) -> PoolStats:
        with self._condition:
            return PoolStats(size=self.settings.pool_size, open=self._counted, idle=len(self._idle))

    def close(self) -> None:
        """Close idle connections now and lent ones when they come back; refuse new loans."""
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._counted -= len(idle)
            self._condition.notify_all()
        for connection in idle:
            connection.close()

    def _acquire(self, timeout: float) -> Sip2Connection:
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                if self._closed:
                    raise Sip2Unavailable("the SIP2 connection pool is closed")
                if self._idle:
                    connection: Sip2Connection | None = self._idle.pop()
                    break
                if self._counted < self.settings.pool_size:
                    self._counted += 1
                    connection = None
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Sip2Unavailable(f"all {self.settings.pool_size} SIP2 connections busy for {timeout:g}s")
                self._condition.wait(remaining)
        try:
            if connection is None:
                connection = self._new_connection()
            if not self._fit_for_reuse(connection):
                connection.open()
        except BaseException:
            if connection is not None:
                connection.close()
            self._forget_one()
            raise
        return connection

    def _fit_for_reuse(self, connection: Sip2Connection) -> bool:
        return (
            connection.is_open and connection.idle_seconds <= self.settings.max_idle_seconds and connection.is_alive()
        )

    def _release(self, connection: Sip2Connection) -> None:
        with self._condition:
            if connection.is_open and not self._closed:
                self._idle.append(connection)
                self._condition.notify()
                return
        connection.close()
        self._forget_one()

    def _forget_one(self) -> None:
        with self._condition:
            self._counted -= 1
            self._condition.notify()

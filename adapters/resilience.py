"""What stands between the portal and a failing ILS: a circuit breaker, switched-off features
during maintenance windows, and a timing hook for metrics.

``GuardedAdapter`` wraps the configured adapter and is what ``extensions.ils()`` returns. After
``threshold`` consecutive ``IlsUnavailable`` errors it stops calling the ILS for ``reset_seconds``
and answers "unavailable" at once, so a dead ILS costs patrons no waiting and workers no threads;
then one probe call is let through, and success closes the circuit again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from adapters.base import IlsAdapter
from adapters.errors import IlsUnavailable
from adapters.models import Capability

log = logging.getLogger(__name__)

# The contract's operations that reach the ILS; each is timed and guarded.
GUARDED_OPERATIONS = frozenset(
    {
        "authenticate", "patron", "find_patron", "end_session", "account_summary", "change_password",
        "set_password", "set_patron_email", "loans", "renew", "renew_all", "holds", "pickup_locations", "place_hold",
        "cancel_holds", "suspend_hold", "resume_hold", "search", "record", "check_ready",
        "change_pickup", "hold_limit", "series_volumes",
    }
)
CallObserver = Callable[[str, float, str], None]  # (operation, seconds, outcome)


class CircuitOpen(IlsUnavailable):
    """Raised without calling the ILS while the circuit is open."""


class CircuitBreaker:
    """Thread-safe consecutive-failure breaker: closed -> open -> (one probe) -> closed or open."""

    def __init__(self, threshold: int = 5, reset_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go to the ILS now."""
        with self._lock:
            if self._opened_at is None:
                return
            if self._probing or self.clock() - self._opened_at < self.reset_seconds:
                raise CircuitOpen("the library system is unavailable (circuit open)")
            self._probing = True  # this caller is the probe

    def record(self, ils_failed: bool) -> None:
        with self._lock:
            self._probing = False
            if not ils_failed:
                if self._opened_at is not None:
                    log.info("ILS answered again: circuit closed")
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._opened_at is not None or self._failures >= self.threshold:
                if self._opened_at is None:
                    log.warning("ILS failed %d times in a row: circuit open for %ss", self._failures, self.reset_seconds)
                self._opened_at = self.clock()


class GuardedAdapter(IlsAdapter):
    """Delegates to ``inner``; guards and times the operations in GUARDED_OPERATIONS."""

    name = "guarded"

    def __init__(
        self,
        inner: IlsAdapter,
        breaker: CircuitBreaker | None = None,
        disabled_now: Callable[[], frozenset[Capability]] = frozenset,
        observer: CallObserver | None = None,
    ) -> None:
        self.inner = inner
        self.breaker = breaker or CircuitBreaker()
        self.disabled_now = disabled_now
        self.observer = observer

    @classmethod
    def from_config(cls, config):  # pragma: no cover - built by app.register_adapter
        raise TypeError("GuardedAdapter wraps an adapter; it is not configured by name")

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        return self.inner.capabilities - self.disabled_now()

    def today(self):
        return self.inner.today()

    def close(self) -> None:
        self.inner.close()

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        self.breaker.before_call()
        started = time.perf_counter()
        outcome = "ok"
        try:
            return getattr(self.inner, operation)(*args, **kwargs)
        except IlsUnavailable:
            outcome = "unavailable"
            raise
        except Exception as error:
            outcome = type(error).__name__
            raise
        finally:
            self.breaker.record(ils_failed=outcome == "unavailable")
            if self.observer is not None:
                self.observer(operation, time.perf_counter() - started, outcome)

    def __getattr__(self, attribute: str) -> Any:
        """Adapter-specific extras (the demo's checkin, ...) pass straight through."""
        return getattr(self.inner, attribute)


def _guarded(operation: str):
    def method(self, *args, **kwargs):
        if operation in {"renew", "renew_all"}:
            self.require(Capability.RENEW if operation == "renew" else Capability.RENEW_ALL)
        elif operation in {"place_hold", "cancel_holds"}:
            self.require(Capability.PLACE_HOLD if operation == "place_hold" else Capability.CANCEL_HOLD)
        elif operation in {"suspend_hold", "resume_hold"}:
            self.require(Capability.SUSPEND_HOLD)
        elif operation == "change_pickup":
            self.require(Capability.CHANGE_PICKUP)
        return self._call(operation, *args, **kwargs)

    method.__name__ = operation
    method.__doc__ = getattr(IlsAdapter, operation).__doc__
    return method


for _operation in GUARDED_OPERATIONS:
    setattr(GuardedAdapter, _operation, _guarded(_operation))
GuardedAdapter.__abstractmethods__ = frozenset()

"""Item information (17/18) for many items at once: cached, shared while in flight, fetched in parallel.

A loans page for 30 loans needs 30 item lookups, since a 64 lists only item ids. One after
another that is 30 round trips; here the missing ones go out together on up to ``workers``
pooled connections, and answers are kept for ``ttl`` seconds (a cachetools ``TTLCache`` behind
a lock). A lookup already in flight (a prefetch started at login, or another page view) is
joined rather than sent twice. The portal's own renewals and holds invalidate the items they
touch; an invalidation that races a lookup already in flight wins, so a reply read before a
renewal is never cached, nor handed to a lookup that started after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from cachetools import TTLCache

from adapters.sip2.responses import ItemInformation

T = TypeVar("T")
MAX_CACHED_ITEMS = 20_000

log = logging.getLogger(__name__)


class ParallelRunner:
    """A small thread pool (as many threads as pooled connections) for independent SIP2 requests.

    Tasks must not submit tasks themselves, nor wait on other tasks (a full pool would wait on
    itself). ``run`` does its first call in the caller's thread, so a request never queues
    entirely behind background work.
    """

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sip2")

    def submit(self, call: Callable[[], T]) -> Future[T]:
        return self._executor.submit(call)

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Results in order; the first exception (in call order) is raised once all have ended."""
        if len(calls) <= 1:
            return [call() for call in calls]
        futures: list[Future[T]] = [self._executor.submit(call) for call in calls[1:]]
        here: Future[T] = Future()
        _settle(here, calls[0])
        return _gather([here, *futures])

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _settle(future: Future[T], call: Callable[[], T]) -> None:
    """Run ``call`` in this thread and put its result or exception in ``future``."""
    try:
        future.set_result(call())
    except BaseException as exc:  # handed to whoever waits on the future
        future.set_exception(exc)


def _gather(futures: Sequence[Future[T]]) -> list[T]:
    """Every result in order; the first exception (in order) is raised once all have ended."""
    results: list[Any] = []
    error: BaseException | None = None
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as exc:  # the first one wins, after every call has ended
            error = error or exc
            results.append(None)
    if error is not None:
        raise error
    return results


class ItemLookup:
    """``lookup(ids)`` -> ``{id: ItemInformation}``, from the cache where fresh enough;
    ``prefetch(ids)`` starts the missing lookups in the background and returns at once."""

    def __init__(self, fetch: Callable[[str], ItemInformation], runner: ParallelRunner, *, ttl: float) -> None:
        self.on_lookup: Callable[[bool], None] | None = None  # told hit (True) or miss of every lookup
        self._fetch = fetch
        self._runner = runner
        self._lock = threading.Lock()
        self._cache: TTLCache[str, ItemInformation] | None = TTLCache(MAX_CACHED_ITEMS, ttl) if ttl > 0 else None
        # Fetches under way, by item. An invalidation removes the entry, so a fetch that finds itself
        # no longer registered when it ends knows its answer predates the change.
        self._in_flight: dict[str, Future[ItemInformation]] = {}

    def lookup(
        self, item_ids: Iterable[str], *, stale: Callable[[str, ItemInformation], bool] | None = None
    ) -> dict[str, ItemInformation]:
        """Item information for each id. A cached answer for which ``stale(item_id, info)`` is true is
        fetched anew (a hold listed as ready whose cached 18 predates the hold shelf); one in flight
        is fresh enough. Errors propagate, also those of a joined prefetch."""
        wanted = list(dict.fromkeys(item_ids))
        found: dict[str, ItemInformation] = {}
        waiting: dict[str, Future[ItemInformation]] = {}
        to_send: list[tuple[str, Future[ItemInformation]]] = []
        with self._lock:
            for item_id in wanted:
                info = self._cache.get(item_id) if self._cache is not None else None
                if info is not None and not (stale is not None and stale(item_id, info)):
                    found[item_id] = info
                elif item_id in self._in_flight:
                    waiting[item_id] = self._in_flight[item_id]
                else:
                    future = waiting[item_id] = self._start(item_id)
                    to_send.append((item_id, future))
        if self.on_lookup is not None:
            for item_id in wanted:
                self.on_lookup(item_id in found)
        # The last one is fetched in this thread: no hand-off for a single item, one thread fewer for many.
        for item_id, future in to_send[:-1]:
            self._send(item_id, future)
        if to_send:
            self._settle(*to_send[-1])
        fetched = _gather(list(waiting.values()))
        found.update(zip(waiting, fetched, strict=True))
        return {item_id: found[item_id] for item_id in wanted}

    def prefetch(self, item_ids: Iterable[str]) -> int:
        """Start looking up the items neither cached nor in flight; returns how many were started.
        Failures are only logged: the page that needs the item will ask again."""
        to_send = []
        with self._lock:
            for item_id in dict.fromkeys(item_ids):
                cached = self._cache is not None and self._cache.get(item_id) is not None
                if not cached and item_id not in self._in_flight:
                    to_send.append((item_id, self._start(item_id)))
        for item_id, future in to_send:
            self._send(item_id, future)
        return len(to_send)

    def get(self, item_id: str) -> ItemInformation:
        return self.lookup([item_id])[item_id]

    def invalidate(self, item_ids: Iterable[str]) -> None:
        with self._lock:
            for item_id in item_ids:
                self._forget(item_id)

    def clear(self) -> None:
        with self._lock:
            for item_id in [*(self._cache or ()), *self._in_flight]:
                self._forget(item_id)

    def in_flight(self) -> int:
        """How many lookups are out now (prefetches included)."""
        with self._lock:
            return len(self._in_flight)

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache) if self._cache is not None else 0

    # --- under the lock or in the fetching thread -----------------------------------------

    def _start(self, item_id: str) -> Future[ItemInformation]:
        """A future for a fetch about to be sent, joinable by later lookups (lock held)."""
        future: Future[ItemInformation] = Future()
        self._in_flight[item_id] = future
        return future

    def _forget(self, item_id: str) -> None:
        """Drop the cached answer and detach a fetch in flight, whose answer will not be cached (lock held)."""
        if self._cache is not None:
            self._cache.pop(item_id, None)
        self._in_flight.pop(item_id, None)

    def _send(self, item_id: str, future: Future[ItemInformation]) -> None:
        """Fetch on the runner's threads. If the runner drops the work (the adapter is closing),
        the lookup's future is cancelled, so nobody waits on it for ever."""

        def dropped(work: Future[None]) -> None:
            if work.cancelled():
                self._abandon(item_id, future)

        try:
            self._runner.submit(lambda: self._settle(item_id, future)).add_done_callback(dropped)
        except RuntimeError:  # the runner is shut down already
            self._abandon(item_id, future)

    def _abandon(self, item_id: str, future: Future[ItemInformation]) -> None:
        self._unregister(item_id, future)
        future.cancel()

    def _unregister(self, item_id: str, future: Future[ItemInformation]) -> bool:
        """End ``future``'s turn as the fetch in flight; False if an invalidation detached it already."""
        with self._lock:
            registered = self._in_flight.get(item_id) is future
            if registered:
                del self._in_flight[item_id]
            return registered

    def _settle(self, item_id: str, future: Future[ItemInformation]) -> None:
        """Fetch, then cache the answer unless the item was invalidated meanwhile."""
        try:
            info = self._fetch(item_id)
        except BaseException as exc:
            self._unregister(item_id, future)
            log.debug("SIP2 item lookup failed: %s", exc)
            future.set_exception(exc)
            return
        with self._lock:
            if self._in_flight.get(item_id) is future:  # not invalidated while it was out
                del self._in_flight[item_id]
                if self._cache is not None:
                    self._cache[item_id] = info
        future.set_result(info)

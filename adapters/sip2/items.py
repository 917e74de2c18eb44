"""Item information (17/18) for many items at once: cached, and fetched in parallel over the pool.

A loans page for 30 loans needs 30 item lookups, since a 64 lists only item ids. One after
another that is 30 round trips; here the missing ones go out together on up to ``workers``
pooled connections, and answers are kept for ``ttl`` seconds (a cachetools ``TTLCache`` behind
a lock). The portal's own renewals and holds invalidate the items they touch; an invalidation
that races a lookup already in flight wins, so a reply read before a renewal is never cached
after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from cachetools import TTLCache

from adapters.sip2.responses import ItemInformation

T = TypeVar("T")
MAX_CACHED_ITEMS = 20_000
# How long an invalidation is remembered: longer than any lookup can be in flight.
INVALIDATION_MEMORY_SECONDS = 600


class ParallelRunner:
    """A small thread pool (as many threads as pooled connections) for independent SIP2 requests.

    Tasks must not submit tasks themselves (a full pool would wait on itself). A single call runs
    in the caller's thread.
    """

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sip2")

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Results in order; the first exception (in call order) is raised once all have ended."""
        if len(calls) <= 1:
            return [call() for call in calls]
        futures: list[Future[T]] = [self._executor.submit(call) for call in calls]
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

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class ItemLookup:
    """``lookup(ids)`` -> ``{id: ItemInformation}``, from the cache where fresh enough."""

    def __init__(self, fetch: Callable[[str], ItemInformation], runner: ParallelRunner, *, ttl: float) -> None:
        self.on_lookup: Callable[[bool], None] | None = None  # told hit (True) or miss of every lookup
        self._fetch = fetch
        self._runner = runner
        self._lock = threading.Lock()
        self._cache: TTLCache[str, ItemInformation] | None = TTLCache(MAX_CACHED_ITEMS, ttl) if ttl > 0 else None
        self._invalidated: TTLCache[str, int] = TTLCache(MAX_CACHED_ITEMS, INVALIDATION_MEMORY_SECONDS)
        self._generation = 0

    def lookup(
        self, item_ids: Iterable[str], *, stale: Callable[[str, ItemInformation], bool] | None = None
    ) -> dict[str, ItemInformation]:
        """Item information for each id. A cached answer for which ``stale(item_id, info)`` is true is
        fetched anew (a hold listed as ready whose cached 18 predates the hold shelf). Errors propagate."""
        wanted = list(dict.fromkeys(item_ids))
        found: dict[str, ItemInformation] = {}
        missing: list[str] = []
        with self._lock:
            for item_id in wanted:
                info = self._cache.get(item_id) if self._cache is not None else None
                if info is not None and not (stale is not None and stale(item_id, info)):
                    found[item_id] = info
                else:
                    missing.append(item_id)
            marks = {item_id: self._invalidated.get(item_id, 0) for item_id in missing}
        if self.on_lookup is not None:
            for _ in found:
                self.on_lookup(True)
            for _ in missing:
                self.on_lookup(False)
        fetched = self._runner.run([lambda item_id=item_id: self._fetch(item_id) for item_id in missing])
        with self._lock:
            for item_id, info in zip(missing, fetched, strict=True):
                found[item_id] = info
                if self._cache is not None and self._invalidated.get(item_id, 0) == marks[item_id]:
                    self._cache[item_id] = info
        return {item_id: found[item_id] for item_id in wanted}

    def get(self, item_id: str) -> ItemInformation:
        return self.lookup([item_id])[item_id]

    def invalidate(self, item_ids: Iterable[str]) -> None:
        with self._lock:
            for item_id in item_ids:
                self._generation += 1
                self._invalidated[item_id] = self._generation
                if self._cache is not None:
                    self._cache.pop(item_id, None)

    def clear(self) -> None:
        with self._lock:
            if self._cache is not None:
                for item_id in list(self._cache):
                    self._generation += 1
                    self._invalidated[item_id] = self._generation
                self._cache.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache) if self._cache is not None else 0

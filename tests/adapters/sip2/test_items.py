"""ItemLookup and ParallelRunner without a socket: a fetch function the test holds back, so that
the orders that matter (a lookup joining one in flight, an invalidation racing it) happen for sure."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from adapters.sip2.items import ItemLookup, ParallelRunner


class HeldFetch:
    """``fetch(item_id)`` that waits until the test releases that item; counts calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.started = threading.Semaphore(0)
        self._release: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.version = 0

    def gate(self, item_id: str) -> threading.Event:
        with self._lock:
            return self._release.setdefault(item_id, threading.Event())

    def __call__(self, item_id: str):
        with self._lock:
            self.calls[item_id] += 1
            answer = (item_id, self.version)
        self.started.release()
        if not self.gate(item_id).wait(5):
            raise TimeoutError(item_id)
        if item_id.startswith("bad"):
            raise ConnectionError(item_id)
        return answer


@pytest.fixture
def runner():
    made = ParallelRunner(4)
    yield made
    made.close()


def in_thread(call):
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", call()), daemon=True)
    thread.start()
    return thread, result


def test_a_lookup_joins_a_prefetch_in_flight_instead_of_sending_again(runner):
    fetch = HeldFetch()
    items = ItemLookup(fetch, runner, ttl=60)
    assert items.prefetch(["a", "b"]) == 2
    for _ in range(2):
        assert fetch.started.acquire(timeout=5)
    thread, result = in_thread(lambda: items.lookup(["a", "b", "c"]))
    assert fetch.started.acquire(timeout=5)  # only "c" is sent by the lookup itself
    for item_id in "abc":
        fetch.gate(item_id).set()
    thread.join(5)
    assert result["value"] == {"a": ("a", 0), "b": ("b", 0), "c": ("c", 0)}
    assert fetch.calls == {"a": 1, "b": 1, "c": 1}
    assert items.prefetch(["a", "b", "c"]) == 0, "all cached now"


def test_an_invalidation_while_in_flight_is_not_undone_by_the_late_answer(runner):
    fetch = HeldFetch()
    items = ItemLookup(fetch, runner, ttl=60)
    items.prefetch(["a"])
    assert fetch.started.acquire(timeout=5)
    fetch.version = 1  # the renewal changes the item...
    items.invalidate(["a"])  # ...and invalidates it while the old answer is on its way
    thread, result = in_thread(lambda: items.get("a"))
    assert fetch.started.acquire(timeout=5), "a lookup after the invalidation sends anew"
    fetch.gate("a").set()
    thread.join(5)
    assert result["value"] == ("a", 1)
    assert fetch.calls["a"] == 2
    assert items.get("a") == ("a", 1), "the answer from before the invalidation was not cached"


def test_a_failed_prefetch_is_forgotten_and_a_failed_lookup_raises(runner):
    fetch = HeldFetch()
    fetch.gate("bad").set()
    items = ItemLookup(fetch, runner, ttl=60)
    items.prefetch(["bad"])
    assert fetch.started.acquire(timeout=5)
    with pytest.raises(ConnectionError):
        items.get("bad")
    assert fetch.calls["bad"] >= 1 and len(items) == 0


def test_without_a_cache_lookups_still_share_what_is_in_flight(runner):
    fetch = HeldFetch()
    items = ItemLookup(fetch, runner, ttl=0)
    items.prefetch(["a"])
    assert fetch.started.acquire(timeout=5)
    thread, result = in_thread(lambda: items.get("a"))
    fetch.gate("a").set()
    thread.join(5)
    assert result["value"] == ("a", 0) and fetch.calls["a"] == 1
    assert items.get("a") == ("a", 0) and fetch.calls["a"] == 2, "nothing kept without a cache"


def test_the_runner_keeps_order_and_raises_the_first_error_after_all_ended(runner):
    ended = []

    def call(n):
        def run():
            ended.append(n)
            if n in (2, 3):
                raise ValueError(n)
            return n
        return run

    assert runner.run([call(n) for n in (0, 1)]) == [0, 1]
    with pytest.raises(ValueError, match="2"):
        runner.run([call(n) for n in range(6)])
    assert sorted(ended) == [0, 0, 1, 1, 2, 3, 4, 5], "every call ran although two failed"


def test_lookups_left_queued_when_the_adapter_closes_end_instead_of_hanging():
    fetch = HeldFetch()
    runner = ParallelRunner(1)
    items = ItemLookup(fetch, runner, ttl=60)
    items.prefetch(["a", "b", "c"])  # one thread: "a" runs, "b" and "c" wait in the queue
    assert fetch.started.acquire(timeout=5)
    queued = items._in_flight["b"]  # what a page view asking for "b" now would wait on
    closing = threading.Thread(target=runner.close)
    closing.start()
    fetch.gate("a").set()
    closing.join(5)
    assert queued.cancelled(), "a page joining it would have waited for ever"
    assert items.in_flight() == 0 and fetch.calls == {"a": 1}

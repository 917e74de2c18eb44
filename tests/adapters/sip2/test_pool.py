"""Sip2ConnectionPool: distinct connections under concurrency, bounded waits, reuse checks."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.sip2.builders import patron_information_request
from adapters.sip2.errors import Sip2ProtocolError, Sip2Unavailable
from adapters.sip2.pool import Sip2ConnectionPool
from tests.adapters.sip2.conftest import make_settings
from tests.adapters.sip2.loopback import STANDARD_REPLIES, LoopbackAcs, Raw, Sleep, reply_to, standard_acs, wait_until

pytestmark = pytest.mark.usefixtures("no_leaks")


def lookup(conn):
    return conn.transact(patron_information_request("LIB", "1001"))


def run_in_threads(count, target):
    errors: list[BaseException] = []

    def guarded():
        try:
            target()
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_concurrent_callers_get_distinct_connections_up_to_the_pool_size(acs):
    pool = Sip2ConnectionPool(make_settings(acs.port, pool_size=3))
    all_holding = threading.Barrier(3, timeout=3)
    lent: list[int] = []

    def borrow_and_hold():
        with pool.connection() as conn:
            lookup(conn)
            lent.append(id(conn))
            all_holding.wait()

    try:
        run_in_threads(3, borrow_and_hold)
        assert len(set(lent)) == 3
        assert acs.sessions == 3
        assert pool.stats().idle == 3
        with pool.connection() as conn:  # idle connections are reused, not reopened
            lookup(conn)
        assert acs.sessions == 3
    finally:
        pool.close()
    assert pool.stats().open == 0


def test_acquire_waits_at_most_the_timeout_when_all_are_lent(acs):
    pool = Sip2ConnectionPool(make_settings(acs.port, pool_size=1, pool_timeout=0.2))
    try:
        with pool.connection():
            started = time.monotonic()
            with pytest.raises(Sip2Unavailable, match="busy"), pool.connection():
                pass
            assert 0.15 < time.monotonic() - started < 1.0
        with pool.connection() as conn:  # the slot came back
            lookup(conn)
    finally:
        pool.close()


def test_a_waiting_caller_gets_the_connection_released_meanwhile(acs):
    pool = Sip2ConnectionPool(make_settings(acs.port, pool_size=1, pool_timeout=2))
    released = threading.Event()

    def hold_briefly():
        with pool.connection():
            time.sleep(0.2)
        released.set()

    holder = threading.Thread(target=hold_briefly)
    try:
        holder.start()
        assert wait_until(lambda: pool.stats().in_use == 1)
        with pool.connection() as conn:
            assert released.is_set()
            lookup(conn)
    finally:
        holder.join(timeout=5)
        pool.close()
    assert acs.sessions == 1


def test_slow_requests_run_in_parallel_not_queued_behind_one_socket():
    def slow(request, session):
        if request[:2] == b"63":
            return [Sleep(0.4), reply_to(request, STANDARD_REPLIES[b"63"])]
        return standard_acs(request, session)

    with LoopbackAcs(slow) as server:
        pool = Sip2ConnectionPool(make_settings(server.port, pool_size=3))

        def use():
            with pool.connection() as conn:
                lookup(conn)

        try:
            started = time.monotonic()
            run_in_threads(3, use)
            assert time.monotonic() - started < 1.0  # serialised would take 1.2 s
        finally:
            pool.close()


def test_idle_connection_closed_by_the_acs_is_reopened(acs):
    pool = Sip2ConnectionPool(make_settings(acs.port, pool_size=1))
    try:
        with pool.connection() as conn:
            lookup(conn)
        acs.drop_clients()
        with pool.connection() as conn:
            lookup(conn)
        assert acs.sessions == 2
    finally:
        pool.close()


def test_connection_idle_too_long_is_reopened(acs):
    pool = Sip2ConnectionPool(make_settings(acs.port, pool_size=1, max_idle_seconds=0.05))
    try:
        with pool.connection() as conn:
            lookup(conn)
        time.sleep(0.1)
        with pool.connection() as conn:
            lookup(conn)
        assert acs.sessions == 2
        assert [frame[:2] for frame in acs.frames()] == [b"93", b"99", b"63", b"93", b"99", b"63"]
    finally:
        pool.close()


def test_failed_connection_is_not_put_back():
    def garbage(request, session):
        return [Raw(b"garbage\r")] if request[:2] == b"63" else standard_acs(request, session)

    with LoopbackAcs(garbage) as server:
        pool = Sip2ConnectionPool(make_settings(server.port, pool_size=2))
        try:
            with pytest.raises(Sip2ProtocolError), pool.connection() as conn:
                lookup(conn)
            assert pool.stats().open == 0
        finally:
            pool.close()


def test_failure_to_open_frees_the_slot():
    with LoopbackAcs() as server:
        port = server.port
    pool = Sip2ConnectionPool(make_settings(port, pool_size=1))
    for _ in range(3):  # would hang on the second try if the slot leaked
        with pytest.raises(Sip2Unavailable, match="cannot connect"), pool.connection():
            pass
    assert pool.stats().open == 0


def test_closed_pool_refuses_loans_and_closes_returned_connections(acs):
    pool = Sip2ConnectionPool(make_settings(acs.port, pool_size=2))
    with pool.connection() as conn:
        lookup(conn)
        pool.close()
    assert not conn.is_open
    with pytest.raises(Sip2Unavailable, match="closed"), pool.connection():
        pass

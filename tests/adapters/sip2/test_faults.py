"""Faults at the adapter's level: each ends in ``IlsUnavailable`` or a recovered connection, within
the timeouts, with no thread or socket left behind (``no_leaks``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from adapters.demo.sip2_server import DemoSip2Server
from adapters.errors import IlsUnavailable
from adapters.sip2 import Sip2Adapter
from tests.adapters.sip2.conftest import SIP2_PASSWORD, SIP2_USER, credentials, sip2_config
from tests.adapters.sip2.loopback import CLOSE, LoopbackAcs, Raw, Sleep
from tests.adapters.sip2.test_connection import scripted

pytestmark = pytest.mark.usefixtures("no_leaks")


def free_port() -> int:
    with LoopbackAcs() as acs:
        return acs.port


def serve(demo, **options) -> DemoSip2Server:
    """The demo ILS's SIP2 server, with the portal's SIP2 login (on a free port unless ``port`` is given)."""
    return DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD, **options)


@contextmanager
def logged_in_then_stopped(demo) -> Iterator[tuple[Sip2Adapter, str, int]]:
    """An adapter that logged the regular patron in through a demo SIP2 server that has stopped
    since: (the adapter, the patron's key, the port to serve on again). Closed afterwards."""
    with serve(demo) as server:
        adapter = Sip2Adapter.from_config(sip2_config(server.port, demo))
        patron = adapter.authenticate(*credentials("regular"))
    try:
        yield adapter, patron.key, server.port
    finally:
        adapter.close()


def test_server_down_at_start_then_up(demo):
    port = free_port()
    adapter = Sip2Adapter.from_config(sip2_config(port, demo))  # the portal starts: nothing connects yet
    try:
        started = time.monotonic()
        with pytest.raises(IlsUnavailable):
            adapter.authenticate(*credentials("regular"))
        assert time.monotonic() - started < 2
        with serve(demo, port=port):
            assert adapter.authenticate(*credentials("regular")).display_name
    finally:
        adapter.close()


def test_server_slower_than_the_read_timeout(demo):
    with serve(demo, latency_ms=800) as server:
        adapter = Sip2Adapter.from_config(sip2_config(server.port, demo, SIP2_READ_TIMEOUT=0.3))
        try:
            started = time.monotonic()
            with pytest.raises(IlsUnavailable):
                adapter.authenticate(*credentials("regular"))
            assert time.monotonic() - started < 1.5
        finally:
            adapter.close()


def test_a_slow_reply_to_an_item_lookup_fails_the_page_cleanly(demo):
    def slow_17(request, session, nth):
        return [Sleep(1.0)]

    with LoopbackAcs(scripted({b"17": slow_17})) as acs:
        adapter = Sip2Adapter.from_config(sip2_config(acs.port, SIP2_INSTITUTION="LIB", SIP2_READ_TIMEOUT=0.3))
        try:
            with pytest.raises(IlsUnavailable):
                adapter.loans("1001")
        finally:
            adapter.close()


@pytest.mark.parametrize("garbage", [b"\x00\xff\xfe garbage\r", b"64not a patron reply\r", b"xyzzy" * 20000])
def test_garbage_from_the_acs(garbage):
    def junk(request, session, nth):
        return [Raw(garbage)]

    with LoopbackAcs(scripted({b"63": junk})) as acs:
        adapter = Sip2Adapter.from_config(sip2_config(acs.port, SIP2_INSTITUTION="LIB", SIP2_READ_TIMEOUT=0.5))
        try:
            with pytest.raises(IlsUnavailable):
                adapter.authenticate("1001", "1234")
        finally:
            adapter.close()


def test_connection_closed_mid_message():
    def half_then_close(request, session, nth):
        return [Raw(b"64              00020250825    1430000000"), CLOSE]

    with LoopbackAcs(scripted({b"63": half_then_close})) as acs:
        adapter = Sip2Adapter.from_config(sip2_config(acs.port, SIP2_INSTITUTION="LIB"))
        try:
            with pytest.raises(IlsUnavailable):
                adapter.patron("1001")
            assert len(acs.frames(b"63")) == 2, "a read is retried once on a fresh connection"
        finally:
            adapter.close()


def test_server_restart_between_requests(demo):
    with logged_in_then_stopped(demo) as (adapter, key, port):
        with pytest.raises(IlsUnavailable):  # down: every pooled connection is dead
            adapter.loans(key)
        with serve(demo, port=port):
            assert len(adapter.loans(key)) == 3  # recovered


def test_restart_while_idle_is_invisible(demo):
    with logged_in_then_stopped(demo) as (adapter, key, port), serve(demo, port=port):
        assert len(adapter.loans(key)) == 3

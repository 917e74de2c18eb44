"""The whole portal with ``ADAPTER="sip2"``, pointed at the demo ILS's SIP2 server: a patron logs in
through the form, sees loans and holds with titles and due dates, renews, places and cancels a hold
and logs out; the pages SIP2 cannot serve say what to do instead."""

from __future__ import annotations

import re

import pytest

from adapters.demo.seed import BY_CASE
from adapters.sip2 import Sip2Adapter
from app import create_app
from tests.adapters.sip2.conftest import close_portal, english_client, page, sip2_config
from tests.adapters.sip2.loopback import LoopbackAcs
from tests.conftest import AuthActions

REGULAR = BY_CASE["regular"]


def make_app(app_config, demo_db, port: int, demo=None):
    app_config.update({"ADAPTER": "sip2", "DEMO_DATABASE": str(demo_db), **sip2_config(port, demo)})
    return create_app(app_config)


@pytest.fixture
def sip2_app(app_config, demo_db, demo_sip2, demo):
    app = make_app(app_config, demo_db, demo_sip2.port, demo)
    yield app
    close_portal(app)


@pytest.fixture
def client(sip2_app):  # tests/conftest.py's ``auth`` logs in with it
    return english_client(sip2_app)


def test_login_loans_renew_holds_and_logout(sip2_app, client, auth, demo, demo_sip2):
    adapter = sip2_app.extensions["shiori.adapter"]
    assert isinstance(getattr(adapter, "inner", adapter), Sip2Adapter)  # the app may wrap it (circuit breaker)
    response = auth.login(REGULAR.card, REGULAR.password)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    menu = page(client.get("/"))
    assert REGULAR.name in menu and "3 books borrowed" in menu
    loans = demo.loans(REGULAR.key)
    text = page(client.get("/loans"))
    for loan in loans:
        assert loan.title in text
    assert "Renewal is checked when you try" in text
    assert 'value="Renew all"' in text or ">Renew all<" in text
    first = loans[0].item_id
    response = auth.post_form("/loans", "/loans/renew", {"action": "selected", "loan": first})
    assert response.status_code == 302
    assert "Renewed. New due date" in page(client.get("/loans"))
    holds = page(client.get("/holds"))
    for hold in demo.holds(REGULAR.key):
        assert hold.title in holds
    record = demo_sip2.acs.demo.loans(BY_CASE["english"].key)[0].item_id
    form = page(client.get(f"/holds/new?record={record}"))
    pickup = re.search(r'<option[^>]*value="([^"]+)"', form).group(1)
    response = auth.post_form(f"/holds/new?record={record}", "/holds/new",
                              {"record": record, "pickup_location": pickup})
    assert response.status_code == 302, page(response)
    assert len(demo.holds(REGULAR.key)) == 3
    placed = next(hold for hold in demo.holds(REGULAR.key) if hold.pickup_location.location_id == pickup
                  and hold.record_id not in {h.record_id for h in demo.holds(BY_CASE["english"].key)})
    listed = re.findall(r'name="hold" value="([^"]+)"', page(client.get("/holds")))
    assert len(listed) == 3
    response = auth.post_form("/holds", "/holds/cancel", {"hold": listed})
    assert response.status_code == 302
    assert placed.hold_id not in {hold.hold_id for hold in demo.holds(REGULAR.key)}
    response = auth.logout()
    assert response.status_code == 302


def test_change_password_and_search_say_what_to_do_instead(client, auth):
    auth.login(REGULAR.card, REGULAR.password)
    password = client.get("/settings/password")
    assert password.status_code == 200 and "Passwords cannot be changed online" in page(password)
    search = client.get("/search?q=cat")
    assert search.status_code == 200 and "The catalogue cannot be searched here" in page(search)
    first_login = BY_CASE["first-login"]
    auth.logout()
    response = auth.login(first_login.card, first_login.password)
    assert response.headers["Location"] == "/", "no forced password change the portal could not carry out"


def test_the_portal_starts_while_the_ils_is_down(app_config, demo_db):
    with LoopbackAcs() as acs:
        port = acs.port
    app = make_app(app_config, demo_db, port)
    try:
        client = english_client(app)
        assert client.get("/login").status_code == 200
        response = AuthActions(client).login(REGULAR.card, REGULAR.password)
        assert response.status_code == 503
        assert "The library system is unavailable" in page(response)
    finally:
        close_portal(app)


def test_item_cache_hits_and_misses_reach_the_metrics(demo_sip2):
    """The SIP2 item cache reports every lookup: the second loans page is served from the cache."""
    adapter = Sip2Adapter.from_config({**sip2_config(demo_sip2.port), "DUE_SOON_DAYS": 3, "SIP2_PREFETCH": False})
    seen = []
    adapter.observe_cache(lambda cache, hit: seen.append((cache, hit)))
    try:
        patron = adapter.authenticate(BY_CASE["regular"].card, BY_CASE["regular"].password)
        adapter.loans(patron.key)
        first = list(seen)
        adapter.loans(patron.key)
    finally:
        adapter.close()
    assert first and all(entry == ("sip2_items", False) for entry in first)
    assert seen[len(first):] == [("sip2_items", True)] * len(first)


def test_a_dialect_reaches_the_pages_in_its_own_words(app_config, demo_db, no_leaks):
    """Issue 13 through the whole portal: a lower-case user name logs in as typed; a patron denied only
    holds (and the recall flag) reads "reservations are not possible", never "restricted"; a hold
    nothing says is ready reads "status unknown" (FOLIO: AS lists every open request)."""
    from tests.adapters.sip2.loopback import reply_to
    from tests.adapters.sip2.test_connection import scripted
    from tests.adapters.sip2.test_dialects import NOW, UNKNOWN_18, patron_64, summary_of

    def acs_63(request, session, nth):
        if b"AAdjfiander|" not in request:
            return [reply_to(request, b"64YYYY          000" + NOW + b"000000000000000000000000AOLIB|AA|AE|BLN|")]
        fields = b"ASit-1|" if summary_of(request) == 0 else b""
        return [reply_to(request, patron_64(b"  YY" + b" " * 10, counts=(1, 0, 0, 0, 0, -1), fields=fields,
                                            card=b"djfiander"))]

    with LoopbackAcs(scripted({b"63": acs_63, b"17": lambda request, session, nth: [reply_to(request, UNKNOWN_18)]})
                     ) as acs:
        app_config.update(SIP2_PROFILE="folio", SIP2_ENCODING="utf-8")
        app = make_app(app_config, demo_db, acs.port)
        try:
            client = english_client(app)
            response = AuthActions(client).login("djfiander", "6789")
            assert response.status_code == 302, page(response)
            menu = page(client.get("/"))
            assert "Reservations are not possible at the moment" in menu
            assert "restricted" not in menu
            holds = page(client.get("/holds"))
            assert "Status unknown" in holds and "Ready for pickup" not in holds
        finally:
            close_portal(app)

"""予約かご: titles added from the catalogue's pages, reserved together with one pickup location,
one outcome per title; the basket's size follows the hold limit minus the holds placed."""

from __future__ import annotations

import re

from adapters.demo.seed import BY_CASE
from adapters.models import Capability
from adapters.sip2 import Sip2Adapter
from tests.adapters.sip2.conftest import sip2_config
from tests.conftest import csrf_token

REGULAR = BY_CASE["regular"]
FREE = ["R0284", "R0285", "R0286", "R0287"]  # volumes nobody in the seed has borrowed or reserved


def add(client, record_id: str, page: str = "/search?q=1Q84"):
    html = client.get(page).get_data(as_text=True)
    return client.post("/basket/add", data={"csrf_token": csrf_token(html), "record": record_id, "next": page})


def header_count(html: str) -> int:
    match = re.search(r'予約かご <span class="badge">(\d+)</span>', html)
    assert match, "no basket count in the header"
    return int(match.group(1))


def test_five_titles_reserved_together_one_refused_with_its_reason(auth, client, app):
    adapter = app.extensions["shiori.adapter"]
    auth.login(REGULAR.card, REGULAR.password)
    on_loan = adapter.loans(REGULAR.key)[0]
    search = client.get("/search?q=1Q84").get_data(as_text=True)
    assert "予約かごに入れる" in search and header_count(search) == 0
    for record_id in [*FREE, on_loan.record_id]:
        response = add(client, record_id)
        assert response.status_code == 302 and response.location == "/search?q=1Q84"
    add(client, FREE[0])  # twice: kept once
    basket = client.get("/basket").get_data(as_text=True)
    assert header_count(basket) == 5 and "予約かごに5件の資料があります。" in basket
    assert "いまはあと8件まで予約できます。" in basket  # the demo's limit 10, minus the 2 holds placed
    holds_before = len(adapter.holds(REGULAR.key))
    response = client.post("/basket", data={"csrf_token": csrf_token(basket), "pickup_location": "NORTH"})
    assert response.status_code == 302
    page = client.get("/basket").get_data(as_text=True)
    assert "4件を予約しました。" in page and "1件は予約できませんでした。" in page
    assert page.count("予約しました。") >= 4
    assert f"{on_loan.title}</span>:" in page and "この資料はすでに借りています。" in page
    assert header_count(page) == 0
    holds = adapter.holds(REGULAR.key)
    assert len(holds) == holds_before + 4
    assert {hold.record_id for hold in holds} >= set(FREE)
    assert all(hold.pickup_location.location_id == "NORTH" for hold in holds if hold.record_id in FREE)


def test_the_basket_holds_no_more_than_the_patron_may_still_reserve(auth, client):
    many = BY_CASE["many-loans"]  # ten holds: the demo's limit
    auth.login(many.card, many.password)
    add(client, FREE[0])
    page = client.get("/basket").get_data(as_text=True)
    assert "予約かごがいっぱいです。いまはあと0件まで予約できます。" in page
    assert header_count(page) == 0


def test_a_foreign_or_unknown_record_is_a_404_and_the_form_needs_its_token(auth, client):
    auth.login(REGULAR.card, REGULAR.password)
    assert add(client, "R9999").status_code == 404
    assert client.post("/basket/add", data={"record": FREE[0]}).status_code == 400  # CSRF: refused, nothing added
    assert header_count(client.get("/basket").get_data(as_text=True)) == 0


def test_without_holds_the_catalogue_offers_no_basket(auth, client, app):
    demo = app.extensions["shiori.adapter"].inner
    demo.capabilities = demo.capabilities - {Capability.PLACE_HOLD}
    auth.login(REGULAR.card, REGULAR.password)
    page = client.get("/search?q=1Q84").get_data(as_text=True)
    assert "予約かごに入れる" not in page and "予約かご" not in page


def test_sip2_tells_the_hold_limit_from_bz(demo_sip2, demo):
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo))
    try:
        assert adapter.hold_limit(BY_CASE["many-loans"].card) == demo.rules.max_holds  # the demo ACS's BZ
    finally:
        adapter.close()

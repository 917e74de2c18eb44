"""Catalogue search, record pages and placing holds, including the OPAC deep link /holds/new?record=ID."""

from __future__ import annotations

import re

from adapters.models import HoldStatus


def text(response) -> str:
    return response.get_data(as_text=True)


def record_links(html: str) -> list[str]:
    return re.findall(r'href="/records/([^"]+)"', html)


def test_search_by_title_author_and_isbn(client, login_as, adapter):
    login_as("regular")
    by_author = text(client.get("/search", query_string={"q": "夏目 漱石"}))
    assert "吾輩は猫である" in by_author
    record = adapter.record(record_links(by_author)[0])
    by_isbn = text(client.get("/search", query_string={"q": record.isbn}))
    assert record_links(by_isbn) == [record.record_id]


def test_search_pages_through_many_results(app, client, login_as, adapter):
    login_as("regular")
    total = adapter.search("a", per_page=1).total
    assert total > app.config["SEARCH_PAGE_SIZE"]
    first = record_links(text(client.get("/search?q=a")))
    second = record_links(text(client.get("/search?q=a&page=2")))
    assert len(first) == app.config["SEARCH_PAGE_SIZE"] and second and not set(first) & set(second)


def test_search_with_control_characters_is_refused_calmly(client, login_as):
    login_as("regular")
    response = client.get("/search", query_string={"q": "abc\x00def"})
    assert response.status_code == 200
    assert "/records/" not in text(response)


def test_unknown_record_is_a_404_page(client, login_as):
    login_as("regular")
    for url in ["/records/R9999", "/holds/new?record=R9999", "/holds/new?record=", "/holds/new?record=R1%7CAD"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "見つかりません" in text(response)


def test_place_a_hold_through_the_opac_deep_link_then_cancel_it(auth, client, login_as, adapter):
    demo = login_as("english")
    held = {hold.record_id for hold in adapter.holds(demo.key)}
    on_loan = {loan.record_id for loan in adapter.loans(demo.key)}
    record_id = next(
        f"R{n:04d}" for n in range(1, 200) if f"R{n:04d}" not in held | on_loan
    )
    form_page = client.get(f"/holds/new?record={record_id}")
    assert form_page.status_code == 200
    location = adapter.pickup_locations(demo.key, record_id)[-1]
    response = auth.post_form(
        f"/holds/new?record={record_id}",
        "/holds/new",
        {"record": record_id, "pickup_location": location.location_id, "not_needed_after": "2099-12-31"},
    )
    assert response.location == "/holds", text(response)
    hold = next(hold for hold in adapter.holds(demo.key) if hold.record_id == record_id)
    assert hold.pickup_location.location_id == location.location_id
    assert hold.not_needed_after.isoformat() == "2099-12-31"
    assert hold.status in set(HoldStatus)
    auth.post_form("/holds", "/holds/cancel", {"hold": hold.hold_id})
    assert record_id not in {h.record_id for h in adapter.holds(demo.key)}


def test_a_refused_hold_says_why(auth, client, login_as, adapter):
    demo = login_as("many-loans")  # at the hold limit
    record_id = "R0150"
    location = adapter.pickup_locations(demo.key, record_id)[0]
    response = auth.post_form(
        f"/holds/new?record={record_id}", "/holds/new", {"record": record_id, "pickup_location": location.location_id}
    )
    assert response.status_code == 200
    assert "予約できる件数の上限" in text(response)


def test_an_unknown_pickup_location_is_refused(auth, client, login_as):
    login_as("english")
    response = auth.post_form(
        "/holds/new?record=R0151", "/holds/new", {"record": "R0151", "pickup_location": "NOWHERE"}
    )
    assert response.status_code == 200
    assert "field__error" in text(response)


def test_the_record_page_links_to_reserving(client, login_as):
    login_as("regular")
    page = text(client.get("/records/R0001"))
    assert "/holds/new?record=R0001" in page


def test_a_date_that_is_not_one_gets_wtforms_message_in_the_page_language(auth, client, login_as, adapter):
    """WTForms' own messages are translated too (loaded once per process, per language)."""
    demo = login_as("regular")
    location = adapter.pickup_locations(demo.key, "R0001")[0]
    before = adapter.holds(demo.key)
    for language, message in (("ja", "無効な日付型です。"), ("en", "Not a valid date value.")):
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        response = auth.post_form("/holds/new?record=R0001", "/holds/new", {
            "record": "R0001", "pickup_location": location.location_id, "not_needed_after": "2026-13-45"})
        assert response.status_code == 200 and message in text(response), language
    assert adapter.holds(demo.key) == before

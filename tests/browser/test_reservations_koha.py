"""Issue 16's Koha side in a real browser: the portal on the fake Koha (every request checked against
Koha's contract), a pickup change of several holds through PUT /holds/{id}/pickup_location, and three
volumes of a series reserved in order (the first at once, the others queued)."""

from __future__ import annotations

import pytest

from adapters.demo.seed import BY_CASE
from tests.adapters.koha.conftest import fake, holdable, koha, koha_version  # noqa: F401  (the fake Koha)
from tests.adapters.koha.test_pages import app, ils  # noqa: F401  (the portal on it)
from tests.browser.test_accessibility import log_in

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_pickup_change_of_several_holds_on_koha(page, live_server, ils, fake, koha, screenshot):  # noqa: F811
    many = BY_CASE["many-loans"]
    before = {str(hold["hold_id"]): hold["pickup_library_id"] for hold in fake.holds.values()}
    log_in(page, live_server, "many-loans")
    page.goto(f"{live_server}/holds")
    boxes = page.locator("input[name=hold]")
    chosen = [boxes.nth(index).get_attribute("value") for index in (1, 4, 7)]
    for index in (1, 4, 7):
        boxes.nth(index).check()
    page.locator("#pickup_location").select_option("SAKURA")
    page.get_by_role("button", name="選んだ予約の受取館を変更").click()
    page.wait_for_selector(".outcomes")
    screenshot(page, "pickup-koha-outcomes")
    outcomes = page.locator(".outcome").all_inner_texts()
    assert len(outcomes) == 3 and all("受取館を変更しました。" in text for text in outcomes)
    patron_id = fake.patron_by_card(many.card)["patron_id"]
    moved = {str(hold["hold_id"]): hold["pickup_library_id"] for hold in fake.holds.values()
             if hold["patron_id"] == patron_id}
    assert all(moved[hold_id] == "SAKURA" for hold_id in chosen)
    puts = sorted(path for method, path in koha.requests("PUT"))
    # one PUT per chosen hold not already there (one already at SAKURA counts as changed, unasked)
    assert puts == sorted(f"/api/v1/holds/{hold_id}/pickup_location" for hold_id in chosen
                          if before[hold_id] != "SAKURA") and puts


def test_series_in_order_on_koha(page, live_server, ils, fake, screenshot):  # noqa: F811
    log_in(page, live_server, "regular")
    page.goto(f"{live_server}/records/62")
    page.get_by_role("link", name="「1Q84」の巻を順番に予約する").click()
    assert page.locator("input[name=volume]:checked").count() == 3
    page.locator("#pickup_location").select_option("MAIN")
    page.get_by_role("button", name="巻の順に予約する").click()
    page.wait_for_url(f"{live_server}/holds")
    screenshot(page, "series-koha-queued")
    assert page.locator("main").inner_text().count("前の巻を待っています") == 2
    patron_id = fake.patron_by_card(BY_CASE["regular"].card)["patron_id"]
    biblios = {hold["biblio_id"] for hold in fake.holds.values() if hold["patron_id"] == patron_id}
    assert 62 in biblios and 284 not in biblios and 285 not in biblios

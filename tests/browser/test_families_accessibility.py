"""axe (WCAG 2.1 AA), phone width and touch targets on the pages of issue 15, in Japanese, Japanese
with furigana and English: the start page, /card (the patron's and a linked card's), linking a card,
Settings with both link sections, the menu with a linked card, one card's and every card's loans
and reservations, and the reservation form with its choice of card. The 375 px screenshots of the
start page, the card page and the linked-cards menu are kept as ``families-<mode>-<page>.png``."""

from __future__ import annotations

import pytest

from adapters.demo.seed import BY_CASE
from tests.browser.test_accessibility import MODES, PHONE, check_page, log_in, set_mode

pytestmark = pytest.mark.browser


def link_card(page, base: str, case: str) -> None:
    """Link the demo patron's card through the Settings form (the labels differ by language)."""
    demo = BY_CASE[case]
    page.goto(f"{base}/settings/links")
    page.locator("#card_number").fill(demo.card)
    page.locator("#password").fill(demo.password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{base}/settings#linked-cards")


@pytest.mark.parametrize("mode", MODES)
def test_the_new_pages_pass_axe_and_fit_a_phone(browser, live_server, screenshot, mode):
    language, furigana = MODES[mode]
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    context.set_default_timeout(10_000)
    page = context.new_page()
    set_mode(page, live_server, language, furigana)
    problems = []

    def check(name: str, url: str | None = None) -> None:
        if url:
            page.goto(f"{live_server}{url}")
        problems.extend(check_page(page, name, screenshot, f"families-{mode}"))

    check("start", "/")
    # The child's side first: someone ("regular") links the "renewable" reader's card.
    log_in(page, live_server, "regular")
    check("link-card", "/settings/links")
    page.locator("form.form button[type=submit]").click()  # empty: errors tied to the fields
    check("link-card-errors")
    link_card(page, live_server, "renewable")
    link_card(page, live_server, "hold-ready")
    check("settings-links", "/settings")
    check("menu-linked", "/")
    check("card", "/card")
    link_id = page.locator(".card-screen__nav a").nth(1).get_attribute("href").split("whose=")[1]
    check("card-linked", f"/card?whose={link_id}")
    check("loans-linked", f"/loans?whose={link_id}")
    check("holds-linked", f"/holds?whose={link_id}")
    check("loans-all", "/loans?whose=all")
    check("holds-all", "/holds?whose=all")
    check("place-hold-for", "/holds/new?record=R0200")
    page.locator("form[action='/logout'] button").click()
    log_in(page, live_server, "renewable")
    check("settings-linked-by", "/settings")
    context.close()
    assert problems == [], "\n".join(problems)

"""The seed guide's steps 3-10 in a real browser, as a new patron on a phone-sized screen, in
Japanese with furigana (as the guide itself is printed) and again in English.

3 log in (card number typed with hyphens) - 4 change the initial password - 5 the menu -
loans and a renewal - reserve a book and cancel it - 9 register an email address in settings -
10 log out - 6 log in again next time with the new password.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from adapters.demo.seed import BY_CASE

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}
NEW_PASSWORD = "Amami2026"
# What the patron reads on the screen, per language (accessible names: readings are aria-hidden).
WORDS = {
    "ja-furigana": {
        "card": "図書館カード番号", "password": "パスワード", "login": "ログイン", "current": "現在のパスワード",
        "new": "新しいパスワード", "confirm": "新しいパスワード（確認用）", "update": "更新", "policy": "8文字以上",
        "loans": "貸出状況", "renew": "選んだ資料を延長", "renewed": "延長しました", "search": "蔵書検索",
        "query": "書名・著者名・ISBN", "reserve_this": "この資料を予約する", "reserve": "予約する",
        "cancel": "選んだ予約を取り消す", "cancelled": "取り消しました", "settings": "設定", "email": "メールアドレス",
        "logout": "ログアウト", "book": "ぐりとぐら",
    },
    "en": {
        "card": "Library card number", "password": "Password", "login": "Log in", "current": "Current password",
        "new": "New password", "confirm": "New password (again)", "update": "Update", "policy": "At least 8 characters",
        "loans": "Loans", "renew": "Renew selected", "renewed": "renewed", "search": "Search",
        "query": "Title, author or ISBN", "reserve_this": "Reserve this book", "reserve": "Reserve",
        "cancel": "Cancel selected reservations", "cancelled": "cancelled", "settings": "Settings",
        "email": "Email address", "logout": "Log out", "book": "Hungry Caterpillar",
    },
}


@pytest.mark.parametrize("mode", WORDS)
def test_a_new_patron_walks_the_seed_guide(browser, live_server, screenshot, mode):
    words = WORDS[mode]
    first = BY_CASE["first-login"]
    context = browser.new_context(viewport=PHONE, locale="ja-JP" if mode.startswith("ja") else "en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()

    def shot(step: str) -> None:
        screenshot(page, f"seed-{mode}-{step}")

    def name(key: str, exact: bool = False) -> re.Pattern:
        """Match a label, a name or a heading even when readings sit between the characters (Chromium
        spaces each <ruby> word in an accessible name; a label's text includes the readings)."""
        separator = r"[\sぁ-ゖ]*?" if mode == "ja-furigana" else ""  # readings are hiragana
        pattern = separator.join(map(re.escape, words[key]))
        return re.compile(rf"^\s*{pattern}{separator}\s*$" if exact else pattern)

    # Step 2: from the library's site to the portal: a start page (no error), the guide's furigana
    # switched on first; its one Log in button leads on.
    page.goto(f"{live_server}/")
    expect(page.locator(".flash")).to_have_count(0)
    if mode == "ja-furigana":
        page.get_by_role("button", name="ふりがな").click()
        expect(page.locator("main ruby").first).to_be_visible()
    expect(page.locator("main").get_by_text(name("policy")).first).to_be_visible()
    shot("02-start")
    page.locator("main").get_by_role("link", name=name("login")).click()
    expect(page).to_have_url(re.compile(r"/login"))

    # Step 3: the card number typed as printed, with hyphens.
    shot("03-login")
    page.get_by_label(name("card")).fill(f"{first.card[:4]}-{first.card[4:8]}-{first.card[8:]}")
    page.get_by_label(name("password", exact=True)).fill(first.password)
    page.locator("main").get_by_role("button", name=name("login")).click()

    # Step 4: the initial password must be changed; other pages send the patron back here.
    expect(page).to_have_url(re.compile(r"/password/initial"))
    expect(page.get_by_text(name("policy")).first).to_be_visible()
    page.goto(f"{live_server}/loans")
    expect(page).to_have_url(re.compile(r"/password/initial"))
    page.get_by_label(name("current")).fill(first.password)
    page.get_by_label(name("new", exact=True)).fill("tooshort")
    page.get_by_label(name("confirm")).fill("tooshort")
    page.get_by_role("button", name=name("update")).click()
    expect(page.locator(".field__error").first).to_be_visible()
    shot("04-initial-password-refused")
    page.get_by_label(name("current")).fill(first.password)
    page.get_by_label(name("new", exact=True)).fill(NEW_PASSWORD)
    page.get_by_label(name("confirm")).fill(NEW_PASSWORD)
    page.get_by_role("button", name=name("update")).click()

    # Step 5: the menu.
    expect(page.get_by_role("heading", level=1)).to_contain_text(first.name)
    shot("05-menu")

    # Loans and a renewal.
    page.get_by_role("navigation").get_by_role("link", name=name("loans")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name("loans", exact=True))
    page.locator("input[name=loan]").first.check()
    page.get_by_role("button", name=name("renew")).click()
    expect(page.locator(".outcomes")).to_be_visible()
    expect(page.locator(".flash--success")).to_contain_text(name("renewed"))
    shot("05-loans-renewed")

    # Reserve a book found in the catalogue, then cancel the reservation.
    page.get_by_role("navigation").get_by_role("link", name=name("search")).click()
    page.get_by_label(name("query")).fill(words["book"])
    page.locator("form[role=search] button").click()
    page.locator(".item__title").first.click()
    title = page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("link", name=name("reserve_this")).click()
    shot("01-place-hold")
    page.get_by_role("button", name=name("reserve", exact=True)).click()
    expect(page).to_have_url(re.compile(r"/holds$"))
    expect(page.locator(".item", has_text=title)).to_be_visible()
    shot("01-holds")
    page.locator(".item", has_text=title).locator("input[name=hold]").check()
    page.get_by_role("button", name=name("cancel")).click()
    expect(page.locator(".flash--success")).to_contain_text(name("cancelled"))
    expect(page.locator(".item", has_text=title)).to_have_count(0)

    # Step 9: register an email address in settings.
    page.get_by_role("navigation").get_by_role("link", name=name("settings")).click()
    page.get_by_label(name("email")).fill("kenta@example.jp")
    page.get_by_role("button", name=name("update")).click()
    expect(page.locator(".flash--success").first).to_be_visible()
    expect(page.get_by_label(name("email"))).to_have_value("kenta@example.jp")
    shot("09-settings")

    # Step 10: log out; the account pages are closed again.
    page.get_by_role("button", name=name("logout")).click()
    expect(page).to_have_url(re.compile(r"/login"))
    shot("10-logged-out")
    page.goto(f"{live_server}/loans")
    expect(page).to_have_url(re.compile(r"/login"))

    # Step 6: next time, the new password logs straight in, back to the page asked for.
    page.get_by_label(name("card")).fill(first.card)
    page.get_by_label(name("password", exact=True)).fill(NEW_PASSWORD)
    page.locator("main").get_by_role("button", name=name("login")).click()
    expect(page).to_have_url(re.compile(r"/loans$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(name("loans", exact=True))
    if mode == "ja-furigana":
        expect(page.locator("main ruby").first).to_be_visible()  # the choice outlived the login

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()

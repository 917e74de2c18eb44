"""The seed guide's steps 3-10 in a real browser, as a new patron on a phone-sized screen.

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


def test_a_new_patron_walks_the_seed_guide(browser, live_server, screenshot, app):
    first = BY_CASE["first-login"]
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    context.set_default_timeout(10_000)
    page = context.new_page()

    # Step 3: the login screen; the card number typed as printed, with hyphens.
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/login"))
    screenshot(page, "seed-03-login")
    hyphenated = f"{first.card[:4]}-{first.card[4:8]}-{first.card[8:]}"
    page.get_by_label("図書館カード番号").fill(hyphenated)
    page.get_by_label("パスワード", exact=True).fill(first.password)
    page.get_by_role("button", name="ログイン").click()

    # Step 4: the initial password must be changed; other pages send the patron back here.
    expect(page).to_have_url(re.compile(r"/password/initial"))
    expect(page.get_by_text("8文字以上").first).to_be_visible()
    page.goto(f"{live_server}/loans")
    expect(page).to_have_url(re.compile(r"/password/initial"))
    page.get_by_label("現在のパスワード").fill(first.password)
    page.get_by_label("新しいパスワード", exact=True).fill("tooshort")
    page.get_by_label("新しいパスワード（確認用）").fill("tooshort")
    page.get_by_role("button", name="更新").click()
    expect(page.locator(".field__error").first).to_be_visible()
    screenshot(page, "seed-04-initial-password-refused")
    page.get_by_label("現在のパスワード").fill(first.password)
    page.get_by_label("新しいパスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認用）").fill(NEW_PASSWORD)
    page.get_by_role("button", name="更新").click()

    # Step 5: the menu.
    expect(page.get_by_role("heading", level=1)).to_contain_text(first.name)
    screenshot(page, "seed-05-menu")

    # Loans and a renewal.
    page.get_by_role("navigation").get_by_role("link", name="貸出状況").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("貸出状況")
    checkbox = page.locator("input[name=loan]").first
    checkbox.check()
    page.get_by_role("button", name="選んだ資料を延長").click()
    expect(page.locator(".outcomes")).to_be_visible()
    expect(page.locator(".flash--success")).to_contain_text("延長しました")
    screenshot(page, "seed-05-loans-renewed")

    # Reserve a book found in the catalogue, then cancel the reservation.
    page.get_by_role("navigation").get_by_role("link", name="蔵書検索").click()
    page.get_by_label("書名・著者名・ISBN").fill("ぐりとぐら")
    page.get_by_role("button", name="蔵書検索").click()
    page.locator(".item__title").first.click()
    title = page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("link", name="この資料を予約する").click()
    screenshot(page, "seed-01-place-hold")
    page.get_by_role("button", name="予約する").click()
    expect(page).to_have_url(re.compile(r"/holds$"))
    expect(page.locator(".item", has_text=title)).to_be_visible()
    screenshot(page, "seed-01-holds")
    page.locator(".item", has_text=title).locator("input[name=hold]").check()
    page.get_by_role("button", name="選んだ予約を取り消す").click()
    expect(page.locator(".flash--success")).to_contain_text("取り消しました")
    expect(page.locator(".item", has_text=title)).to_have_count(0)

    # Step 9: register an email address in settings.
    page.get_by_role("navigation").get_by_role("link", name="設定").click()
    page.get_by_label("メールアドレス").fill("kenta@example.jp")
    page.get_by_role("button", name="更新").click()
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.get_by_label("メールアドレス")).to_have_value("kenta@example.jp")
    screenshot(page, "seed-09-settings")

    # Step 10: log out; the account pages are closed again.
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/login"))
    screenshot(page, "seed-10-logged-out")
    page.goto(f"{live_server}/loans")
    expect(page).to_have_url(re.compile(r"/login"))

    # Step 6: next time, the new password logs straight in, back to the page asked for.
    page.get_by_label("図書館カード番号").fill(first.card)
    page.get_by_label("パスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/loans$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("貸出状況")

    # Phone-sized: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()

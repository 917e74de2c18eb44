"""The reservation conventions of issue 16 in a real browser (Debian's Chromium), as a patron does them:
the basket, a three-volume series reserved in order, a pickup change of several holds (demo and
SIP2), and the renew-window mail arriving on the right demo day through an SMTP server on loopback.
The library's side is the real CLI: ``flask demo checkin/checkout/clock`` and ``flask notices run``."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from adapters.demo.seed import BY_CASE
from tests.browser.test_accessibility import check_page, log_in, set_mode
from tests.notifications.conftest import register_address
from tests.notifications.smtp import body, smtp  # noqa: F401

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}
REGULAR = BY_CASE["regular"]
SERIES = ["R0062", "R0284", "R0285"]  # 1Q84 BOOK1-3, one copy each, on the shelf


@pytest.fixture
def app_config(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://127.0.0.1",
                      MAIL_FROM="library@example.jp")
    return app_config


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@contextmanager
def live_app(app):
    """Serve ``app`` on a loopback port in a thread (as conftest's ``live_server`` does for the default app)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def cli(runner, *args: str) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def add_from_record(page, base: str, record_id: str) -> None:
    page.goto(f"{base}/records/{record_id}")
    page.get_by_role("button", name="予約かごに入れる").click()
    page.wait_for_selector(".flash--success")


def test_basket_five_titles_one_refused_with_its_reason(page, live_server, app, screenshot):
    demo = app.extensions["shiori.adapter"]
    on_loan = demo.loans(REGULAR.key)[0]
    log_in(page, live_server, "regular")
    page.goto(f"{live_server}/search?q=1Q84")
    for button in page.get_by_role("button", name="予約かごに入れる").all()[:3]:  # BOOK1-3 from the results
        button.click()
        page.wait_for_selector(".flash--success")
    for record_id in ("R0286", on_loan.record_id):
        add_from_record(page, live_server, record_id)
    assert page.locator(".site-nav .badge").inner_text() == "5"  # visible from every page
    page.goto(f"{live_server}/basket")
    screenshot(page, "basket-01-five-titles")
    page.locator("#pickup_location").select_option("SAKURA")
    page.get_by_role("button", name="5件をまとめて予約する").click()
    page.wait_for_selector(".outcomes")
    screenshot(page, "basket-02-outcomes")
    outcomes = page.locator(".outcome").all_inner_texts()
    assert len(outcomes) == 5
    assert sum("予約しました。" in text for text in outcomes) == 4
    [refused] = [text for text in outcomes if "予約できませんでした。" in text]
    assert on_loan.title in refused and "この資料はすでに借りています。" in refused
    assert page.locator(".site-nav .badge").inner_text() == "0"
    placed = [hold for hold in demo.holds(REGULAR.key) if hold.pickup_location.location_id == "SAKURA"]
    assert len(placed) == 4


def test_three_volumes_in_order_volume_two_only_after_volume_one_is_picked_up(page, live_server, app, runner,
                                                                               screenshot):
    log_in(page, live_server, "regular")
    page.goto(f"{live_server}/records/R0062")
    page.get_by_role("link", name="「1Q84」の巻を順番に予約する").click()
    assert page.locator("input[name=volume]:checked").count() == 3
    page.locator("#pickup_location").select_option("MAIN")
    screenshot(page, "series-01-choose")
    page.get_by_role("button", name="巻の順に予約する").click()
    page.wait_for_url(f"{live_server}/holds")
    screenshot(page, "series-02-queued")
    holds = page.locator("main").inner_text()
    assert "1Q84 BOOK1" in holds and holds.count("前の巻を待っています") == 2

    def reserved_titles() -> str:
        page.goto(f"{live_server}/holds")
        return " ".join(page.locator("form[action='/holds/cancel'] .item__title").all_inner_texts())

    assert "sent" in cli(runner, "notices", "run")
    assert "1Q84 BOOK2" not in reserved_titles()
    cli(runner, "demo", "clock", "+2")  # volume 1 is pulled, travels to the main library, is ready
    assert "0 series volumes reserved" in cli(runner, "notices", "run")
    assert "1Q84 BOOK2" not in reserved_titles()  # ready is not picked up
    cli(runner, "demo", "checkout", REGULAR.card, "I0062-1")  # picked up at the counter
    assert "1 series volumes reserved" in cli(runner, "notices", "run")
    titles = reserved_titles()
    assert "1Q84 BOOK2" in titles and "1Q84 BOOK3" not in titles
    assert page.locator("main").inner_text().count("前の巻を待っています") == 1
    assert "0 series volumes reserved" in cli(runner, "notices", "run")  # once
    screenshot(page, "series-03-volume-two-placed")


@pytest.mark.parametrize("adapter_name", ["demo", "sip2"])
def test_pickup_change_of_several_holds(browser, app_config, adapter_name, screenshot, request):
    """Three of the many-loans reader's ten reservations moved to 桜川分館 in one go."""
    from app import create_app
    from tests.adapters.sip2.conftest import sip2_config

    many = BY_CASE["many-loans"]
    server = None
    if adapter_name == "sip2":
        from adapters.demo import DemoAdapter
        from adapters.demo.sip2_server import DemoSip2Server

        backing = DemoAdapter(app_config["DEMO_DATABASE"])
        server = DemoSip2Server(backing, user="portal", password="secret").start()
        request.addfinalizer(server.stop)
        app_config.update({"ADAPTER": "sip2", **sip2_config(server.port, backing, SIP2_HOLD_PICKUP_CHANGE=True)})
    app = create_app(app_config)
    demo_view = app.extensions["shiori.adapter"]
    backing = getattr(demo_view, "inner", demo_view) if adapter_name == "demo" else server.acs.demo
    with live_app(app) as base:
        context = browser.new_context(viewport=PHONE, locale="ja-JP")
        page = context.new_page()
        log_in(page, base, "many-loans")
        page.goto(f"{base}/holds")
        boxes = page.locator("input[name=hold]")
        assert boxes.count() == 10
        chosen = [boxes.nth(index).get_attribute("value") for index in (0, 3, 6)]
        titles = [page.locator(f"label[for={boxes.nth(index).get_attribute('id')}]").inner_text() for index in (0, 3, 6)]
        for index in (0, 3, 6):
            boxes.nth(index).check()
        page.locator("#pickup_location").select_option("SAKURA")
        page.get_by_role("button", name="選んだ予約の受取館を変更").click()
        page.wait_for_selector(".outcomes")
        screenshot(page, f"pickup-{adapter_name}-outcomes")
        outcomes = page.locator(".outcome").all_inner_texts()
        assert len(outcomes) == 3 and all("受取館を変更しました。" in text for text in outcomes)
        assert chosen
        moved = {hold.title: hold.pickup_location.location_id for hold in backing.holds(many.key)}
        assert all(moved[title] == "SAKURA" for title in titles)
        assert sum(1 for branch in moved.values() if branch == "SAKURA") >= 3
        context.close()
    app.extensions["shiori.adapter"].close()


def test_renew_window_mail_arrives_on_the_day_renewal_opens(page, live_server, app, runner, smtp, screenshot):  # noqa: F811
    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR.key, "taro@example.jp", hold_ready=False, due_soon=False)
    loans = sorted(demo.loans(REGULAR.key), key=lambda loan: loan.due_date)
    later = loans[-1]
    log_in(page, live_server, "regular")
    page.goto(f"{live_server}/loans")
    page.get_by_role("button", name="延長できるようになったら知らせる").click()
    page.wait_for_selector(".flash--success")
    screenshot(page, "renew-window-01-asked")
    assert "メールでお知らせします" in page.locator("main").inner_text()
    for loan in loans[:-1]:  # returned, so that nothing is overdue on the day
        cli(runner, "demo", "checkin", loan.item_id)
    days = (later.forecast.available_from - demo.today()).days
    cli(runner, "demo", "clock", f"+{days - 1}")
    assert "0 renewal-open notices" in cli(runner, "notices", "run")
    assert smtp.sink.messages == []
    cli(runner, "demo", "clock", "+1")  # the day renewal opens
    assert "1 renewal-open notices" in cli(runner, "notices", "run")
    [message] = smtp.sink.wait_for(1)
    text = body(message)
    assert later.title in text and "延長できるようになりました" in text
    assert "0 renewal-open notices" in cli(runner, "notices", "run") and len(smtp.sink.messages) == 1
    link = re.search(r"http://127\.0\.0\.1/loans", text).group(0)
    page.goto(link.replace("http://127.0.0.1", live_server))  # the renew link, on this test's port
    page.locator(f"input[name=loan][value={later.loan_id}]").check()
    page.locator("button[value=selected]").click()
    page.wait_for_selector(".outcomes")
    screenshot(page, "renew-window-02-renewed")
    assert "延長しました" in page.locator(".outcomes").inner_text()


# --- the new pages pass axe in ja, ja with furigana and en ------------------------------------------


@pytest.mark.parametrize("mode", ["ja", "ja-furigana", "en"])
def test_the_new_pages_pass_axe(browser, live_server, app, screenshot, mode):
    language, furigana = {"ja": ("ja", False), "ja-furigana": ("ja", True), "en": ("en", False)}[mode]
    register_address(app, REGULAR.key, "taro@example.jp", language=language)  # the saved language wins at login
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    context.set_default_timeout(10_000)
    page = context.new_page()
    set_mode(page, live_server, language, furigana)
    log_in(page, live_server, "regular")
    problems = []
    page.goto(f"{live_server}/search?q=1Q84")
    problems += check_page(page, "r-search-basket", screenshot, mode)
    page.locator("form[action='/basket/add'] button").first.click()
    page.wait_for_selector(".flash--success")
    page.goto(f"{live_server}/records/R0284")
    problems += check_page(page, "r-record", screenshot, mode)
    page.goto(f"{live_server}/basket")
    problems += check_page(page, "r-basket", screenshot, mode)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_selector(".outcomes")
    problems += check_page(page, "r-basket-outcomes", screenshot, mode)
    page.goto(f"{live_server}/series/R0284")
    problems += check_page(page, "r-series", screenshot, mode)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{live_server}/holds")
    problems += check_page(page, "r-holds-series", screenshot, mode)
    page.locator("input[name=hold]").first.check()
    page.locator("button[name=scope][value=selected]").click()
    page.wait_for_selector(".outcomes")
    problems += check_page(page, "r-holds-pickup-outcomes", screenshot, mode)
    page.goto(f"{live_server}/loans")
    problems += check_page(page, "r-loans-watch", screenshot, mode)
    page.goto(f"{live_server}/settings")
    problems += check_page(page, "r-settings", screenshot, mode)
    context.close()
    assert problems == [], "\n".join(problems)

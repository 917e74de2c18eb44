"""Linked cards in a real browser at phone size, on the demo ILS, over SIP2 (the demo's SIP2 server on
a loopback port) and on Koha (the fake Koha behind respx, checked against Koha's contract).

A parent links a child's card in Settings, renews the child's loan and reserves a book for the
child; the child, logged in, sees the link and removes it; the parent links it again, and the
child's password change removes it. SIP2 has no password change (the page says so), so there the
last step is the holder removing it, and the test checks that the page offers no change.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from adapters.demo import DemoAdapter
from adapters.demo.seed import BY_CASE
from adapters.koha import KohaAdapter
from adapters.models import RenewalStatus
from app import create_app

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}
PARENT, CHILD = BY_CASE["regular"], BY_CASE["renewable"]
NEW_PASSWORD = "Kodomo2026"


class Backend:
    """The app on one ILS, with what the test needs to know of that ILS."""

    def __init__(self, name: str, app, truth, holdable: str, closers=()):
        self.name, self.app, self.truth, self.holdable, self.closers = name, app, truth, holdable, closers

    def renewable_loan(self) -> str:
        """The id the portal shows for a loan of the child's that the library will renew."""
        loan = next(loan for loan in self.truth.loans(self.child_key()) if loan.forecast.status is RenewalStatus.RENEWABLE)
        return loan.item_id if self.name == "sip2" else loan.loan_id  # over SIP2 a loan is named by its item

    def hold_count(self, who) -> int:
        return len(self.truth.holds(self.truth.authenticate(who.card, who.password).key))

    def child_key(self) -> str:
        return self.truth.authenticate(CHILD.card, CHILD.password).key


@pytest.fixture(params=["demo", "sip2", "koha"])
def backend(request, app_config):
    if request.param == "demo":
        app = create_app(app_config)
        yield Backend("demo", app, app.extensions["shiori.adapter"], "R0200")
        app.extensions["shiori.adapter"].close()
    elif request.param == "sip2":
        from adapters.demo.sip2_server import DemoSip2Server
        from tests.adapters.sip2.conftest import SIP2_PASSWORD, SIP2_USER, close_portal, sip2_config

        demo = DemoAdapter(app_config["DEMO_DATABASE"])
        with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD) as server:
            app_config.update({"ADAPTER": "sip2", **sip2_config(server.port, demo)})
            app = create_app(app_config)
            # Over SIP2 a record is a copy: one lent to the English reader, so a hold waits on it.
            yield Backend("sip2", app, demo, demo.loans(BY_CASE["english"].key)[0].item_id)
            close_portal(app)
    else:
        from adapters.demo.koha_server import FakeKoha, holdable_record
        from tests.adapters.koha.conftest import KOHA_CONFIG
        from tests.adapters.koha.fake_koha import RespxKoha

        fake = FakeKoha(version="24.05")
        biblio_id, _item, _title = holdable_record(fake)
        koha = RespxKoha(fake)
        app_config.update(KOHA_CONFIG, ADAPTER="koha")
        app = create_app(app_config)
        built = app.extensions["shiori.adapter"]
        getattr(built, "inner", built).close()
        on_fake = KohaAdapter.from_config(app.config, transport=koha.transport, today=lambda: fake.today)
        if hasattr(built, "inner"):
            built.inner = on_fake
        else:
            app.extensions["shiori.adapter"] = on_fake
        yield Backend("koha", app, on_fake, str(biblio_id))
        on_fake.close()
        assert koha.contract.violations == [], "requests or answers broke Koha's contract"


@pytest.fixture
def app(backend):  # the live server serves the backend's app
    return backend.app


def log_in(page, base: str, who) -> None:
    page.goto(f"{base}/login")
    page.locator("#card_number").fill(who.card)
    page.locator("#password").fill(who.password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def log_out(page) -> None:
    page.locator("form[action='/logout'] button").click()
    page.wait_for_url(re.compile(r"/login$"))


def link_child(page, base: str, password: str = CHILD.password) -> None:
    page.goto(f"{base}/settings")
    page.get_by_role("link", name="Link a card").click()
    page.locator("#card_number").fill(CHILD.card)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Link this card").click()
    expect(page.locator(".flash--success")).to_contain_text(CHILD.name)


def test_a_parent_acts_for_a_childs_card_and_the_child_controls_the_link(browser, live_server, backend, screenshot):
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    base = live_server
    shot = lambda step: screenshot(page, f"linked-{backend.name}-{step}")  # noqa: E731

    # The parent links the child's card in Settings; the menu shows it under the child's name.
    log_in(page, base, PARENT)
    link_child(page, base)
    page.goto(f"{base}/")
    section = page.locator(".linked-card", has_text=CHILD.name)
    expect(section).to_contain_text("borrowed")
    shot("menu")

    # The child's loans, from the menu; renew the one the library will renew.
    loan_id = backend.renewable_loan()
    section.get_by_role("link", name=re.compile("borrowed")).click()
    expect(page.locator(".card-switch__whose")).to_contain_text(CHILD.name)
    page.locator(f"input[name=loan][value='{loan_id}']").check()
    page.get_by_role("button", name="Renew selected").click()
    expect(page.locator(".outcome--ok")).to_have_count(1)
    expect(page.locator(".card-switch__whose")).to_contain_text(CHILD.name)
    shot("renewed")

    # A reservation for the child, from the reservation form.
    child_holds, parent_holds = backend.hold_count(CHILD), backend.hold_count(PARENT)
    page.goto(f"{base}/holds/new?record={backend.holdable}")
    page.get_by_role("radio", name=CHILD.name).check()
    page.get_by_role("button", name="Reserve", exact=True).click()
    expect(page.locator(".flash--success")).to_contain_text("Reserved")
    expect(page.locator(".card-switch__whose")).to_contain_text(CHILD.name)
    shot("reserved")
    assert backend.hold_count(CHILD) == child_holds + 1
    assert backend.hold_count(PARENT) == parent_holds  # nothing placed on the parent's own card
    log_out(page)

    # The child sees who has linked the card, in their own Settings, and removes the link.
    log_in(page, base, CHILD)
    assert PARENT.name not in page.locator("main").inner_text()  # one-way: the parent's card is not shown
    page.goto(f"{base}/settings")
    expect(page.locator("#linked-by")).to_be_visible()
    expect(page.locator("main")).to_contain_text(PARENT.name)
    shot("holder-settings")
    page.get_by_role("button", name=f"Remove {PARENT.name}'s link").click()
    expect(page.locator(".flash--success")).to_contain_text(PARENT.name)
    expect(page.locator("#linked-by")).to_have_count(0)
    log_out(page)

    # Linked again; then the child's password change removes the link.
    log_in(page, base, PARENT)
    link_child(page, base)
    log_out(page)
    log_in(page, base, CHILD)
    page.goto(f"{base}/settings/password")
    if backend.name == "sip2":
        expect(page.locator("#new")).to_have_count(0)  # SIP2 cannot change a password: the page says so
        page.goto(f"{base}/settings")
        page.get_by_role("button", name=f"Remove {PARENT.name}'s link").click()
    else:
        page.locator("#current").fill(CHILD.password)
        page.locator("#new").fill(NEW_PASSWORD)
        page.locator("#confirm").fill(NEW_PASSWORD)
        page.locator("form.form button[type=submit]").click()
        expect(page.locator(".flash--success")).to_be_visible()
    log_out(page)
    log_in(page, base, PARENT)
    expect(page.locator(".linked-card")).to_have_count(0)
    page.goto(f"{base}/settings")
    expect(page.locator(".linked-list__name")).to_have_count(0)
    context.close()

"""tools/pysip2_acs.py: pysip2's ACS over the demo ILS, and the whole portal against it.

The tool's server runs in-process on a free port, over a copy of the seeded demo ILS; the portal
(``ADAPTER="sip2"``) is driven through its forms as a patron would: log in, loans with titles and
due dates, renew one, renew all, place and cancel a hold, log out. The demo adapter on the same
file says what really happened in the library."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.demo import DemoAdapter
from adapters.demo.seed import BY_CASE
from adapters.errors import AccountLocked, Refused
from adapters.models import BlockCode, HoldRequest, HoldStatus, Reason
from adapters.sip2 import Sip2Adapter
from app import create_app
from tests.adapters.sip2.conftest import close_portal, english_client, page
from tools.pysip2_acs import DEFAULT_INSTITUTION, DemoLibrary, build_server, serving

pytestmark = pytest.mark.usefixtures("no_leaks")

ROOT = Path(__file__).resolve().parents[3]
REGULAR, MANY, READY = BY_CASE["regular"], BY_CASE["many-loans"], BY_CASE["hold-ready"]
USER, PASSWORD = "shiori", "tool-secret"


@pytest.fixture
def demo(app_config) -> DemoAdapter:
    return DemoAdapter(app_config["DEMO_DATABASE"])


@pytest.fixture
def acs(demo):
    """The tool's server on a free port; yields (port, the commands it handled)."""
    handled: list[tuple[str, str]] = []
    server = build_server(DemoLibrary(demo), user=USER, password=PASSWORD,
                          observer=lambda command, card: handled.append((command, card)))
    with serving(server) as port:
        yield port, handled


def sip2_settings(port: int, demo: DemoAdapter) -> dict:
    pickups = ",".join(f"{branch}:{name}" for branch, name in demo.branch_names().items())
    return {"SIP2_HOST": "127.0.0.1", "SIP2_PORT": port, "SIP2_USER": USER, "SIP2_PASSWORD": PASSWORD,
            "SIP2_ENCODING": "utf-8", "SIP2_CONNECT_TIMEOUT": 2, "SIP2_READ_TIMEOUT": 5,
            "SIP2_PICKUP_LOCATIONS": pickups}


@pytest.fixture
def sip2_app(app_config, acs, demo):
    app = create_app({**app_config, "ADAPTER": "sip2", **sip2_settings(acs[0], demo)})
    yield app
    close_portal(app)


@pytest.fixture
def client(sip2_app):  # tests/conftest.py's ``auth`` logs in with it
    return english_client(sip2_app)


def local_date(app, day) -> str:
    from views.i18n import local_date as render

    with app.test_request_context(headers={"Accept-Language": "en"}):
        return str(render(day))


def test_a_patron_logs_in_renews_places_and_cancels_a_hold_and_logs_out(sip2_app, client, auth, demo, acs):
    _port, handled = acs
    adapter = sip2_app.extensions["shiori.adapter"]
    assert isinstance(getattr(adapter, "inner", adapter), Sip2Adapter)

    wrong = auth.login(REGULAR.card, "not-the-password")
    assert wrong.status_code != 302 and "The card number or password is incorrect." in page(wrong)
    response = auth.login(REGULAR.card, REGULAR.password)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert REGULAR.name in page(client.get("/"))

    key = demo.find_patron(REGULAR.card).key
    loans = demo.loans(key)
    text = page(client.get("/loans"))
    for loan in loans:
        assert loan.title in text
        assert local_date(sip2_app, loan.due_date) in text

    renewable = next(loan for loan in loans if loan.forecast.reason is None)
    response = auth.post_form("/loans", "/loans/renew", {"action": "selected", "loan": renewable.item_id})
    assert response.status_code == 302
    after = {loan.item_id: loan for loan in demo.loans(key)}
    assert after[renewable.item_id].due_date > renewable.due_date
    text = page(client.get("/loans"))
    assert "Renewed. New due date: " + local_date(sip2_app, after[renewable.item_id].due_date) in text

    response = auth.post_form("/loans", "/loans/renew", {"action": "all"})
    assert response.status_code == 302
    text = page(client.get("/loans"))
    assert "Result of your renewal" in text and "Not renewed." in text  # the one just renewed is at its limit
    assert {loan.item_id: loan.renewals_used for loan in demo.loans(key)}[renewable.item_id] == 1

    holds = demo.holds(key)
    text = page(client.get("/holds"))
    for hold in holds:
        assert hold.title in text
    record = demo.loans(demo.find_patron(BY_CASE["english"].card).key)[0]
    form = page(client.get(f"/holds/new?record={record.item_id}"))
    assert record.title in form
    pickup = re.search(r'<option[^>]*value="([^"]+)"', form).group(1)
    response = auth.post_form(f"/holds/new?record={record.item_id}", "/holds/new",
                              {"record": record.item_id, "pickup_location": pickup})
    assert response.status_code == 302, page(response)
    placed = next(hold for hold in demo.holds(key) if hold.record_id == record.record_id)
    assert (placed.status, placed.pickup_location.location_id) == (HoldStatus.WAITING, pickup)
    text = page(client.get("/holds"))
    assert record.title in text
    listed = re.findall(r'name="hold" value="([^"]+)"', text)
    assert len(listed) == len(holds) + 1
    response = auth.post_form("/holds", "/holds/cancel", {"hold": [record.item_id]})
    assert response.status_code == 302
    assert record.record_id not in {hold.record_id for hold in demo.holds(key)}
    assert len(demo.holds(key)) == len(holds)

    response = auth.logout()
    assert response.status_code == 302
    assert ("35", REGULAR.card) in handled
    assert client.get("/loans").status_code == 302  # logged out: back to the login page
    commands = {command for command, _ in handled}
    assert {"93", "99", "63", "17", "29", "65", "15", "35"} <= commands


def test_ready_and_in_transit_holds_with_pickup_deadline(sip2_app, auth, client, demo):
    auth.login(READY.card, READY.password)
    key = demo.find_patron(READY.card).key
    adapter = sip2_app.extensions["shiori.adapter"]
    adapter = getattr(adapter, "inner", adapter)
    over_sip2 = adapter.holds(READY.card)
    expected = demo.holds(key)
    assert [(hold.title, hold.status) for hold in over_sip2] == [(hold.title, hold.status) for hold in expected]
    ready = expected[0]
    assert ready.status is HoldStatus.READY
    assert over_sip2[0].pickup_deadline == ready.pickup_deadline
    assert over_sip2[0].pickup_location == ready.pickup_location
    text = page(client.get("/holds"))
    assert local_date(sip2_app, ready.pickup_deadline) in text


def test_thirty_loans_are_paged_and_every_one_has_its_title(acs, demo):
    adapter = Sip2Adapter.from_config(sip2_settings(acs[0], demo))
    try:
        loans = adapter.loans(MANY.card)
        expected = demo.loans(demo.find_patron(MANY.card).key)
        assert len(loans) == 30
        assert sorted((loan.item_id, loan.title, loan.due_date) for loan in loans) == sorted(
            (loan.item_id, loan.title, loan.due_date) for loan in expected)
        assert len(adapter.holds(MANY.card)) == 10
        summary = adapter.account_summary(MANY.card)
        assert (summary.loans, summary.holds) == (30, 10)
    finally:
        adapter.close()


def test_blocks_locks_and_refusals_read_as_the_demo_rules_say(acs, demo):
    adapter = Sip2Adapter.from_config(sip2_settings(acs[0], demo))
    try:
        blocked = BY_CASE["blocked"]
        patron = adapter.authenticate(blocked.card, blocked.password)
        assert BlockCode.CARD_EXPIRED in {block.code for block in patron.blocks}
        locked = BY_CASE["locked"]
        with pytest.raises(AccountLocked):
            adapter.authenticate(locked.card, locked.password)
        fines = adapter.account_summary(BY_CASE["fines"].card)
        assert fines.fines == 2500 and BlockCode.FINES_OVER_LIMIT in {block.code for block in fines.blocks}
        overdue = BY_CASE["overdue"]
        outcomes = adapter.renew_all(overdue.card).outcomes
        assert outcomes and all(o.reason is Reason.PATRON_HAS_OVERDUE for o in outcomes)
        pickup = adapter.pickup_locations(MANY.card)[0].location_id
        own = adapter.loans(MANY.card)[0].item_id
        with pytest.raises(Refused) as on_loan:
            adapter.place_hold(MANY.card, HoldRequest(own, pickup))
        assert on_loan.value.reason is Reason.ALREADY_ON_LOAN
        other = demo.loans(demo.find_patron(REGULAR.card).key)[0].item_id
        with pytest.raises(Refused) as at_limit:  # many-loans holds ten, the demo's limit
            adapter.place_hold(MANY.card, HoldRequest(other, pickup))
        assert at_limit.value.reason is Reason.TOO_MANY_HOLDS
    finally:
        adapter.close()


def test_the_command_line_serves_until_terminated(tmp_path, app_config):
    """``python tools/pysip2_acs.py --port 0 --database FILE`` prints the portal's settings and stops on SIGTERM."""
    process = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "tools" / "pysip2_acs.py"), "--port", "0", "--database",
         app_config["DEMO_DATABASE"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        first = process.stdout.readline()
        assert "pysip2 SIP2 server for the demo ILS on 127.0.0.1:" in first, process.stderr.read()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", first).group(1))
        assert "PORTAL_SIP2_PORT=" in process.stdout.readline() + process.stdout.readline()
        adapter = Sip2Adapter.from_config({"SIP2_HOST": "127.0.0.1", "SIP2_PORT": port, "SIP2_READ_TIMEOUT": 5})
        try:
            assert adapter.authenticate(REGULAR.card, REGULAR.password).display_name == REGULAR.name
            assert adapter.institution == DEFAULT_INSTITUTION
        finally:
            adapter.close()
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopped" in out

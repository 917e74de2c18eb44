"""``flask demo``: on a bare Flask app, with the demo as its adapter or with another adapter configured."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from flask import Flask

from adapters.demo import DemoAdapter
from adapters.demo.cli import demo_cli
from adapters.demo.seed import PATRONS
from extensions import ADAPTER_EXTENSION_KEY

from .conftest import credentials


def make_app(demo_db, *, attach: bool) -> Flask:
    app = Flask(__name__)
    app.config["DEMO_DATABASE"] = str(demo_db)
    # The portal's own adapter, or another ILS's (PORTAL_ADAPTER=sip2): the CLI then opens DEMO_DATABASE itself.
    app.extensions[ADAPTER_EXTENSION_KEY] = DemoAdapter(demo_db) if attach else object()
    app.cli.add_command(demo_cli)
    return app


@pytest.fixture(params=[True, False], ids=["demo-adapter", "other-adapter"])
def run(request, demo_db):
    runner = make_app(demo_db, attach=request.param).test_cli_runner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(args=["demo", *args])
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    return run


def test_patrons(run):
    rows = json.loads(run("patrons", "--json"))
    assert rows == [{"card": p.card, "password": p.password, "case": p.case, "name": p.name} for p in PATRONS]
    table = run("patrons")
    assert table.splitlines()[0].split() == ["card", "password", "case", "name"]
    assert "2000000002  20100401        first-login  佐藤 健太" in table


def test_clock(run, demo_db):
    today = date.today()
    assert f"Demo date: {today} (real date)" in run("clock")
    output = run("clock", "+8")
    assert f"Demo date: {today + timedelta(days=8)} (real date +8 days)" in output
    assert "arrived and is ready for pickup" in output and "was not collected and expired" in output
    assert DemoAdapter(demo_db).today() == today + timedelta(days=8)
    assert f"Demo date: {today + timedelta(days=10)}" in run("clock", "2")
    assert f"Demo date: {today} (real date)" in run("clock", "0")
    run("clock", "+3")
    assert f"Demo date: {today} (real date)" in run("clock", "--reset")
    assert "give +N" in run("clock", "soon", ok=False)


def test_checkin_and_checkout(run, demo_db, demo_template):
    item = demo_template["item"]
    output = run("checkin", item)
    assert f"{item} returned by 渡辺 健." in output and "No hold waiting" in output
    assert "already on loan" not in run("checkout", credentials("regular")[0], item)
    assert "already on loan" in run("checkout", credentials("english")[0], item, ok=False)
    assert "no item" in run("checkin", "I9999-9", ok=False)
    assert "no patron" in run("checkout", "1999999999", item, ok=False)

    adapter = DemoAdapter(demo_db)
    patron = adapter.authenticate(*credentials("english"))
    queued = adapter.holds(patron.key)[0]  # first in the queue for a book the background readers have
    with adapter.store.transaction() as conn:
        lent = conn.execute(
            "SELECT l.item_id FROM loans l JOIN items i ON i.id = l.item_id WHERE i.record_id = ?",
            (queued.record_id,),
        ).fetchone()[0]
    output = run("checkin", lent)
    assert f"Hold {queued.hold_id} of Emily Carter is" in output
    assert adapter.holds(patron.key)[0].status.value in ("ready", "in_transit")


def test_reset(run, demo_db):
    adapter = DemoAdapter(demo_db)
    card, password = credentials("first-login")
    adapter.change_password(adapter.authenticate(card, password).key, password, "Changed2025")
    run("clock", "+4")
    assert f"Demo ILS reset: {len(PATRONS)} patrons, demo date {date.today()}." in run("reset")
    assert adapter.authenticate(card, password).must_change_password

"""Fixtures for the demo ILS: each test gets its own freshly seeded SQLite file.

Seeding hashes eleven passwords (about a second), so one file is seeded per session and copied.
The template also lends every copy of one untouched record, which the contract suite uses as a
record that a hold waits on until a copy comes back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.demo import DemoAdapter
from adapters.demo.seed import BY_CASE
from adapters.demo.store import copy_database

UNKNOWN_RECORD = "R9999"
UNKNOWN_CARD = "1999999999"


def credentials(case: str) -> tuple[str, str]:
    patron = BY_CASE[case]
    return patron.card, patron.password


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("demo-template") / "demo.sqlite3"
    adapter = DemoAdapter(path)
    with adapter.store.transaction() as conn:
        record = conn.execute(
            "SELECT r.id, r.title FROM records r WHERE r.id NOT IN (SELECT record_id FROM holds)"
            " AND r.id NOT IN (SELECT i.record_id FROM loans l JOIN items i ON i.id = l.item_id)"
            " ORDER BY r.id DESC LIMIT 1"
        ).fetchone()
        items = [row["id"] for row in conn.execute("SELECT id FROM items WHERE record_id = ?", (record["id"],))]
    for item in items:
        adapter.checkout(BY_CASE["background"].card, item)
    return {"path": path, "record": record["id"], "title": record["title"], "item": items[0]}


@pytest.fixture
def demo_db(demo_template, tmp_path) -> Path:
    target = tmp_path / "demo.sqlite3"
    copy_database(demo_template["path"], target)
    return target


@pytest.fixture
def demo(demo_db) -> DemoAdapter:
    return DemoAdapter(demo_db)


@pytest.fixture
def login(demo):
    def login(case: str):
        return demo.authenticate(*credentials(case))

    return login


# --- the fixtures tests/adapters/contract.py asks for ------------------------------------------


@pytest.fixture
def adapter(demo) -> DemoAdapter:
    return demo


@pytest.fixture
def contract_patrons() -> dict[str, tuple[str, str]]:
    cases = {"regular": "regular", "hold-ready": "hold-ready", "first-login": "first-login",
             "blocked": "blocked", "other": "english"}
    return {case: credentials(demo_case) for case, demo_case in cases.items()}


@pytest.fixture
def contract_ids(demo_template) -> dict[str, str]:
    return {"holdable_record": demo_template["record"], "holdable_item": demo_template["item"],
            "unknown_record": UNKNOWN_RECORD, "unknown_card": UNKNOWN_CARD, "query": demo_template["title"]}


class DemoControl:
    """The library's side of the demo, as the contract suite drives it."""

    def __init__(self, adapter: DemoAdapter) -> None:
        self.adapter = adapter

    def checkin(self, item_id: str) -> None:
        self.adapter.checkin(item_id)


@pytest.fixture
def ils_control(demo) -> DemoControl:
    return DemoControl(demo)

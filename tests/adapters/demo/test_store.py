"""The demo ILS's SQLite store: seeded on first use, kept across restarts, reset, shared safely."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from adapters.demo import DemoAdapter
from adapters.demo.seed import PATRONS
from adapters.demo.store import CATALOGUE_PATH, MIN_RECORDS, CatalogueError, load_catalogue, set_meta
from adapters.errors import AuthenticationFailed, IlsUnavailable, Refused
from adapters.models import HoldRequest, Reason
from adapters.registry import adapter_class

from .conftest import credentials


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
    finally:
        conn.close()


def test_registered_and_built_from_config(tmp_path):
    assert adapter_class("demo") is DemoAdapter
    adapter = DemoAdapter.from_config({"DEMO_DATABASE": str(tmp_path / "x.sqlite3"), "DEMO_MAX_HOLDS": 2})
    assert adapter.rules.max_holds == 2 and adapter.store.path == tmp_path / "x.sqlite3"
    assert not adapter.store.path.exists(), "created on first use, not at start-up"
    with pytest.raises(ValueError, match="DEMO_DATABASE"):
        DemoAdapter.from_config({"DEMO_DATABASE": ""})


def test_the_shipped_catalogue():
    catalogue = load_catalogue(CATALOGUE_PATH)
    assert len(catalogue["records"]) >= MIN_RECORDS
    assert all(branch["name_ja"] and branch["name_en"] for branch in catalogue["branches"])


def test_a_malformed_catalogue_is_refused(tmp_path):
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"branches": [{"id": "A", "name_ja": "本館", "name_en": "Main"}], "records": []}))
    with pytest.raises(CatalogueError):
        load_catalogue(path)
    with pytest.raises(IlsUnavailable):
        DemoAdapter(tmp_path / "demo.sqlite3", catalogue_path=path).check_ready()


def test_seeded_on_first_use(tmp_path, demo_template):
    path = tmp_path / "sub" / "demo.sqlite3"
    adapter = DemoAdapter(path)
    adapter.check_ready()
    records = load_catalogue(CATALOGUE_PATH)["records"]
    assert count(path, "patrons") == len(PATRONS) and count(path, "records") == len(records)
    assert count(path, "items") == sum(record["copies"] for record in records)
    with adapter.store.transaction() as conn:
        barcodes = [row[0] for row in conn.execute("SELECT id FROM items")]
        hashes = [row[0] for row in conn.execute("SELECT password_hash FROM patrons")]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert all(re.fullmatch(r"I\d{4}-\d", barcode) for barcode in barcodes)
    assert not {patron.password for patron in PATRONS} & set(hashes)
    assert all(re.fullmatch(r"\d{10}", patron.card) for patron in PATRONS)


def test_state_survives_a_restart(demo_db):
    first = DemoAdapter(demo_db)
    card, password = credentials("regular")
    patron = first.authenticate(card, password)
    renewed = first.renew(patron.key, [first.loans(patron.key)[0].loan_id]).outcomes[0]
    hold = first.place_hold(patron.key, HoldRequest("R0100", "MAIN"))
    first.change_password(patron.key, password, "Changed2025")
    first.advance_clock(2)
    first.close()

    again = DemoAdapter(demo_db)
    assert again.authenticate(card, "Changed2025").key == patron.key
    with pytest.raises(AuthenticationFailed):
        again.authenticate(card, password)
    assert again.loans(patron.key)[-1].due_date == renewed.new_due_date
    assert hold.hold_id in {h.hold_id for h in again.holds(patron.key)}
    assert again.clock_offset() == 2


def test_reset_restores_the_seed(demo):
    card, password = credentials("first-login")
    patron = demo.authenticate(card, password)
    regular = demo.authenticate(*credentials("regular"))
    before = (demo.loans(regular.key), [(h.record_id, h.status) for h in demo.holds(regular.key)])
    demo.change_password(patron.key, password, "Changed2025")
    demo.renew_all(regular.key)
    demo.cancel_holds(regular.key, [h.hold_id for h in demo.holds(regular.key)])
    demo.advance_clock(5)

    demo.reset()
    assert demo.authenticate(card, password).must_change_password
    assert (demo.today(), demo.clock_offset()) == (date.today(), 0)
    loans = demo.loans(regular.key)
    assert [(loan.title, loan.due_date, loan.renewals_used) for loan in loans] == [
        (loan.title, loan.due_date, loan.renewals_used) for loan in before[0]]
    assert [(h.record_id, h.status) for h in demo.holds(regular.key)] == before[1]


def test_an_older_schema_is_replaced(demo_db):
    adapter = DemoAdapter(demo_db)
    patron = adapter.authenticate(*credentials("regular"))
    adapter.set_password(patron.key, "Changed2025")
    conn = sqlite3.connect(demo_db)
    with conn:
        set_meta(conn, "schema_version", "0")
    conn.close()
    assert DemoAdapter(demo_db).authenticate(*credentials("regular")).key == patron.key


def test_an_unusable_file_is_reported_as_unavailable(tmp_path):
    with pytest.raises(IlsUnavailable):
        DemoAdapter(tmp_path).check_ready()  # a directory, not a database


def test_threads_placing_the_same_hold(demo):
    patron = demo.authenticate(*credentials("regular"))
    barrier = threading.Barrier(8)

    def place(_):
        barrier.wait()
        try:
            return demo.place_hold(patron.key, HoldRequest("R0100", "MAIN")).hold_id
        except Refused as refused:
            return refused.reason

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(place, range(8)))
    assert sorted(map(str, results)).count(Reason.ALREADY_HELD.value) == 7
    assert len([h for h in demo.holds(patron.key) if h.record_id == "R0100"]) == 1


def test_separate_instances_renewing_one_loan(demo_db):
    adapters = [DemoAdapter(demo_db) for _ in range(6)]
    patron = adapters[0].authenticate(*credentials("regular"))
    loan_id = adapters[0].loans(patron.key)[0].loan_id
    barrier = threading.Barrier(len(adapters))

    def renew(adapter):
        barrier.wait()
        return adapter.renew(patron.key, [loan_id]).outcomes[0]

    def read(adapter):
        barrier.wait()
        return len(adapter.loans(patron.key))

    with ThreadPoolExecutor(len(adapters) * 2) as pool:
        renewals = pool.map(renew, adapters)
        reads = pool.map(read, [DemoAdapter(demo_db) for _ in adapters])
        outcomes, sizes = list(renewals), list(reads)
    assert [outcome.renewed for outcome in outcomes].count(True) == 1
    assert {outcome.reason for outcome in outcomes if not outcome.renewed} == {Reason.TOO_MANY_RENEWALS}
    assert set(sizes) == {3}


def _open_and_count(path: str) -> tuple[int, str]:
    adapter = DemoAdapter(path)
    return len(adapter.demo_patrons()), adapter.authenticate(*credentials("english")).display_name


def test_processes_seeding_one_new_file_at_once(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.map(_open_and_count, [path] * 3)
    assert results == [(len(PATRONS), "Emily Carter")] * 3
    assert count(Path(path), "patrons") == len(PATRONS)
    assert count(Path(path), "loans") > 30

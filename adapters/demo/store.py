"""The demo ILS's SQLite file: schema, connections, the clock, and seeding on first use.

Every operation opens its own connection (cheap for SQLite) and runs in one transaction, so the
file is safe to share between threads, gunicorn workers and the ``flask demo`` CLI. WAL lets
readers go on while one writer writes; writers take the lock up front (``BEGIN IMMEDIATE``) so two
of them never deadlock upgrading a read lock, and wait up to ``BUSY_TIMEOUT`` seconds for it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "3"  # 2: holds.suspended_until; 3: records.series, volume, volume_number
BUSY_TIMEOUT = 30.0
CATALOGUE_PATH = Path(__file__).parent / "data" / "catalogue.json"
MIN_RECORDS = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS branches (
    id TEXT PRIMARY KEY, name_ja TEXT NOT NULL, name_en TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, title_kana TEXT, author TEXT, publisher TEXT,
    year INTEGER, isbn TEXT, language TEXT, search_text TEXT NOT NULL, title_folded TEXT NOT NULL,
    series TEXT, volume TEXT, volume_number INTEGER);
CREATE INDEX IF NOT EXISTS records_series ON records(series, volume_number);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, record_id TEXT NOT NULL REFERENCES records(id),
    home_branch TEXT NOT NULL REFERENCES branches(id));
CREATE INDEX IF NOT EXISTS items_record ON items(record_id);
CREATE TABLE IF NOT EXISTS patrons (
    key TEXT PRIMARY KEY, card TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
    case_slug TEXT NOT NULL, display_name TEXT NOT NULL, language TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0,
    card_lost INTEGER NOT NULL DEFAULT 0, restricted INTEGER NOT NULL DEFAULT 0, card_expires TEXT);
CREATE TABLE IF NOT EXISTS fines (
    id INTEGER PRIMARY KEY AUTOINCREMENT, patron_key TEXT NOT NULL REFERENCES patrons(key),
    amount INTEGER NOT NULL, description TEXT NOT NULL, created_on TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS loans (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item_id TEXT NOT NULL UNIQUE REFERENCES items(id),
    patron_key TEXT NOT NULL REFERENCES patrons(key), checkout_date TEXT NOT NULL,
    due_date TEXT NOT NULL, renewals INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS loans_patron ON loans(patron_key);
-- status: waiting | suspended | in_transit | ready. item_id is the copy set aside once the hold is no longer
-- waiting, status_since the day it went in transit or ready. The queue is id order among waiting and
-- suspended holds: a suspended one keeps its place but is passed over until suspended_until or a resume.
CREATE TABLE IF NOT EXISTS holds (
    id INTEGER PRIMARY KEY AUTOINCREMENT, patron_key TEXT NOT NULL REFERENCES patrons(key),
    record_id TEXT NOT NULL REFERENCES records(id), pickup_branch TEXT NOT NULL REFERENCES branches(id),
    status TEXT NOT NULL, placed_on TEXT NOT NULL, item_id TEXT UNIQUE REFERENCES items(id),
    status_since TEXT, pickup_deadline TEXT, not_needed_after TEXT, suspended_until TEXT);
CREATE INDEX IF NOT EXISTS holds_patron ON holds(patron_key);
CREATE INDEX IF NOT EXISTS holds_record ON holds(record_id, status);
"""
# Children first, so that deleting in this order never breaks a foreign key.
TABLES = ("holds", "loans", "fines", "patrons", "items", "records", "branches", "meta")

_KANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}  # hiragana -> katakana
_IGNORED = re.compile(r"[\s・･]+")
_ISBNISH = re.compile(r"[0-9xX-]+")


def fold(text: str | None) -> str:
    """Text as search compares it: NFKC, case-folded, katakana for hiragana, no spaces or middle dots."""
    value = unicodedata.normalize("NFKC", text or "").casefold().translate(_KANA)
    return _IGNORED.sub("", value)


def search_terms(query: str) -> list[str]:
    """The query's terms, folded; an ISBN-like term loses its hyphens."""
    terms = []
    for raw in unicodedata.normalize("NFKC", query or "").split():
        term = fold(raw)
        if _ISBNISH.fullmatch(term) and any(char.isdigit() for char in term):
            term = term.replace("-", "")
        if term:
            terms.append(term)
    return terms


class CatalogueError(RuntimeError):
    """The shipped catalogue file is missing or malformed."""


@cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, Any]:
    """The shipped branches and records, checked enough that seeding cannot half-fail."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"cannot read the demo catalogue {path}: {exc}") from exc
    branches, records = data.get("branches") or [], data.get("records") or []
    if not branches or len(records) < MIN_RECORDS:
        raise CatalogueError(f"{path}: needs branches and at least {MIN_RECORDS} records")
    for record in records:
        if not record.get("id") or not record.get("title") or int(record.get("copies") or 0) < 1:
            raise CatalogueError(f"{path}: bad record {record.get('id')!r}")
    if len({record["id"] for record in records}) != len(records):
        raise CatalogueError(f"{path}: duplicate record ids")
    return data


def copy_database(source: Path, target: Path) -> Path:
    """Copy a live demo ILS file with SQLite's backup API (a file copy would miss the WAL); returns
    ``target``. The tests and benchmarks seed one library and serve copies of it."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


def item_ids(record_id: str, copies: int) -> list[str]:
    """Barcodes of a record's copies: R0001 -> I0001-1, I0001-2, ..."""
    stem = record_id[1:] if record_id[:1].upper() == "R" else record_id
    return [f"I{stem}-{copy}" for copy in range(1, copies + 1)]


class Store:
    """One SQLite file. ``clock_offset`` days are added to the real date to give the demo's today."""

    def __init__(self, path: str | Path, catalogue_path: Path = CATALOGUE_PATH) -> None:
        self.path = Path(path)
        self.catalogue_path = catalogue_path
        self._ready = False
        self._lock = threading.Lock()

    # --- connections ----------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def transaction(self, *, write: bool = False, conn: sqlite3.Connection | None = None
                    ) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction, committed on success. A connection of the caller's
        (``conn``, from :meth:`connection`) is used and left open; else one is opened and closed."""
        self.ensure()
        with self._raw_transaction(write=write, conn=conn) as active:
            yield active

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """One connection for several transactions in a row (opening one costs as much as a query)."""
        self.ensure()
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _raw_transaction(self, *, write: bool, conn: sqlite3.Connection | None = None
                         ) -> Iterator[sqlite3.Connection]:
        own = conn is None
        conn = self.connect() if conn is None else conn
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            if own:
                conn.close()

    # --- creation and seeding -------------------------------------------------------------

    def ensure(self) -> None:
        """Create and seed the file unless this process has already seen it ready."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self.connect()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()
            with self._raw_transaction(write=False) as conn:
                current = self._current_in(conn)
            if not current:
                self._seed(replace=False)
            self._ready = True

    def reset(self) -> None:
        """Throw every change away and seed afresh, relative to the real today (clock back to zero)."""
        self.ensure()
        self._seed(replace=True)

    def _seed(self, *, replace: bool) -> None:
        from adapters.demo.seed import build_seed  # the seed needs the catalogue helpers above

        today = date.today()
        plan = build_seed(load_catalogue(self.catalogue_path), today)  # hashing is slow: outside the lock
        with self._raw_transaction(write=True) as conn:
            if not replace and self._current_in(conn):
                return  # another process seeded it while we were hashing
            self._drop_old_schema(conn)
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)  # executescript would commit the open transaction
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are constants
            for table, rows in plan.items():
                for row in rows:
                    columns = ", ".join(row)
                    marks = ", ".join("?" for _ in row)
                    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))  # noqa: S608
            for key, value in {
                "schema_version": SCHEMA_VERSION,
                "seeded_on": today.isoformat(),
                "processed_on": today.isoformat(),
                "clock_offset": "0",
            }.items():
                set_meta(conn, key, value)

    @staticmethod
    def _current_in(conn: sqlite3.Connection) -> bool:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        return bool(exists) and get_meta(conn, "schema_version") == SCHEMA_VERSION

    @staticmethod
    def _drop_old_schema(conn: sqlite3.Connection) -> None:
        """A file from an older schema is demo data only: drop it rather than migrate."""
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if exists and get_meta(conn, "schema_version") not in (None, SCHEMA_VERSION):
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")

    # --- the clock ------------------------------------------------------------------------

    def clock_offset(self, conn: sqlite3.Connection) -> int:
        return int(get_meta(conn, "clock_offset") or 0)

    def today(self, conn: sqlite3.Connection) -> date:
        return date.today() + timedelta(days=self.clock_offset(conn))


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row["value"]


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )

"""``DemoAdapter``: the embedded ILS a fresh install runs on, with a real library's rules.

Patron-side operations implement the contract; the library-side ones (``checkin``, ``checkout``,
``advance_clock``, ``reset``) serve the ``flask demo`` CLI and the tests. Loan ids are ``L<n>``, hold
ids ``H<n>``, patron keys ``P<nnn>``; record ids and item barcodes come from the catalogue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from werkzeug.security import check_password_hash, generate_password_hash

from adapters.base import IlsAdapter
from adapters.demo import circulation
from adapters.demo.queries import (
    LOANS_SQL,
    ONE_HOLD_SQL,
    PATRON_HOLDS_SQL,
    RECORD_COLUMNS,
    hold_from_row,
    loan_from_row,
    record_from_row,
)
from adapters.demo.rules import RENEWAL_BLOCKS, DemoRules
from adapters.demo.seed import PATRONS
from adapters.demo.store import CATALOGUE_PATH, CatalogueError, Store, get_meta, search_terms, set_meta
from adapters.errors import AccountLocked, AuthenticationFailed, IlsUnavailable, InvalidInput, RecordNotFound, Refused
from adapters.models import (
    AccountBlock,
    AccountSummary,
    CancelOutcome,
    Capability,
    Hold,
    HoldRequest,
    Loan,
    Patron,
    PickupLocation,
    Reason,
    Record,
    RenewalOutcome,
    RenewalResult,
    SearchResult,
)
from adapters.validation import PASSWORD_MAX, check_safe_text, normalize_card_number

MAX_PER_PAGE = 100


@cache
def _dummy_hash() -> str:
    """Checked against for an unknown card, so that it takes as long as a wrong password."""
    return generate_password_hash("no such patron")


class DemoAdapter(IlsAdapter):
    name: ClassVar[str] = "demo"
    capabilities = frozenset(Capability) - {Capability.PATRON_EMAIL}

    def __init__(self, database: str | Path, *, rules: DemoRules | None = None,
                 catalogue_path: Path = CATALOGUE_PATH) -> None:
        self.store = Store(database, catalogue_path)
        self.rules = rules or DemoRules()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DemoAdapter:
        database = config.get("DEMO_DATABASE")
        if not database:
            raise ValueError("DEMO_DATABASE is empty: set it to the demo ILS's SQLite file")
        return cls(database, rules=DemoRules.from_config(config))

    # --- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A transaction, after the days since the last operation have been played through."""
        try:
            with self.store.connection() as conn:
                with self.store.transaction(conn=conn):
                    stale = (get_meta(conn, "processed_on") or "") < self.store.today(conn).isoformat()
                if stale:
                    with self.store.transaction(write=True, conn=conn):
                        circulation.catch_up(conn, self.store.today(conn), self.rules)
                with self.store.transaction(write=write, conn=conn):
                    yield conn
        except (sqlite3.Error, CatalogueError) as exc:
            raise IlsUnavailable("the demo ILS database failed") from exc

    def today(self) -> date:
        with self._tx() as conn:
            return self.store.today(conn)

    def check_ready(self) -> None:
        with self._tx() as conn:
            conn.execute("SELECT 1 FROM records LIMIT 1").fetchone()

    def _patron_row(self, conn: sqlite3.Connection, patron_key: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM patrons WHERE key = ?", (patron_key,)).fetchone()
        if row is None:
            raise AuthenticationFailed("unknown patron")  # a session outliving `flask demo reset`
        return row

    def _blocks(self, conn: sqlite3.Connection, row: sqlite3.Row, today: date) -> tuple[AccountBlock, ...]:
        fines = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM fines WHERE patron_key = ?", (row["key"],))
        overdue = conn.execute("SELECT COUNT(*) FROM loans WHERE patron_key = ? AND due_date < ?",
                               (row["key"], today.isoformat()))
        holds = conn.execute("SELECT COUNT(*) FROM holds WHERE patron_key = ?", (row["key"],))
        codes = self.rules.blocks(
            today=today, card_expires=date.fromisoformat(row["card_expires"]) if row["card_expires"] else None,
            card_lost=bool(row["card_lost"]), restricted=bool(row["restricted"]), fines=Decimal(fines.fetchone()[0]),
            overdue_loans=overdue.fetchone()[0], holds_count=holds.fetchone()[0],
        )
        return tuple(AccountBlock(code) for code in codes)

    def _patron(self, conn: sqlite3.Connection, row: sqlite3.Row) -> Patron:
        return Patron(key=row["key"], card_number=row["card"], display_name=row["display_name"],
                      must_change_password=bool(row["must_change_password"]),
                      blocks=self._blocks(conn, row, self.store.today(conn)))

    # --- patron ---------------------------------------------------------------------------

    def authenticate(self, card_number: str, password: str) -> Patron:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            card = ""
        with self._tx() as conn:
            row = conn.execute("SELECT key, password_hash, locked FROM patrons WHERE card = ?", (card,)).fetchone()
        # Hashing is slow on purpose: done outside any transaction, and for an unknown card too.
        stored = row["password_hash"] if row is not None else _dummy_hash()
        if not check_password_hash(stored, password or "") or row is None:
            raise AuthenticationFailed("wrong card number or password")
        if row["locked"]:
            raise AccountLocked("the account is locked")
        return self.patron(row["key"])

    def patron(self, patron_key: str) -> Patron:
        with self._tx() as conn:
            return self._patron(conn, self._patron_row(conn, patron_key))

    def find_patron(self, card_number: str) -> Patron | None:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            return None
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM patrons WHERE card = ?", (card,)).fetchone()
            return None if row is None else self._patron(conn, row)

    def account_summary(self, patron_key: str) -> AccountSummary:
        with self._tx() as conn:
            row = self._patron_row(conn, patron_key)
            today = self.store.today(conn).isoformat()
            loans, overdue = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(due_date < ?), 0) FROM loans WHERE patron_key = ?", (today, patron_key)
            ).fetchone()
            holds, ready = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'ready'), 0) FROM holds WHERE patron_key = ?", (patron_key,)
            ).fetchone()
            fines = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM fines WHERE patron_key = ?", (patron_key,))
            blocks = self._blocks(conn, row, date.fromisoformat(today))
            return AccountSummary(loans=loans, overdue=overdue, holds=holds, holds_ready=ready,
                                  fines=Decimal(fines.fetchone()[0]), blocks=blocks)

    def change_password(self, patron_key: str, current: str, new: str) -> None:
        with self._tx() as conn:
            old_hash = self._patron_row(conn, patron_key)["password_hash"]
        if not check_password_hash(old_hash, current or ""):
            raise AuthenticationFailed("wrong password")
        if not self._store_password(patron_key, new, replacing=old_hash):
            raise AuthenticationFailed("the password was changed meanwhile")

    def set_password(self, patron_key: str, new: str) -> None:
        with self._tx() as conn:
            self._patron_row(conn, patron_key)
        self._store_password(patron_key, new)

    def _store_password(self, patron_key: str, new: str, replacing: str | None = None) -> bool:
        """Store the new hash (computed outside the write lock); False if ``replacing`` is no longer current."""
        check_safe_text(new, PASSWORD_MAX, allow_delimiter=True)
        if not new:
            raise InvalidInput("empty password")
        new_hash = generate_password_hash(new)
        with self._tx(write=True) as conn:
            changed = conn.execute(
                "UPDATE patrons SET password_hash = ?, must_change_password = 0"
                " WHERE key = ? AND password_hash = COALESCE(?, password_hash)",
                (new_hash, patron_key, replacing),
            ).rowcount
        return changed == 1

    # --- loans ----------------------------------------------------------------------------

    def _loans(self, conn: sqlite3.Connection, patron_key: str) -> list[Loan]:
        row = self._patron_row(conn, patron_key)
        today = self.store.today(conn)
        restricted = self.rules.restricts(tuple(block.code for block in self._blocks(conn, row, today)))
        rows = conn.execute(LOANS_SQL, (patron_key,)).fetchall()
        has_overdue = any(self.rules.is_overdue(date.fromisoformat(loan["due_date"]), today) for loan in rows)
        return [loan_from_row(loan, today, self.rules, has_overdue, restricted) for loan in rows]

    def loans(self, patron_key: str) -> list[Loan]:
        with self._tx() as conn:
            return self._loans(conn, patron_key)

    def _renew(self, patron_key: str, loans: Sequence[Loan]) -> RenewalResult:
        with self._tx(write=True) as conn:
            current = {loan.loan_id: loan for loan in self._loans(conn, patron_key)}
            today = self.store.today(conn)
            blocks = tuple(block for block in self._blocks(conn, self._patron_row(conn, patron_key), today)
                           if block.code in RENEWAL_BLOCKS)
            outcomes = []
            for requested in loans:
                loan = current.get(requested.loan_id)
                if loan is None:  # returned since the list was read
                    outcomes.append(RenewalOutcome(requested.loan_id, False, requested.title, reason=Reason.NOT_FOUND))
                    continue
                reason = loan.forecast.reason
                if reason is not None or loan.due_date is None:
                    outcomes.append(RenewalOutcome(loan.loan_id, False, loan.title, reason=reason or Reason.OTHER))
                    continue
                due = self.rules.renewed_due_date(loan.due_date, today)
                conn.execute("UPDATE loans SET due_date = ?, renewals = renewals + 1 WHERE id = ? AND patron_key = ?",
                             (due.isoformat(), _number(loan.loan_id), patron_key))
                outcomes.append(RenewalOutcome(loan.loan_id, True, loan.title, new_due_date=due))
            return RenewalResult(outcomes=tuple(outcomes), blocks=blocks)

    # --- holds ----------------------------------------------------------------------------

    def holds(self, patron_key: str) -> list[Hold]:
        with self._tx() as conn:
            self._patron_row(conn, patron_key)
            return [hold_from_row(row) for row in conn.execute(PATRON_HOLDS_SQL, (patron_key,)).fetchall()]

    def branch_names(self, lang: str = "ja") -> dict[str, str]:
        """Branch id -> name in ``lang`` ("ja" or "en"), in the library's order."""
        column = "name_en" if lang == "en" else "name_ja"
        with self._tx() as conn:
            return {row["id"]: row[column] for row in conn.execute("SELECT * FROM branches ORDER BY position")}

    def pickup_locations(self, patron_key: str, record_id: str | None = None) -> list[PickupLocation]:
        with self._tx() as conn:
            self._patron_row(conn, patron_key)
            rows = conn.execute("SELECT id, name_ja, name_en FROM branches ORDER BY position").fetchall()
            return [PickupLocation(row["id"], row["name_ja"], (("en", row["name_en"]),)) for row in rows]

    def place_hold(self, patron_key: str, request: HoldRequest) -> Hold:
        with self._tx(write=True) as conn:
            patron = self._patron_row(conn, patron_key)
            today = self.store.today(conn)
            if request.not_needed_after is not None and request.not_needed_after < today:
                raise InvalidInput("not_needed_after is in the past")
            record_id = request.record_id
            if conn.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)).fetchone() is None:
                raise RecordNotFound(record_id)
            held = conn.execute("SELECT COUNT(*), COALESCE(SUM(record_id = ?), 0) FROM holds WHERE patron_key = ?",
                                (record_id, patron_key)).fetchone()
            reason = self.rules.hold_refusal(
                account_blocked=self.rules.restricts(tuple(b.code for b in self._blocks(conn, patron, today))),
                pickup_valid=conn.execute("SELECT 1 FROM branches WHERE id = ?",
                                          (request.pickup_location_id,)).fetchone() is not None,
                already_on_loan=conn.execute(
                    "SELECT 1 FROM loans l JOIN items i ON i.id = l.item_id WHERE l.patron_key = ? AND i.record_id = ?",
                    (patron_key, record_id)).fetchone() is not None,
                already_held=bool(held[1]),
                holds_count=held[0],
            )
            if reason is not None:
                raise Refused(reason)
            hold_id = conn.execute(
                "INSERT INTO holds (patron_key, record_id, pickup_branch, status, placed_on, not_needed_after)"
                " VALUES (?, ?, ?, 'waiting', ?, ?)",
                (patron_key, record_id, request.pickup_location_id, today.isoformat(),
                 request.not_needed_after.isoformat() if request.not_needed_after else None),
            ).lastrowid
            # A copy on the shelf is pulled by staff the next morning (circulation._new_day), so a new
            # hold stays waiting, and cancellable, for the rest of the day.
            row = conn.execute(ONE_HOLD_SQL, (hold_id,)).fetchone()
            return hold_from_row(row)

    def _cancel_holds(self, patron_key: str, holds: Sequence[Hold]) -> list[CancelOutcome]:
        with self._tx(write=True) as conn:
            today = self.store.today(conn)
            outcomes = []
            for requested in holds:
                row = conn.execute("SELECT * FROM holds WHERE id = ? AND patron_key = ?",
                                   (_number(requested.hold_id), patron_key)).fetchone()
                if row is None:
                    outcomes.append(CancelOutcome(requested.hold_id, False, requested.title, Reason.NOT_FOUND))
                elif row["status"] == "in_transit":
                    outcomes.append(CancelOutcome(requested.hold_id, False, requested.title, Reason.NOT_CANCELLABLE))
                else:
                    conn.execute("DELETE FROM holds WHERE id = ?", (row["id"],))
                    if row["item_id"]:  # a ready copy passes to the next in the queue, there on the shelf
                        circulation.fill_next_hold(conn, row["item_id"], row["pickup_branch"], today, self.rules)
                    outcomes.append(CancelOutcome(requested.hold_id, True, requested.title))
            return outcomes

    def _change_pickup(self, patron_key: str, hold: Hold, location_id: str) -> None:
        """Only a hold still in the queue moves: a copy set aside travels to the branch it was set aside for."""
        with self._tx(write=True) as conn:
            if conn.execute("SELECT 1 FROM branches WHERE id = ?", (location_id,)).fetchone() is None:
                raise Refused(Reason.INVALID_PICKUP)
            moved = conn.execute(
                "UPDATE holds SET pickup_branch = ? WHERE id = ? AND patron_key = ? AND status IN ('waiting', 'suspended')",
                (location_id, _number(hold.hold_id), patron_key),
            ).rowcount
            if not moved:  # set aside (or gone) since the holds were read
                raise Refused(Reason.HOLD_FOUND)

    def hold_limit(self, patron_key: str) -> int | None:
        return self.rules.max_holds

    def _suspend_hold(self, patron_key: str, hold: Hold, until: date | None) -> Hold:
        """A waiting hold keeps its place in the queue but is passed over until ``until`` or a resume."""
        with self._tx(write=True) as conn:
            if until is not None and until <= self.store.today(conn):
                raise InvalidInput("suspended_until must be in the future")
            updated = conn.execute(
                "UPDATE holds SET status = 'suspended', suspended_until = ? WHERE id = ? AND status = 'waiting'",
                (until.isoformat() if until else None, _number(hold.hold_id)),
            ).rowcount
            if not updated:
                raise Refused(Reason.NOT_CANCELLABLE)  # already set aside for the patron, or suspended
            return hold_from_row(conn.execute(ONE_HOLD_SQL, (_number(hold.hold_id),)).fetchone())

    def _resume_hold(self, patron_key: str, hold: Hold) -> Hold:
        with self._tx(write=True) as conn:
            conn.execute("UPDATE holds SET status = 'waiting', suspended_until = NULL WHERE id = ? AND status = 'suspended'",
                         (_number(hold.hold_id),))
            return hold_from_row(conn.execute(ONE_HOLD_SQL, (_number(hold.hold_id),)).fetchone())

    # --- catalogue ------------------------------------------------------------------------

    def search(self, query: str, page: int = 1, per_page: int = 20) -> SearchResult:
        page, per_page = max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))
        terms = search_terms(query)
        if not terms:
            return SearchResult(query=query, records=(), total=0, page=page, per_page=per_page)
        where = " AND ".join("instr(r.search_text, ?) > 0" for _ in terms)
        with self._tx() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM records r WHERE {where}", terms).fetchone()[0]  # noqa: S608
            rows = conn.execute(
                f"SELECT {RECORD_COLUMNS} FROM records r WHERE {where}"  # noqa: S608 - only placeholders vary
                " ORDER BY instr(r.title_folded, ?) = 0, r.title_folded, r.id LIMIT ? OFFSET ?",
                [*terms, terms[0], per_page, (page - 1) * per_page],
            ).fetchall()
        return SearchResult(query=query, records=tuple(map(record_from_row, rows)), total=total,
                            page=page, per_page=per_page)

    def record(self, record_id: str) -> Record:
        with self._tx() as conn:
            row = conn.execute(f"SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = ?", (record_id,)).fetchone()  # noqa: S608
        if row is None:
            raise RecordNotFound(record_id)
        return record_from_row(row)

    def series_volumes(self, record: Record) -> list[Record]:
        if record.volume is None:
            return []
        with self._tx() as conn:
            rows = conn.execute(f"SELECT {RECORD_COLUMNS} FROM records r WHERE r.series = ?"  # noqa: S608
                                " AND r.volume_number IS NOT NULL ORDER BY r.volume_number, r.id",
                                (record.volume.series,)).fetchall()
        return [record_from_row(row) for row in rows]

    # --- the library's side: the CLI and the tests ----------------------------------------

    def demo_patrons(self) -> list[dict[str, str]]:
        """The seeded patrons with their seeded passwords (``flask demo reset`` restores them)."""
        return [{"card": p.card, "password": p.password, "case": p.case, "name": p.name} for p in PATRONS]

    def reset(self) -> None:
        try:
            self.store.reset()
        except (sqlite3.Error, CatalogueError) as exc:
            raise IlsUnavailable("the demo ILS database failed") from exc

    def checkin(self, item_id: str) -> list[circulation.Event]:
        with self._tx(write=True) as conn:
            return circulation.checkin(conn, item_id, self.store.today(conn), self.rules)

    def checkout(self, card_number: str, item_id: str) -> circulation.Event:
        with self._tx(write=True) as conn:
            row = conn.execute("SELECT key FROM patrons WHERE card = ?", (normalize_card_number(card_number),))
            patron = row.fetchone()
            if patron is None:
                raise circulation.CirculationError(f"no patron with card {card_number!r}")
            return circulation.checkout(conn, patron["key"], item_id, self.store.today(conn), self.rules)

    def clock_offset(self) -> int:
        with self._tx() as conn:
            return self.store.clock_offset(conn)

    def advance_clock(self, days: int) -> list[circulation.Event]:
        """Move the demo's today ``days`` forward and play the days through."""
        if days < 0:
            raise ValueError("the demo clock only moves forward (use reset_clock or reset)")
        with self._tx(write=True) as conn:
            set_meta(conn, "clock_offset", str(self.store.clock_offset(conn) + days))
            return circulation.catch_up(conn, self.store.today(conn), self.rules)

    def reset_clock(self) -> None:
        """Back to the real date. Days already played stay played; ``reset`` starts afresh."""
        with self._tx(write=True) as conn:
            set_meta(conn, "clock_offset", "0")


def _number(identifier: str) -> int:
    """``H12`` -> 12; anything else -> -1, which matches nothing."""
    digits = (identifier or "")[1:]
    return int(digits) if digits.isdigit() else -1


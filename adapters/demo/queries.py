"""The demo ILS's read queries, and turning their rows into the contract's dataclasses."""

from __future__ import annotations

import sqlite3
from datetime import date

from adapters.demo.rules import DemoRules
from adapters.models import Hold, HoldStatus, Loan, PickupLocation, Record, Volume

LOANS_SQL = """
SELECT l.id, l.item_id, l.checkout_date, l.due_date, l.renewals, r.id AS record_id, r.title, r.author,
       (SELECT COUNT(*) FROM holds h WHERE h.record_id = r.id AND h.status = 'waiting'
                                       AND h.patron_key != l.patron_key) AS others_waiting
FROM loans l JOIN items i ON i.id = l.item_id JOIN records r ON r.id = i.record_id
WHERE l.patron_key = ? ORDER BY l.due_date, l.id
"""

# Ready first (soonest deadline first), then in transit, then waiting; the queue is id order.
HOLDS_SQL = """
SELECT h.*, r.title, r.author, b.name_ja AS branch_name, b.name_en AS branch_name_en,
       CASE WHEN h.status IN ('waiting', 'suspended') THEN 1 + (
           SELECT COUNT(*) FROM holds q WHERE q.record_id = h.record_id
           AND q.status IN ('waiting', 'suspended') AND q.id < h.id) END AS queue_position
FROM holds h JOIN records r ON r.id = h.record_id JOIN branches b ON b.id = h.pickup_branch
WHERE {where}
ORDER BY CASE h.status WHEN 'ready' THEN 0 WHEN 'in_transit' THEN 1 ELSE 2 END, h.pickup_deadline, h.id
"""
PATRON_HOLDS_SQL = HOLDS_SQL.format(where="h.patron_key = ?")
ONE_HOLD_SQL = HOLDS_SQL.format(where="h.id = ?")

RECORD_COLUMNS = """
r.*, (SELECT COUNT(*) FROM items i WHERE i.record_id = r.id) AS copies,
(SELECT COUNT(*) FROM items i WHERE i.record_id = r.id AND i.id NOT IN (SELECT item_id FROM loans)
    AND i.id NOT IN (SELECT item_id FROM holds WHERE item_id IS NOT NULL)) AS available,
(SELECT COUNT(*) FROM holds h WHERE h.record_id = r.id) AS holds
"""


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def loan_from_row(row: sqlite3.Row, today: date, rules: DemoRules, has_overdue: bool, restricted: bool) -> Loan:
    """A loan with its overdue/due-soon flags and renewal forecast as of ``today``."""
    due = date.fromisoformat(row["due_date"])
    forecast = rules.renewal_forecast(
        today=today, due=due, renewals_used=row["renewals"], patron_has_overdue=has_overdue,
        others_waiting=row["others_waiting"] > 0, account_blocked=restricted,
    )
    return Loan(
        loan_id=f"L{row['id']}", item_id=row["item_id"], title=row["title"], due_date=due, author=row["author"],
        record_id=row["record_id"], checkout_date=_date(row["checkout_date"]),
        overdue=rules.is_overdue(due, today), due_soon=rules.is_due_soon(due, today),
        renewals_used=row["renewals"], renewals_allowed=rules.max_renewals, forecast=forecast,
    )


def hold_from_row(row: sqlite3.Row) -> Hold:
    status = HoldStatus(row["status"])
    return Hold(
        hold_id=f"H{row['id']}", title=row["title"], status=status, record_id=row["record_id"], author=row["author"],
        queue_position=row["queue_position"], pickup_location=PickupLocation(
            row["pickup_branch"], row["branch_name"], (("en", row["branch_name_en"]),)),
        pickup_deadline=_date(row["pickup_deadline"]) if status is HoldStatus.READY else None,
        not_needed_after=_date(row["not_needed_after"]), placed_on=_date(row["placed_on"]),
        cancellable=status is not HoldStatus.IN_TRANSIT,
        suspended_until=_date(row["suspended_until"]) if status is HoldStatus.SUSPENDED else None,
    )


def record_from_row(row: sqlite3.Row) -> Record:
    return Record(
        record_id=row["id"], title=row["title"], author=row["author"], isbn=row["isbn"], publisher=row["publisher"],
        year=row["year"], language=row["language"], copies=row["copies"], available=row["available"],
        holds=row["holds"],
        volume=Volume(row["series"], row["volume"] or str(row["volume_number"]), row["volume_number"])
        if row["series"] and row["volume_number"] is not None else None,
    )

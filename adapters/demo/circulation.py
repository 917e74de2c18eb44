"""What happens at the library's desk in the demo ILS: check-in, check-out, the hold queue, the days.

A hold waits in a queue per record (oldest first). When a copy comes free it is set aside for the
first waiting hold: READY at once if the copy is where the patron will collect it, else IN_TRANSIT.
A copy still on the shelf when a hold is placed is pulled for it: IN_TRANSIT (being fetched or sent)
that day. Each new demo day, holds in transit since an earlier day arrive (READY, kept
``hold_shelf_days``); READY holds past their pickup deadline expire and their copy passes to the next
in the queue; waiting holds past their ``not_needed_after`` lapse. The days are processed one by one
when the clock moves or the real date changes, so ``flask demo clock +10`` plays every day through.

Every function works inside the caller's write transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta

from adapters.demo.rules import DemoRules
from adapters.demo.store import get_meta, set_meta

MAX_CATCH_UP_DAYS = 366


class CirculationError(Exception):
    """A desk action that cannot be done (unknown item, already on loan, ...); the message says why."""


@dataclass(frozen=True)
class Event:
    """Something the library did, for the CLI to print."""

    kind: str  # returned, lent, ready, in_transit, arrived, expired, lapsed
    hold_id: int | None = None
    item_id: str | None = None
    patron_key: str | None = None
    day: date | None = None  # when it happened; for "lent", the due date


def free_items(conn: sqlite3.Connection, record_id: str) -> list[sqlite3.Row]:
    """The record's copies neither on loan nor set aside for a hold."""
    return conn.execute(
        "SELECT i.id, i.home_branch FROM items i WHERE i.record_id = ?"
        " AND i.id NOT IN (SELECT item_id FROM loans)"
        " AND i.id NOT IN (SELECT item_id FROM holds WHERE item_id IS NOT NULL) ORDER BY i.id",
        (record_id,),
    ).fetchall()


def set_aside(conn: sqlite3.Connection, hold: sqlite3.Row, item_id: str, at_branch: str | None, day: date,
              rules: DemoRules) -> Event:
    """Give ``item_id`` (now at ``at_branch``, None if still to be fetched) to ``hold``."""
    if at_branch == hold["pickup_branch"]:
        conn.execute(
            "UPDATE holds SET status = 'ready', item_id = ?, status_since = ?, pickup_deadline = ? WHERE id = ?",
            (item_id, day.isoformat(), rules.pickup_deadline(day).isoformat(), hold["id"]),
        )
        return Event("ready", hold["id"], item_id, hold["patron_key"], day)
    conn.execute(
        "UPDATE holds SET status = 'in_transit', item_id = ?, status_since = ?, pickup_deadline = NULL WHERE id = ?",
        (item_id, day.isoformat(), hold["id"]),
    )
    return Event("in_transit", hold["id"], item_id, hold["patron_key"], day)


def fill_next_hold(conn: sqlite3.Connection, item_id: str, at_branch: str, day: date,
                   rules: DemoRules) -> Event | None:
    """Set a free copy aside for the first waiting hold on its record, if there is one."""
    hold = conn.execute(
        "SELECT h.* FROM holds h JOIN items i ON i.record_id = h.record_id"
        " WHERE i.id = ? AND h.status = 'waiting' ORDER BY h.id LIMIT 1",
        (item_id,),
    ).fetchone()
    return None if hold is None else set_aside(conn, hold, item_id, at_branch, day, rules)


def checkin(conn: sqlite3.Connection, item_id: str, today: date, rules: DemoRules) -> list[Event]:
    """Return a copy at its home branch; the first waiting hold on the record gets it."""
    item = _item(conn, item_id)
    held = conn.execute("SELECT id FROM holds WHERE item_id = ?", (item["id"],)).fetchone()
    if held is not None:
        raise CirculationError(f"{item['id']} is set aside for hold H{held['id']}")
    events = []
    loan = conn.execute("SELECT * FROM loans WHERE item_id = ?", (item["id"],)).fetchone()
    if loan is not None:
        conn.execute("DELETE FROM loans WHERE id = ?", (loan["id"],))
        events.append(Event("returned", item_id=item["id"], patron_key=loan["patron_key"], day=today))
    filled = fill_next_hold(conn, item["id"], item["home_branch"], today, rules)
    return events + ([filled] if filled else [])


def checkout(conn: sqlite3.Connection, patron_key: str, item_id: str, today: date, rules: DemoRules) -> Event:
    """Lend a copy; a hold of this patron's on the record is thereby fulfilled."""
    item = _item(conn, item_id)
    if conn.execute("SELECT 1 FROM loans WHERE item_id = ?", (item["id"],)).fetchone():
        raise CirculationError(f"{item['id']} is already on loan")
    held = conn.execute("SELECT * FROM holds WHERE item_id = ?", (item["id"],)).fetchone()
    if held is not None and held["patron_key"] != patron_key:
        raise CirculationError(f"{item['id']} is set aside for another patron's hold H{held['id']}")
    conn.execute("DELETE FROM holds WHERE patron_key = ? AND record_id = ? AND (item_id IS NULL OR item_id = ?)",
                 (patron_key, item["record_id"], item["id"]))
    due = today + timedelta(days=rules.loan_period_days)
    conn.execute("INSERT INTO loans (item_id, patron_key, checkout_date, due_date) VALUES (?, ?, ?, ?)",
                 (item["id"], patron_key, today.isoformat(), due.isoformat()))
    return Event("lent", item_id=item["id"], patron_key=patron_key, day=due)


def catch_up(conn: sqlite3.Connection, today: date, rules: DemoRules) -> list[Event]:
    """Play every day since the last one processed, up to ``today``."""
    done = get_meta(conn, "processed_on")
    day = date.fromisoformat(done) if done else today
    day = max(day, today - timedelta(days=MAX_CATCH_UP_DAYS))
    events: list[Event] = []
    while day < today:
        day += timedelta(days=1)
        events += _new_day(conn, day, rules)
    if done is None or done < today.isoformat():
        set_meta(conn, "processed_on", today.isoformat())
    return events


def _new_day(conn: sqlite3.Connection, day: date, rules: DemoRules) -> list[Event]:
    iso = day.isoformat()
    events = []
    conn.execute("UPDATE holds SET status = 'waiting', suspended_until = NULL"
                 " WHERE status = 'suspended' AND suspended_until <= ?", (iso,))
    pulled = _pull_shelf_copies(conn, day, rules)  # set aside today; they travel overnight
    for hold in conn.execute("SELECT * FROM holds WHERE status = 'in_transit' AND status_since < ?", (iso,)).fetchall():
        conn.execute("UPDATE holds SET status = 'ready', status_since = ?, pickup_deadline = ? WHERE id = ?",
                     (iso, rules.pickup_deadline(day).isoformat(), hold["id"]))
        events.append(Event("arrived", hold["id"], hold["item_id"], hold["patron_key"], day))
    for hold in conn.execute("SELECT * FROM holds WHERE status = 'ready' AND pickup_deadline < ?", (iso,)).fetchall():
        conn.execute("DELETE FROM holds WHERE id = ?", (hold["id"],))
        events.append(Event("expired", hold["id"], hold["item_id"], hold["patron_key"], day))
        filled = fill_next_hold(conn, hold["item_id"], hold["pickup_branch"], day, rules)
        events += [filled] if filled else []
    lapsed = conn.execute("SELECT * FROM holds WHERE status IN ('waiting', 'suspended') AND not_needed_after < ?",
                          (iso,))
    for hold in lapsed.fetchall():
        conn.execute("DELETE FROM holds WHERE id = ?", (hold["id"],))
        events.append(Event("lapsed", hold["id"], None, hold["patron_key"], day))
    return events + pulled


def _pull_shelf_copies(conn: sqlite3.Connection, day: date, rules: DemoRules) -> list[Event]:
    """The morning pick list: a waiting hold whose record has a copy on the shelf gets that copy,
    ready at once if it sits at the pickup branch, else in transit until the next day."""
    events = []
    for hold in conn.execute("SELECT * FROM holds WHERE status = 'waiting' ORDER BY id").fetchall():
        free = free_items(conn, hold["record_id"])
        if free:
            copy = next((item for item in free if item["home_branch"] == hold["pickup_branch"]), free[0])
            events.append(set_aside(conn, hold, copy["id"], copy["home_branch"], day, rules))
    return events


def _item(conn: sqlite3.Connection, item_id: str) -> sqlite3.Row:
    item = conn.execute("SELECT * FROM items WHERE id = ?", ((item_id or "").strip().upper(),)).fetchone()
    if item is None:
        raise CirculationError(f"no item {item_id!r}")
    return item

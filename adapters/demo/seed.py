"""The demo's patrons, each showing one case, and the loans and holds that make the case.

Every date is relative to the day of seeding, so the cases hold whenever the demo is (re)seeded.
The seeded passwords are public on purpose (``flask demo patrons`` prints them); the store keeps
only their hashes. With the default rules (renewal window 7 days, due soon 3 days):

- ``regular``: three loans (one due soon and renewable, one renewable, one not yet), two waiting holds.
- ``first-login``: the initial password (a birth date) must be changed at the first login; one
  loan renewable now, one not yet.
- ``overdue``: two overdue loans, so no renewals at all (PATRON_HAS_OVERDUE, block OVERDUE_LOANS).
- ``hold-ready``: one hold ready for pickup, one in transit, one waiting third in the queue
  (behind ``english`` and ``regular``).
- ``blocked``: the card expired ten days ago: logs in, sees the block, can neither renew nor hold.
- ``many-loans``: thirty loans and ten holds, the hold limit.
- ``renewable``: renewable, already renewed, reserved by another patron, and not-yet loans.
- ``fines``: owes 2,500 yen for a damaged book, over the 1,000 yen limit.
- ``locked``: the account is locked: logging in is refused even with the right password.
- ``english``: an English-speaking patron with English books.
- ``background``: the town's other readers, who hold the other copies of reserved books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from werkzeug.security import generate_password_hash

from adapters.demo.store import fold, item_ids


@dataclass(frozen=True)
class DemoPatron:
    key: str
    card: str
    password: str
    case: str
    name: str
    language: str = "ja"


PATRONS = (
    DemoPatron("P001", "2000000001", "yamada2024", "regular", "山田 花子"),
    DemoPatron("P002", "2000000002", "20100401", "first-login", "佐藤 健太"),
    DemoPatron("P003", "2000000003", "suzuki2024", "overdue", "鈴木 一郎"),
    DemoPatron("P004", "2000000004", "takahashi24", "hold-ready", "高橋 美咲"),
    DemoPatron("P005", "2000000005", "tanaka2024", "blocked", "田中 誠"),
    DemoPatron("P006", "2000000006", "ito2024sakura", "many-loans", "伊藤 さくら"),
    DemoPatron("P007", "2000000007", "nakamura24", "renewable", "中村 優子"),
    DemoPatron("P008", "2000000008", "kobayashi24", "fines", "小林 直樹"),
    DemoPatron("P009", "2000000009", "kato2024", "locked", "加藤 陽介"),
    DemoPatron("P010", "2000000010", "emily2024", "english", "Emily Carter", "en"),
    DemoPatron("P011", "2000000011", "watanabe24", "background", "渡辺 健"),
)
BY_CASE = {patron.case: patron for patron in PATRONS}
FINE_DESCRIPTION = "弁償金（汚損）"


@cache
def _hash(password: str) -> str:
    """Hashing is slow on purpose; a process that seeds again (``reset``, tests) reuses its hashes."""
    return generate_password_hash(password)


class _Plan:
    """Hands out records nobody uses yet and keeps loans and holds consistent with the copies."""

    def __init__(self, catalogue: dict[str, Any], today: date) -> None:
        self.today = today
        self.branches = [branch["id"] for branch in catalogue["branches"]]
        self.records = catalogue["records"]
        self.copies: dict[str, list[tuple[str, str]]] = {}  # record -> [(item, home branch)]
        for index, record in enumerate(self.records):
            ids = item_ids(record["id"], int(record["copies"]))
            homes = [self.branches[(index + copy) % len(self.branches)] for copy in range(len(ids))]
            self.copies[record["id"]] = list(zip(ids, homes, strict=True))
        self.used: set[str] = set()
        self.busy: set[str] = set()  # items lent or set aside for a hold
        self.loans: list[dict[str, Any]] = []
        self.holds: list[dict[str, Any]] = []

    def day(self, offset: int) -> str:
        return (self.today + timedelta(days=offset)).isoformat()

    def record(self, *, language: str | None = None, single: bool = False) -> str:
        """A record no case has used yet, in ``language`` if there is one, with one copy if asked."""
        for strict in (True, False):
            for record in self.records:
                if record["id"] in self.used or (single and int(record["copies"]) != 1):
                    continue
                if strict and language and record.get("language") != language:
                    continue
                self.used.add(record["id"])
                return record["id"]
        raise ValueError("the demo catalogue is too small for the seed")

    def _free_copy(self, record_id: str, prefer_branch: str | None = None) -> tuple[str, str]:
        free = [copy for copy in self.copies[record_id] if copy[0] not in self.busy]
        free.sort(key=lambda copy: copy[1] != prefer_branch)
        return free[0]

    def lend(self, patron: str, record_id: str, due_in: int, *, renewals: int = 0, period: int = 14) -> str:
        item, _ = self._free_copy(record_id)
        self.busy.add(item)
        checkout = due_in - period * (renewals + 1) if renewals else due_in - period
        self.loans.append({"item_id": item, "patron_key": patron, "checkout_date": self.day(checkout),
                           "due_date": self.day(due_in), "renewals": renewals})
        return item

    def hold(self, patron: str, record_id: str, status: str, *, pickup: int = 0, placed_ago: int = 5,
             since: int = 0) -> None:
        """A hold; a waiting one first has every free copy lent to the background readers."""
        branch = self.branches[pickup % len(self.branches)]
        row = {"patron_key": patron, "record_id": record_id, "pickup_branch": branch, "status": status,
               "placed_on": self.day(-placed_ago), "item_id": None, "status_since": None, "pickup_deadline": None}
        if status == "waiting":
            assert patron != BY_CASE["background"].key, "the background readers lend, they do not queue"
            while any(item not in self.busy for item, _ in self.copies[record_id]):
                self.lend(BY_CASE["background"].key, record_id, due_in=9)
        else:
            row["item_id"] = self._free_copy(record_id, branch)[0]
            self.busy.add(row["item_id"])
            row["status_since"] = self.day(since)
            if status == "ready":
                row["pickup_deadline"] = self.day(since + 7)
        self.holds.append(row)


def _cases(plan: _Plan) -> list[dict[str, Any]]:
    """Loans and holds for each case; returns the fines."""
    key = {patron.case: patron.key for patron in PATRONS}
    for due in (2, 6, 11):
        plan.lend(key["regular"], plan.record(), due)
    plan.lend(key["first-login"], plan.record(), 9)
    for due in (-12, -5, 3):
        plan.lend(key["overdue"], plan.record(), due)
    plan.lend(key["hold-ready"], plan.record(), 8)
    plan.hold(key["hold-ready"], plan.record(), "ready", pickup=0, placed_ago=9, since=-2)
    plan.hold(key["hold-ready"], plan.record(), "in_transit", pickup=1, placed_ago=4, since=0)
    queued = plan.record()
    for case, placed_ago in (("english", 30), ("regular", 20), ("hold-ready", 10)):
        plan.hold(key[case], queued, "waiting", pickup=0, placed_ago=placed_ago)
    for due in (4, 10):
        plan.lend(key["blocked"], plan.record(), due)
    plan.hold(key["blocked"], plan.record(), "waiting", placed_ago=15)
    for number in range(30):
        plan.lend(key["many-loans"], plan.record(), 1 + number % 14, renewals=1 if number % 7 == 0 else 0)
    for number in range(10):
        plan.hold(key["many-loans"], plan.record(), "waiting", pickup=number, placed_ago=1 + number)
    plan.lend(key["renewable"], plan.record(), 3)
    plan.lend(key["renewable"], plan.record(), 5, renewals=1)
    reserved = plan.record()
    plan.lend(key["renewable"], reserved, 4)
    plan.hold(key["regular"], reserved, "waiting", pickup=1, placed_ago=3)
    plan.lend(key["renewable"], plan.record(), 12)
    plan.lend(key["fines"], plan.record(), 2)
    plan.lend(key["locked"], plan.record(), 7)
    for due in (5, 13):
        plan.lend(key["english"], plan.record(language="en"), due)
    # A second loan, inside the renewal window, so a new patron can try a renewal (seed guide walk-through).
    plan.lend(key["first-login"], plan.record(), 5)
    return [{"patron_key": key["fines"], "amount": 2500, "description": FINE_DESCRIPTION,
             "created_on": plan.day(-20)}]


def build_seed(catalogue: dict[str, Any], today: date) -> dict[str, list[dict[str, Any]]]:
    """Every row of a freshly seeded demo ILS, by table, in an order that satisfies foreign keys."""
    plan = _Plan(catalogue, today)
    fines = _cases(plan)
    branches = [
        {"id": branch["id"], "name_ja": branch["name_ja"], "name_en": branch["name_en"], "position": position}
        for position, branch in enumerate(catalogue["branches"])
    ]
    records = [
        {
            "id": record["id"], "title": record["title"], "title_kana": record.get("title_kana"),
            "author": record.get("author"), "publisher": record.get("publisher"), "year": record.get("year"),
            "isbn": record.get("isbn"), "language": record.get("language"),
            "search_text": search_text(record), "title_folded": fold(record["title"]),
            "series": record.get("series"), "volume": record.get("volume"), "volume_number": record.get("volume_number"),
        }
        for record in catalogue["records"]
    ]
    items = [
        {"id": item, "record_id": record_id, "home_branch": home}
        for record_id, copies in plan.copies.items()
        for item, home in copies
    ]
    patrons = [
        {
            "key": patron.key, "card": patron.card, "password_hash": _hash(patron.password),
            "case_slug": patron.case, "display_name": patron.name, "language": patron.language,
            "must_change_password": int(patron.case == "first-login"), "locked": int(patron.case == "locked"),
            "card_expires": plan.day(-10 if patron.case == "blocked" else 3 * 365),
        }
        for patron in PATRONS
    ]
    return {"branches": branches, "records": records, "items": items, "patrons": patrons, "fines": fines,
            "loans": plan.loans, "holds": plan.holds}


def search_text(record: dict[str, Any]) -> str:
    """What keyword search matches: title, reading, author and ISBN (also without hyphens), folded."""
    isbn = record.get("isbn") or ""
    fields = (record.get("title"), record.get("title_kana"), record.get("author"), isbn, isbn.replace("-", ""))
    return "\x1f".join(fold(field) for field in fields)

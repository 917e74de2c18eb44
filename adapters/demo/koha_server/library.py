"""The fake Koha's library: the demo's patrons, books, loans, holds and charges as Koha's tables hold
them, Koha's circulation rules over them (``can_renew``: ``C4::Circulation::CanBookBeRenewed``;
``can_reserve``: ``C4::Reserves::CanBookBeReserved``), and the desk's side (check out, check in,
a hold arriving), for tests and ``tools/fake_koha.py``. No HTTP here: ``server.FakeKoha`` serves it.

Rows are a superset of every supported release's fields; ``contract.KohaContract.shape`` cuts each
answer down to what the release line played declares. Passwords are kept in plain text: it is a
fake, with the demo's published passwords.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from adapters.demo.seed import BY_CASE, PATRONS, build_seed
from adapters.demo.store import load_catalogue

CLIENT_ID = "shiori-portal"
CLIENT_SECRET = "fake-koha-client-secret"  # noqa: S105 - a fake's published default
STAFF_USER = "shiori-api"
STAFF_PASSWORD = "fake-koha-staff-password"  # noqa: S105 - a fake's published default

#: the permissions the portal's API client needs (adapters/koha/README.md), as Koha flags them
PORTAL_PERMISSIONS: dict[str, str | set[str]] = {
    "borrowers": "*",  # borrowers: "1" for the password routes; edit_borrowers for the rest
    "circulate": {"circulate_remaining_permissions"},
    "reserveforothers": "*",  # reserveforothers: "1" to place holds; place_holds to list and cancel
    "updatecharges": {"remaining_permissions"},
    "catalogue": "*",
}


@cache
def _seed(today: date) -> dict[str, list[dict[str, Any]]]:
    return build_seed(load_catalogue(), today)


def _number(identifier: str) -> int:
    digits = re.sub(r"\D", "", identifier)
    return int(digits) if digits else 0


class Library:
    """The library's state (thread-safe: one lock) and Koha's circulation rules over it."""

    def __init__(self, *, today: date | None = None, timezone: str = "Asia/Tokyo",
                 client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, staff_user: str = STAFF_USER,
                 staff_password: str = STAFF_PASSWORD, token_lifetime: int = 3600,
                 clock: Callable[[], float] | None = None) -> None:
        self.tz = ZoneInfo(timezone)
        self.today = today or datetime.now(self.tz).date()
        self.lock = threading.RLock()
        self.token_lifetime = token_lifetime
        self._clock = clock or (lambda: datetime.now().timestamp())
        self.prefs: dict[str, Any] = {
            "RESTBasicAuth": True, "RESTOAuth2ClientCredentials": True, "RESTPublicAPI": True,
            "RESTPublicAnonymousRequests": True, "OpacPasswordChange": True, "FailedLoginAttempts": 5,
            "maxreserves": 10, "renewalsallowed": 1, "norenewalbefore": 7, "renewalperiod": 14,
            "ReservesMaxPickUpDelay": 7, "OverduesBlockRenewing": "block", "RestrictionBlockRenewing": True,
            "AllowHoldsOnPatronsPossessions": False, "holds_per_record": 1, "minPasswordLength": 8,
            "RequireStrongPassword": True, "BlockExpiredPatronOpacActions": True,
        }
        self.staff: dict[str, dict[str, Any]] = {
            staff_user: {"patron_id": 9001, "userid": staff_user, "password": staff_password,
                         "permissions": copy.deepcopy(PORTAL_PERMISSIONS), "staff": True},
        }
        self.clients = {client_id: {"secret": client_secret, "userid": staff_user}}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.libraries: dict[str, dict[str, Any]] = {}
        self.biblios: dict[int, dict[str, Any]] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.patrons: dict[int, dict[str, Any]] = {}
        self.checkouts: dict[int, dict[str, Any]] = {}
        self.holds: dict[int, dict[str, Any]] = {}
        self.account_lines: dict[int, dict[str, Any]] = {}
        self._ids = {"checkout": 0, "hold": 0, "line": 0}
        self._load(_seed(self.today))

    # --- the demo library, as Koha would hold it ---------------------------------------------

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def at(self, day: date, hour: int = 23, minute: int = 59) -> str:
        return datetime.combine(day, time(hour, minute), self.tz).isoformat()

    def now(self) -> datetime:
        """The fake's clock stands at noon of its ``today``, so that tests do not depend on the hour."""
        return datetime.combine(self.today, time(12, 0), self.tz)

    def _load(self, seed: Mapping[str, list[dict[str, Any]]]) -> None:
        for branch in seed["branches"]:
            self.libraries[branch["id"]] = {
                "library_id": branch["id"], "name": branch["name_ja"], "address1": None, "city": None,
                "postal_code": None, "country": "Japan", "email": None, "url": None, "pickup_location": True,
                "public": True,
            }
        for record in seed["records"]:
            self.biblios[_number(record["id"])] = {
                "biblio_id": _number(record["id"]), "title": record["title"], "subtitle": None,
                "author": record.get("author"), "isbn": record.get("isbn"), "publisher": record.get("publisher"),
                "publication_year": record.get("year"), "copyright_date": record.get("year"),
                "item_type": "BK", "_language": record.get("language"),
                # Koha::Biblio->to_api merges the biblioitem: biblio.seriestitle and biblioitems.volume
                "series_title": record.get("series"), "volume": record.get("volume"),
            }
        barcode_to_id: dict[str, int] = {}
        for number, item in enumerate(seed["items"], start=1):
            barcode_to_id[item["id"]] = number
            self.items[number] = {
                "item_id": number, "biblio_id": _number(item["record_id"]), "external_id": item["id"],
                "home_library_id": item["home_branch"], "holding_library_id": item["home_branch"],
                "callnumber": None, "location": "GEN", "item_type_id": "BK", "not_for_loan_status": 0,
                "damaged_status": 0, "lost_status": 0, "withdrawn": 0, "checked_out_date": None,
                "restricted_status": None, "public_notes": None,
            }
        by_key = {patron.key: patron for patron in PATRONS}
        for row in seed["patrons"]:
            demo = by_key[row["key"]]
            first, _, last = demo.name.partition(" ")
            surname, firstname = (last, first) if demo.language == "en" else (first, last)
            self.patrons[_number(row["key"])] = {
                "patron_id": _number(row["key"]), "cardnumber": row["card"], "userid": row["case_slug"],
                "surname": surname, "firstname": firstname or None, "preferred_name": None, "email": None,
                "phone": None, "library_id": "MAIN", "category_id": "PT", "date_of_birth": None,
                "date_enrolled": (self.today - timedelta(days=400)).isoformat(),
                "expiry_date": row["card_expires"], "restricted": False, "patron_card_lost": False,
                "lang": "en" if demo.language == "en" else "ja-Jpan-JP", "privacy": 1,
                "login_attempts": -1 if row["locked"] else 0,
                "_password": demo.password,
                "_password_expiration_date": (self.today - timedelta(days=1)).isoformat()
                if row["must_change_password"] else None,
            }
        for loan in seed["loans"]:
            item_id = barcode_to_id[loan["item_id"]]
            self._add_checkout(_number(loan["patron_key"]), item_id, date.fromisoformat(loan["checkout_date"]),
                               date.fromisoformat(loan["due_date"]), renewals=loan["renewals"])
        queue: dict[int, int] = {}
        for hold in sorted(seed["holds"], key=lambda row: row["placed_on"]):
            biblio_id = _number(hold["record_id"])
            status = {"waiting": None, "ready": "W", "in_transit": "T"}[hold["status"]]
            if status is None:
                queue[biblio_id] = queue.get(biblio_id, 0) + 1
            hold_id = self._next("hold")
            self.holds[hold_id] = self._hold_row(
                hold_id, _number(hold["patron_key"]), biblio_id, hold["pickup_branch"],
                date.fromisoformat(hold["placed_on"]), priority=queue.get(biblio_id, 0) if status is None else 0,
                status=status, item_id=barcode_to_id.get(hold["item_id"] or ""),
                waiting_date=hold["status_since"] if status == "W" else None,
                expiration_date=hold["pickup_deadline"] if status == "W" else hold.get("not_needed_after"),
            )
        for fine in seed["fines"]:
            line_id = self._next("line")
            self.account_lines[line_id] = {
                "account_line_id": line_id, "patron_id": _number(fine["patron_key"]), "checkout_id": None,
                "item_id": None, "date": self.at(date.fromisoformat(fine["created_on"]), 10, 0),
                "amount": float(fine["amount"]), "amount_outstanding": float(fine["amount"]),
                "description": fine["description"], "debit_type": "MANUAL", "credit_type": None,
                "status": None, "library_id": "MAIN", "interface": "intranet", "timestamp": self.at(self.today, 9, 0),
            }

    def _add_checkout(self, patron_id: int, item_id: int, on: date, due: date, renewals: int = 0) -> int:
        checkout_id = self._next("checkout")
        self.checkouts[checkout_id] = {
            "checkout_id": checkout_id, "patron_id": patron_id, "item_id": item_id,
            "due_date": self.at(due), "checkout_date": self.at(on, 10, 0), "library_id": "MAIN",
            "issuer_id": 9001, "last_renewed_date": None, "renewals_count": renewals, "unseen_renewals": 0,
            "auto_renew": False, "auto_renew_error": None, "onsite_checkout": False, "note": None,
            "note_date": None, "note_seen": None, "checkin_date": None, "timestamp": self.at(on, 10, 0),
            # from 24.11 (the item's barcode, and where it was returned); booking_id from 25.11
            "external_id": self.items[item_id]["external_id"], "checkin_library_id": None, "booking_id": None,
        }
        self.items[item_id]["checked_out_date"] = on.isoformat()
        return checkout_id

    def _hold_row(self, hold_id: int, patron_id: int, biblio_id: int, library_id: str, placed: date, *,
                  priority: int, status: str | None = None, item_id: int | None = None,
                  waiting_date: str | None = None, expiration_date: str | None = None) -> dict[str, Any]:
        return {
            "hold_id": hold_id, "patron_id": patron_id, "biblio_id": biblio_id, "item_id": item_id,
            "pickup_library_id": library_id, "hold_date": placed.isoformat(), "priority": priority,
            "status": status, "waiting_date": waiting_date, "expiration_date": expiration_date,
            "suspended": False, "suspended_until": None, "notes": None, "cancellation_date": None,
            "cancellation_reason": None, "desk_id": None, "lowest_priority": False, "non_priority": False,
            "item_type": None, "item_type_id": None, "item_level": False, "item_group_id": None,
            "hold_group_id": None, "deleted_biblio_id": None, "timestamp": self.at(placed, 10, 0),
        }

    # --- the library's side (the desk), for tests and the tool --------------------------------

    def item_by_barcode(self, barcode_or_id: str | int) -> dict[str, Any]:
        with self.lock:
            text = str(barcode_or_id)
            if text.isdigit() and int(text) in self.items:
                return self.items[int(text)]
            for item in self.items.values():
                if item["external_id"] == text:
                    return item
            raise KeyError(f"no item {barcode_or_id!r}")

    def checkout(self, patron_id: int, barcode_or_id: str | int, days: int = 14) -> int:
        with self.lock:
            item = self.item_by_barcode(barcode_or_id)
            if any(c["item_id"] == item["item_id"] for c in self.checkouts.values()):
                raise ValueError(f"{item['external_id']} is already on loan")
            for hold_id, hold in list(self.holds.items()):  # a hold of this patron's is fulfilled
                if hold["patron_id"] == patron_id and hold["biblio_id"] == item["biblio_id"]:
                    self._remove_hold(hold_id)
            return self._add_checkout(patron_id, item["item_id"], self.today, self.today + timedelta(days=days))

    def checkin(self, barcode_or_id: str | int) -> dict[str, Any] | None:
        """Return a copy at its home library; the first hold in the queue gets it (W there, else T)."""
        with self.lock:
            item = self.item_by_barcode(barcode_or_id)
            for checkout_id, checkout in list(self.checkouts.items()):
                if checkout["item_id"] == item["item_id"]:
                    del self.checkouts[checkout_id]
            item["checked_out_date"] = None
            return self._fill_next_hold(item)

    def _fill_next_hold(self, item: dict[str, Any]) -> dict[str, Any] | None:
        queue = sorted((hold for hold in self.holds.values() if hold["biblio_id"] == item["biblio_id"]
                        and hold["status"] is None and not hold["suspended"]), key=lambda hold: hold["priority"])
        if not queue:
            return None
        hold = queue[0]
        hold.update(item_id=item["item_id"], priority=0)
        if hold["pickup_library_id"] == item["holding_library_id"]:
            self._set_waiting(hold)
        else:
            hold["status"] = "T"
        self._renumber(hold["biblio_id"])
        return hold

    def _set_waiting(self, hold: dict[str, Any]) -> None:
        hold.update(status="W", waiting_date=self.today.isoformat(),
                    expiration_date=(self.today + timedelta(days=self.prefs["ReservesMaxPickUpDelay"])).isoformat())

    def arrive(self, hold_id: int) -> None:
        """A hold in transit reaches its pickup library."""
        with self.lock:
            self._set_waiting(self.holds[hold_id])

    def _renumber(self, biblio_id: int) -> None:
        queue = sorted((hold for hold in self.holds.values()
                        if hold["biblio_id"] == biblio_id and hold["status"] is None),
                       key=lambda hold: (hold["priority"], hold["hold_id"]))
        for position, hold in enumerate(queue, start=1):
            hold["priority"] = position

    def _remove_hold(self, hold_id: int) -> None:
        hold = self.holds.pop(hold_id)
        if hold["item_id"] and hold["status"] in ("W", "T"):
            self._fill_next_hold(self.items[hold["item_id"]])
        self._renumber(hold["biblio_id"])

    def expire_tokens(self) -> None:
        """Koha forgets every OAuth2 token (they expired, or Koha restarted)."""
        with self.lock:
            self.tokens.clear()

    def revoke(self, flag: str) -> None:
        """Take a permission flag away from the API client's staff user."""
        with self.lock:
            for staff in self.staff.values():
                staff["permissions"].pop(flag, None)

    def patron_by_card(self, card: str) -> dict[str, Any]:
        return next(patron for patron in self.patrons.values() if patron["cardnumber"] == card)

    def demo_patrons(self) -> list[dict[str, str]]:
        return [{"case": patron.case, "card": patron.card, "password": patron.password, "name": patron.name}
                for patron in PATRONS]

    # --- HTTP -----------------------------------------------------------------------------------

    def can_renew(self, checkout: Mapping[str, Any]) -> str | None:
        """C4::Circulation::CanBookBeRenewed's first refusal, or None."""
        patron = self.patrons[checkout["patron_id"]]
        item = self.items[checkout["item_id"]]
        if checkout["renewals_count"] >= self.prefs["renewalsallowed"]:
            return "too_many"
        if patron["restricted"] and self.prefs["RestrictionBlockRenewing"]:
            return "restriction"
        overdue = any(c["patron_id"] == patron["patron_id"] and datetime.fromisoformat(c["due_date"]) < self.now()
                      for c in self.checkouts.values())
        if overdue and self.prefs["OverduesBlockRenewing"] == "block":
            return "overdue"
        if any(hold["biblio_id"] == item["biblio_id"] and hold["patron_id"] != patron["patron_id"]
               and hold["status"] is None and not hold["suspended"] for hold in self.holds.values()):
            return "on_reserve"
        due = datetime.fromisoformat(checkout["due_date"]).astimezone(self.tz).date()
        if self.today < due - timedelta(days=self.prefs["norenewalbefore"]):
            return "too_soon"
        expires = patron.get("expiry_date")
        if self.prefs["BlockExpiredPatronOpacActions"] and expires and date.fromisoformat(expires) < self.today:
            return "card_expired"
        return None

    def pickup_libraries(self) -> list[dict[str, Any]]:
        return [dict(library) for library in self.libraries.values() if library["pickup_location"]]

    def can_reserve(self, patron: Mapping[str, Any], biblio: Mapping[str, Any]) -> str:
        """C4::Reserves::CanBookBeReserved's status ("OK" or why not)."""
        items = [item for item in self.items.values() if item["biblio_id"] == biblio["biblio_id"]]
        if not items:
            return "noReservesAllowed"
        if not self.prefs["AllowHoldsOnPatronsPossessions"] and any(
                c["patron_id"] == patron["patron_id"] and self.items[c["item_id"]]["biblio_id"] == biblio["biblio_id"]
                for c in self.checkouts.values()):
            return "alreadypossession"
        own = [hold for hold in self.holds.values() if hold["patron_id"] == patron["patron_id"]]
        if sum(1 for hold in own if hold["biblio_id"] == biblio["biblio_id"]) >= self.prefs["holds_per_record"]:
            return "tooManyHoldsForThisRecord"
        if len(own) >= self.prefs["maxreserves"]:
            return "tooManyReserves"
        return "OK"


def holdable_record(fake: Library, lender_case: str = "background") -> tuple[int, int, str]:
    """Prepare what the contract suite calls the holdable record: an untouched record whose copies
    are all lent out (to ``lender_case``), with no holds. Returns (biblio_id, first item_id, title)."""
    lender = fake.patron_by_card(BY_CASE[lender_case].card)["patron_id"]
    with fake.lock:
        busy = {fake.items[c["item_id"]]["biblio_id"] for c in fake.checkouts.values()}
        held = {hold["biblio_id"] for hold in fake.holds.values()}
        biblio_id = max(b for b in fake.biblios if b not in busy and b not in held)
        items = sorted(item["item_id"] for item in fake.items.values() if item["biblio_id"] == biblio_id)
        for item_id in items:
            fake.checkout(lender, item_id)
        return biblio_id, items[0], fake.biblios[biblio_id]["title"]

"""A stand-in Koha: the demo library's patrons, books, loans and holds behind Koha's REST API v1.

Not used by the adapter. The tests serve it through respx (``tests/adapters/koha/fake_koha.py``, where
every request and answer is also checked against Koha's published contract) and ``tools/fake_koha.py``
serves it over real HTTP for trying the portal by hand. ``FakeKoha.handle`` takes a request as plain
values and returns a ``FakeResponse``, so it needs neither httpx nor a web framework.

It follows Koha's own behaviour on the routes the portal uses, read from Koha's controllers:
authentication (OAuth2 client credentials, Basic, the /public namespace, permission checks with
``required_permissions``, unknown query parameters refused), ``checkpw`` (failed attempts counted,
locked accounts, expired passwords) behind ``POST /auth/password/validation`` (23.11 on; a fake of
release 22.11 has no such route), while Basic authentication uses ``checkpw_internal`` as Koha's does
(neither counted nor refused when locked; 403 "Invalid password" / "Password has expired"), ``CanBookBeRenewed`` (too_many, restriction, overdue,
on_reserve, too_soon), ``CanBookBeReserved`` (alreadypossession, tooManyHoldsForThisRecord,
tooManyReserves), list paging (20 by default, ``X-Total-Count``) and ``q`` filters (-and/-or/-like).
Passwords are kept in plain text: it is a fake, with the demo's published passwords.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from adapters.demo.seed import BY_CASE, PATRONS, build_seed
from adapters.demo.store import load_catalogue

API = "/api/v1"
DEFAULT_PAGE_SIZE = 20  # RESTdefaultPageSize
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


@dataclass
class FakeResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
        return cls(status, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})


class KohaError(Exception):
    """Raised inside a handler: becomes ``{"error": message, ...}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra

    def response(self) -> FakeResponse:
        return FakeResponse.json(self.status, {"error": self.message, **self.extra})


@dataclass
class Request:
    method: str
    path: str  # below /api/v1
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # path parameters
    user: dict[str, Any] | None = None  # the authenticated patron or staff user

    def arg(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise KohaError(400, "Malformed JSON body") from exc

    def embeds(self) -> set[str]:
        return {part.strip() for part in self.headers.get("x-koha-embed", "").split(",") if part.strip()}


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    permissions: Any = None  # {flag: sub} all of; [{...}, ...] any of; None: authenticated or public
    query: tuple[str, ...] = ()
    public: bool = False
    since: tuple[int, int] = (22, 11)
    paged: bool = False

    def match(self, path: str) -> dict[str, str] | None:
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.template)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


PAGING = ("_page", "_per_page", "_match", "_order_by", "q")
PATRON_FILTERS = ("patron_id", "cardnumber", "surname", "firstname", "userid", "email", "library_id",
                  "category_id", "expiry_date", "restricted")

ROUTES = (
    Route("POST", "/auth/password/validation", "password_validation", {"borrowers": "1"}, since=(23, 11)),
    Route("GET", "/patrons", "list_patrons", [{"borrowers": "edit_borrowers"}, {"tools": "label_creator"}],
          PATRON_FILTERS + PAGING, paged=True),
    Route("GET", "/patrons/{patron_id}", "get_patron", {"borrowers": "edit_borrowers"}),
    Route("PUT", "/patrons/{patron_id}", "update_patron", {"borrowers": "1"}),
    Route("GET", "/patrons/{patron_id}/account", "get_account",
          {"borrowers": "edit_borrowers", "updatecharges": "remaining_permissions"}),
    Route("GET", "/patrons/{patron_id}/checkouts", "patron_checkouts",
          [{"circulate": "circulate_remaining_permissions"}, {"circulate": "manage_bookings"}], PAGING,
          since=(24, 5), paged=True),
    Route("GET", "/patrons/{patron_id}/holds", "patron_holds", {"borrowers": "edit_borrowers"}, PAGING, paged=True),
    Route("POST", "/patrons/{patron_id}/password", "set_password", {"borrowers": "1"}),
    Route("GET", "/checkouts", "list_checkouts", {"circulate": "circulate_remaining_permissions"},
          ("patron_id", "checked_in") + PAGING, paged=True),
    Route("GET", "/checkouts/{checkout_id}", "get_checkout", {"circulate": "circulate_remaining_permissions"}),
    Route("GET", "/checkouts/{checkout_id}/allows_renewal", "allows_renewal",
          {"circulate": "circulate_remaining_permissions"}),
    Route("POST", "/checkouts/{checkout_id}/renewal", "renew", {"circulate": "circulate_remaining_permissions"},
          ("seen",)),
    Route("POST", "/checkouts/{checkout_id}/renewals", "renew", {"circulate": "circulate_remaining_permissions"},
          ("seen",)),
    Route("GET", "/holds", "list_holds", {"reserveforothers": "place_holds"},
          ("hold_id", "patron_id", "biblio_id", "item_id", "pickup_library_id", "status", "suspended") + PAGING,
          paged=True),
    Route("POST", "/holds", "add_hold", {"reserveforothers": "1"}),
    Route("DELETE", "/holds/{hold_id}", "delete_hold", {"reserveforothers": "place_holds"}),
    Route("POST", "/holds/{hold_id}/suspension", "suspend_hold", {"reserveforothers": "place_holds"}),
    Route("DELETE", "/holds/{hold_id}/suspension", "resume_hold", {"reserveforothers": "place_holds"}),
    Route("PUT", "/holds/{hold_id}/pickup_location", "hold_pickup_location", {"reserveforothers": "place_holds"}),
    Route("GET", "/biblios", "list_biblios", {"catalogue": "1"}, PAGING, since=(23, 5), paged=True),
    Route("GET", "/biblios/{biblio_id}", "get_biblio", {"catalogue": "1"}),
    Route("GET", "/biblios/{biblio_id}/items", "biblio_items", {"catalogue": "1"}, PAGING, paged=True),
    Route("GET", "/biblios/{biblio_id}/pickup_locations", "biblio_pickup_locations",
          {"reserveforothers": "place_holds"}, ("patron_id",) + PAGING, paged=True),
    Route("GET", "/items/{item_id}", "get_item", {"catalogue": "1"}),
    Route("GET", "/libraries", "list_libraries", {"catalogue": "1"}, ("name",) + PAGING, paged=True),
    Route("GET", "/public/libraries", "list_libraries", None, PAGING, public=True, paged=True),
    Route("POST", "/public/patrons/{patron_id}/password", "set_password_public", None, public=True),
)


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


@cache
def _seed(today: date) -> dict[str, list[dict[str, Any]]]:
    return build_seed(load_catalogue(), today)


def _number(identifier: str) -> int:
    digits = re.sub(r"\D", "", identifier)
    return int(digits) if digits else 0


def _like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%``, ``_``, ``\\`` escapes) as a case-insensitive regex, as MySQL's collation does."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def matches(query: Any, row: Mapping[str, Any]) -> bool:
    """A DBIC-style ``q`` filter: {field: value}, {field: {"-like": ...}}, {"-and": [...]}, {"-or": [...]}."""
    if isinstance(query, list):
        return any(matches(part, row) for part in query)
    if not isinstance(query, dict):
        raise KohaError(400, "Invalid query", error_code="invalid_query")
    for key, value in query.items():
        if key == "-and":
            if not all(matches(part, row) for part in value):
                return False
        elif key == "-or":
            if not any(matches(part, row) for part in (value if isinstance(value, list) else [value])):
                return False
        else:
            actual = row.get(key)
            if isinstance(value, dict):
                for operator, operand in value.items():
                    if operator == "-like" and not _like(str(operand)).match(str(actual or "")):
                        return False
                    if operator in ("=", "-in") and actual not in (operand if isinstance(operand, list) else [operand]):
                        return False
            elif str(actual) != str(value):
                return False
    return True


class FakeKoha:
    """The library's state and Koha's behaviour over it. Thread-safe (one lock)."""

    def __init__(self, *, today: date | None = None, version: str = "24.05", timezone: str = "Asia/Tokyo",
                 client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, staff_user: str = STAFF_USER,
                 staff_password: str = STAFF_PASSWORD, token_lifetime: int = 3600,
                 clock: Callable[[], float] | None = None) -> None:
        self.tz = ZoneInfo(timezone)
        self.today = today or datetime.now(self.tz).date()
        self.version = parse_version(version)
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
            "item_type": None, "item_level": False, "item_group_id": None, "timestamp": self.at(placed, 10, 0),
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

    def handle(self, method: str, path: str, query: str | Iterable[tuple[str, str]] = "",
               headers: Mapping[str, str] | None = None, body: bytes = b"") -> FakeResponse:
        """Answer one request to ``path`` (the full path, starting with /api/v1)."""
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query)
        request = Request(method.upper(), path, pairs, {k.lower(): v for k, v in (headers or {}).items()}, body)
        with self.lock:
            try:
                return self._dispatch(request)
            except KohaError as error:
                return error.response()

    def _dispatch(self, request: Request) -> FakeResponse:
        if not request.path.startswith(API):
            return FakeResponse.json(404, {"errors": [{"message": "Not Found.", "path": "/"}], "status": 404})
        path = request.path[len(API):] or "/"
        if path == "/" and request.method == "GET":
            return FakeResponse.json(200, self.contract())
        if path == "/oauth/token" and request.method == "POST":
            return self._token(request)
        route = None
        for candidate in ROUTES:
            params = candidate.match(path)
            if params is not None and candidate.method == request.method and self.version >= candidate.since:
                route, request.params = candidate, params
                break
        if route is None:
            return FakeResponse.json(404, {"errors": [{"message": "Not Found.", "path": "/"}], "status": 404})
        if route.public and not self.prefs["RESTPublicAPI"]:
            raise KohaError(403, "Configuration prevents the usage of this endpoint by unprivileged users")
        request.user = self._authenticate(request)
        if route.permissions is None:
            if request.user is None and not (route.public and self.prefs["RESTPublicAnonymousRequests"]):
                raise KohaError(401, "Authentication failure.")
        elif request.user is None:
            raise KohaError(401, "Authentication failure.")
        elif not self._permitted(request.user, route.permissions):
            raise KohaError(403, "Authorization failure. Missing required permission(s).",
                            required_permissions=route.permissions)
        unknown = [name for name, _ in request.query if name not in route.query]
        if unknown:
            return FakeResponse.json(400, {"errors": [{"path": f"/query/{name}", "message": "Malformed query string"}
                                                      for name in unknown], "status": 400})
        result = getattr(self, "_" + route.handler)(request)
        if route.paged and isinstance(result, list):
            return self._page(request, result)
        return result

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> FakeResponse:
        try:
            per_page = int(request.arg("_per_page") or DEFAULT_PAGE_SIZE)
            page = max(1, int(request.arg("_page") or 1))
        except ValueError as exc:
            raise KohaError(400, "Invalid pagination") from exc
        total = len(rows)
        chunk = rows if per_page == -1 else rows[(page - 1) * per_page: page * per_page]
        return FakeResponse.json(200, chunk, {"X-Total-Count": str(total), "X-Base-Total-Count": str(total)})

    def contract(self) -> dict[str, Any]:
        """What GET /api/v1/ answers: the routes of this Koha release (info.version is the API's, "1")."""
        paths: dict[str, dict[str, Any]] = {"/oauth/token": {"post": {"operationId": "tokenOAuth"}}}
        for route in ROUTES:
            if self.version >= route.since:
                paths.setdefault(route.template, {})[route.method.lower()] = {"operationId": route.handler}
        return {"swagger": "2.0", "basePath": API, "info": {"title": "Koha REST API", "version": "1"},
                "paths": paths}

    # --- authentication ------------------------------------------------------------------------

    def _token(self, request: Request) -> FakeResponse:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials" or not self.prefs["RESTOAuth2ClientCredentials"]:
            raise KohaError(400, "Unimplemented grant type")
        client = self.clients.get(form.get("client_id", ""))
        if client is None or not hmac.compare_digest(client["secret"], form.get("client_secret", "")):
            raise KohaError(403, "unauthorized_client")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (client["userid"], self._clock() + self.token_lifetime)
        return FakeResponse.json(200, {"access_token": token, "token_type": "Bearer",
                                       "expires_in": self.token_lifetime})

    def _authenticate(self, request: Request) -> dict[str, Any] | None:
        """Koha::REST::V1::Auth: a Bearer token, or Basic credentials checked by ``_basic_auth`` (which
        uses ``checkpw_internal``: no failed attempt is counted, a locked account is not refused)."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            entry = self.tokens.get(header[7:].strip())
            if entry is None or entry[1] <= self._clock():
                raise KohaError(401, "Authentication failure.")
            return self.staff[entry[0]]
        if header.startswith("Basic "):
            if not self.prefs["RESTBasicAuth"]:
                raise KohaError(401, "Basic authentication disabled")
            try:
                userid, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except ValueError as exc:
                raise KohaError(401, "Authentication failure.") from exc
            user = self._user_by_login(userid)
            if user is None or not hmac.compare_digest(user.get("password") or user.get("_password") or "", password):
                raise KohaError(403, "Invalid password", required_permissions=None)
            if self._password_expired(user):
                raise KohaError(403, "Password has expired", required_permissions=None)
            return user
        return None

    def _user_by_login(self, login: str) -> dict[str, Any] | None:
        if login in self.staff:
            return self.staff[login]
        return next((patron for patron in self.patrons.values() if patron["userid"] == login), None)

    def _password_expired(self, user: Mapping[str, Any]) -> bool:
        expires = user.get("_password_expiration_date")
        return bool(expires) and date.fromisoformat(expires) <= self.today

    @staticmethod
    def _permitted(user: Mapping[str, Any], needed: Any) -> bool:
        """``haspermission``; a patron row may hold staff permissions in ``_permissions`` (not served)."""
        granted = user.get("permissions") or user.get("_permissions") or {}

        def has(flag: str, sub: str) -> bool:
            have = granted.get(flag)
            return have == "*" or (sub != "1" and isinstance(have, set) and sub in have)

        if isinstance(needed, list):
            return any(all(has(flag, sub) for flag, sub in option.items()) for option in needed)
        return all(has(flag, sub) for flag, sub in needed.items())

    def _locked(self, patron: Mapping[str, Any]) -> bool:
        attempts = patron.get("login_attempts") or 0
        limit = self.prefs["FailedLoginAttempts"]
        return attempts < 0 or bool(limit and attempts >= limit)

    def _checkpw(self, identifier: str, password: str) -> tuple[int, dict[str, Any] | None]:
        """C4::Auth::checkpw: 1 right, -2 right but expired, 0 wrong (counted unless locked)."""
        patron = next((p for p in self.patrons.values() if p["userid"] == identifier), None) or next(
            (p for p in self.patrons.values() if p["cardnumber"] == identifier), None)
        if patron is None:
            return 0, None
        if self._locked(patron):
            return 0, patron
        if hmac.compare_digest(patron["_password"], password):
            patron["login_attempts"] = 0
            return (-2 if self._password_expired(patron) else 1), patron
        patron["login_attempts"] = (patron.get("login_attempts") or 0) + 1
        return 0, patron

    # --- patrons --------------------------------------------------------------------------------

    def _patron(self, patron_id: Any, status: int = 404) -> dict[str, Any]:
        try:
            return self.patrons[int(patron_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(status, "Patron not found", error_code="not_found") from None

    def patron_json(self, patron: Mapping[str, Any], embeds: set[str] = frozenset()) -> dict[str, Any]:
        data = {key: value for key, value in patron.items() if not key.startswith("_")}
        data.update(updated_on=self.at(self.today, 9, 0), autorenew_checkouts=True, anonymized=False,
                    protected=False, check_previous_checkout="inherit", privacy_guarantor_checkouts=0,
                    incorrect_address=False)
        if "overdues+count" in embeds:
            data["overdues_count"] = sum(1 for checkout in self.checkouts.values()
                                         if checkout["patron_id"] == patron["patron_id"]
                                         and datetime.fromisoformat(checkout["due_date"]) < self.now())
        if "checkouts+count" in embeds:
            data["checkouts_count"] = sum(1 for c in self.checkouts.values() if c["patron_id"] == patron["patron_id"])
        if "account_balance" in embeds:
            data["account_balance"] = self._balance(patron["patron_id"])
        if "extended_attributes" in embeds:
            data["extended_attributes"] = []
        if "library" in embeds:
            data["library"] = self.libraries.get(patron["library_id"])
        return data

    def _balance(self, patron_id: int) -> float:
        return float(sum(line["amount_outstanding"] for line in self.account_lines.values()
                         if line["patron_id"] == patron_id))

    def _filter(self, request: Request, rows: Iterable[dict[str, Any]], fields: Iterable[str]) -> list[dict[str, Any]]:
        mode = request.arg("_match") or "contains"
        result = list(rows)
        for name in fields:
            wanted = request.arg(name)
            if wanted is None:
                continue
            wanted_folded = wanted.casefold()

            def keep(row: Mapping[str, Any], name: str = name, wanted: str = wanted_folded) -> bool:
                value = str(row.get(name) if row.get(name) is not None else "").casefold()
                return {"exact": value == wanted, "starts_with": value.startswith(wanted),
                        "ends_with": value.endswith(wanted)}.get(mode, wanted in value)

            result = [row for row in result if keep(row)]
        q = request.arg("q")
        if q:
            try:
                query = json.loads(q)
            except ValueError as exc:
                raise KohaError(400, "Invalid query", error_code="invalid_query") from exc
            result = [row for row in result if matches(query, row)]
        return result

    def _list_patrons(self, request: Request) -> list[dict[str, Any]]:
        rows = self._filter(request, self.patrons.values(), PATRON_FILTERS)
        return [self.patron_json(row, request.embeds()) for row in rows]

    def _get_patron(self, request: Request) -> FakeResponse:
        return FakeResponse.json(200, self.patron_json(self._patron(request.params["patron_id"]), request.embeds()))

    UPDATABLE = frozenset({"surname", "firstname", "preferred_name", "email", "phone", "library_id", "category_id"})

    def _update_patron(self, request: Request) -> FakeResponse:
        """Koha's Patrons#update: ``set_from_api`` sets the fields sent, and only those."""
        patron = self._patron(request.params["patron_id"])
        body = request.json()
        if not isinstance(body, dict):
            raise KohaError(400, "Invalid parameter(s)")
        if body.get("library_id") not in self.libraries:
            raise KohaError(400, "Given library_id does not exist")
        patron.update({key: value for key, value in body.items() if key in self.UPDATABLE})
        return FakeResponse.json(200, self.patron_json(patron))

    def _password_validation(self, request: Request) -> FakeResponse:
        body = request.json() or {}
        identifier, userid = body.get("identifier"), body.get("userid")
        if identifier is None and userid is None:
            raise KohaError(400, "Validation failed")
        if identifier is not None and userid is not None:
            raise KohaError(400, "Bad request. Only one identifier attribute can be passed.")
        if userid and not any(patron["userid"] == userid for patron in self.patrons.values()):
            raise KohaError(400, "Validation failed")
        status, _ = self._checkpw(identifier or userid, body.get("password") or "")
        if status == 0:
            raise KohaError(400, "Validation failed")
        if status == -2:
            raise KohaError(400, "Password expired", error_code="password_expired")
        return FakeResponse(204)  # the 23.11 contract; 24.05+ answer 201 {cardnumber, patron_id, userid}

    def _check_strength(self, password: str) -> None:
        minimum = self.prefs["minPasswordLength"]
        if password != password.strip():
            raise KohaError(400, "Password contains leading/trailing whitespace character(s)")
        if len(password) < minimum:
            raise KohaError(400, f"Password length ({len(password)}) is shorter than required minimum ({minimum})")
        if self.prefs["RequireStrongPassword"] and not (
                re.search(r"[A-Z]", password) and re.search(r"[a-z]", password) and re.search(r"\d", password)):
            raise KohaError(400, "Password is too weak")

    def _store_password(self, patron: dict[str, Any], password: str) -> None:
        self._check_strength(password)
        patron.update(_password=password, _password_expiration_date=None, login_attempts=0)

    def _set_password(self, request: Request) -> FakeResponse:
        patron = self._patron(request.params["patron_id"])
        body = request.json() or {}
        if (body.get("password") or "") != (body.get("password_2") or ""):
            raise KohaError(400, "Passwords don't match")
        self._store_password(patron, body.get("password") or "")
        return FakeResponse.json(200, "")

    def _set_password_public(self, request: Request) -> FakeResponse:
        if not self.prefs["OpacPasswordChange"]:
            raise KohaError(403, "Configuration prevents password changes by unprivileged users")
        user = request.user
        if user is None or user.get("staff") or str(user["patron_id"]) != request.params["patron_id"]:
            raise KohaError(403, "Changing other patron's password is forbidden")
        body = request.json() or {}
        if (body.get("password") or "") != (body.get("password_repeated") or ""):
            raise KohaError(400, "Passwords don't match")
        if not hmac.compare_digest(user["_password"], body.get("old_password") or ""):
            raise KohaError(400, "Invalid password")
        self._store_password(user, body.get("password") or "")
        return FakeResponse.json(200, "")

    def _get_account(self, request: Request) -> FakeResponse:
        patron = self._patron(request.params["patron_id"])
        lines = [{k: v for k, v in line.items()} for line in self.account_lines.values()
                 if line["patron_id"] == patron["patron_id"] and line["amount_outstanding"] > 0]
        total = float(sum(line["amount_outstanding"] for line in lines))
        return FakeResponse.json(200, {"balance": total, "outstanding_debits": {"total": total, "lines": lines},
                                       "outstanding_credits": {"total": 0, "lines": []}})

    # --- checkouts -----------------------------------------------------------------------------

    def _checkout(self, checkout_id: Any) -> dict[str, Any]:
        try:
            return self.checkouts[int(checkout_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(404, "Checkout not found", error_code="not_found") from None

    def item_json(self, item: Mapping[str, Any], embed_biblio: bool = False) -> dict[str, Any]:
        data = dict(item)
        data.update(effective_not_for_loan_status=item["not_for_loan_status"], bookable=False,
                    timestamp=self.at(self.today, 9, 0), effective_item_type_id=item["item_type_id"],
                    exclude_from_local_holds_priority=False)
        if embed_biblio:
            data["biblio"] = self.biblio_json(self.biblios[item["biblio_id"]])
        return data

    def checkout_json(self, checkout: Mapping[str, Any], embeds: set[str] = frozenset()) -> dict[str, Any]:
        data = dict(checkout)
        item = self.items[checkout["item_id"]]
        if self.version >= (24, 5):
            data["booking_id"] = None
        else:
            data["external_id"] = item["external_id"]  # dropped from the checkout object in 24.05
        if "item" in embeds or "item.biblio" in embeds:
            data["item"] = self.item_json(item, embed_biblio="item.biblio" in embeds)
        return data

    def _patron_checkouts(self, request: Request) -> list[dict[str, Any]]:
        patron = self._patron(request.params["patron_id"])
        rows = [c for c in self.checkouts.values() if c["patron_id"] == patron["patron_id"]]
        return [self.checkout_json(row, request.embeds()) for row in self._filter(request, rows, ())]

    def _list_checkouts(self, request: Request) -> list[dict[str, Any]]:
        if request.arg("checked_in") in ("true", "1"):
            return []  # the fake keeps no old checkouts
        rows = list(self.checkouts.values())
        wanted = request.arg("patron_id")
        if wanted is not None:
            rows = [row for row in rows if str(row["patron_id"]) == wanted]
        return [self.checkout_json(row) for row in self._filter(request, rows, ())]

    def _get_checkout(self, request: Request) -> FakeResponse:
        return FakeResponse.json(200, self.checkout_json(self._checkout(request.params["checkout_id"])))

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

    def _allows_renewal(self, request: Request) -> FakeResponse:
        checkout = self._checkout(request.params["checkout_id"])
        error = self.can_renew(checkout)
        return FakeResponse.json(200, {"allows_renewal": error is None,
                                       "max_renewals": self.prefs["renewalsallowed"],
                                       "current_renewals": checkout["renewals_count"],
                                       "unseen_renewals": checkout["unseen_renewals"], "error": error})

    def _renew(self, request: Request) -> FakeResponse:
        checkout = self._checkout(request.params["checkout_id"])
        error = self.can_renew(checkout)
        if error is not None:
            raise KohaError(403, f"Renewal not authorized ({error})")
        due = self.today + timedelta(days=self.prefs["renewalperiod"])
        old_due = datetime.fromisoformat(checkout["due_date"]).astimezone(self.tz).date()
        checkout.update(due_date=self.at(max(due, old_due)), renewals_count=checkout["renewals_count"] + 1,
                        last_renewed_date=self.now().isoformat())
        return FakeResponse.json(201, self.checkout_json(checkout), {"Location": f"{API}{request.path}"})

    # --- holds ----------------------------------------------------------------------------------

    def _hold(self, hold_id: Any) -> dict[str, Any]:
        try:
            return self.holds[int(hold_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(404, "Hold not found", error_code="not_found") from None

    @staticmethod
    def hold_json(hold: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(hold)
        data["item_id"] = str(hold["item_id"]) if hold["item_id"] is not None else None  # a string in the contract
        return data

    def _ordered(self, holds: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(holds, key=lambda hold: (hold["hold_date"], hold["hold_id"]))

    def _patron_holds(self, request: Request) -> list[dict[str, Any]]:
        patron = self._patron(request.params["patron_id"])
        rows = [hold for hold in self.holds.values() if hold["patron_id"] == patron["patron_id"]]
        return [self.hold_json(row) for row in self._ordered(self._filter(request, rows, ()))]

    def _list_holds(self, request: Request) -> list[dict[str, Any]]:
        rows = list(self.holds.values())
        for name in ("hold_id", "patron_id", "biblio_id", "item_id", "pickup_library_id", "status"):
            wanted = request.arg(name)
            if wanted is not None:
                rows = [row for row in rows if str(row.get(name)) == wanted]
        return [self.hold_json(row) for row in self._ordered(self._filter(request, rows, ()))]

    def pickup_libraries(self) -> list[dict[str, Any]]:
        return [dict(library) for library in self.libraries.values() if library["pickup_location"]]

    def _biblio(self, biblio_id: Any, status: int = 404) -> dict[str, Any]:
        try:
            return self.biblios[int(biblio_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(status, "Bibliographic record not found", error_code="not_found") from None

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

    def _add_hold(self, request: Request) -> FakeResponse:
        body = request.json() or {}
        if not body.get("biblio_id") and not body.get("item_id"):
            raise KohaError(400, "At least one of biblio_id, item_id should be given")
        biblio = self._biblio(body.get("biblio_id"))
        patron = self._patron(body.get("patron_id"), status=400)
        library = body.get("pickup_library_id")
        if library not in {row["library_id"] for row in self.pickup_libraries()}:
            raise KohaError(400, "The supplied pickup location is not valid")
        status = self.can_reserve(patron, biblio)
        if status != "OK" and "any" not in {v.strip() for v in request.headers.get("x-koha-override", "").split(",")}:
            raise KohaError(403, f"Hold cannot be placed. Reason: {status}")
        priority = 1 + sum(1 for hold in self.holds.values()
                           if hold["biblio_id"] == biblio["biblio_id"] and hold["status"] is None)
        hold_id = self._next("hold")
        self.holds[hold_id] = self._hold_row(hold_id, patron["patron_id"], biblio["biblio_id"], library, self.today,
                                             priority=priority, expiration_date=body.get("expiration_date"))
        return FakeResponse.json(201, self.hold_json(self.holds[hold_id]))

    def _delete_hold(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        self._remove_hold(hold["hold_id"])
        return FakeResponse(204)

    def _suspend_hold(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        if hold["status"] is not None:
            raise KohaError(400, "Found holds cannot be suspended")
        end = (request.json() or {}).get("end_date")
        hold.update(suspended=True, suspended_until=self.at(date.fromisoformat(end), 0, 0) if end else None)
        return FakeResponse.json(201, {"end_date": end}, {"Location": f"{API}{request.path}"})

    def _resume_hold(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        hold.update(suspended=False, suspended_until=None)
        return FakeResponse(204)

    def _hold_pickup_location(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        library = (request.json() or {}).get("pickup_library_id")
        if hold["status"] is not None:
            raise KohaError(409, "Cannot change the pickup location of a found hold")
        if library not in self.libraries or not self.libraries[library]["pickup_location"]:
            raise KohaError(400, "The supplied pickup location is not valid")
        hold["pickup_library_id"] = library
        return FakeResponse.json(200, {"pickup_library_id": library})

    def _biblio_pickup_locations(self, request: Request) -> list[dict[str, Any]]:
        self._biblio(request.params["biblio_id"])
        if request.arg("patron_id") is None:
            raise KohaError(400, "Missing patron_id")
        self._patron(request.arg("patron_id"), status=400)
        return [{**library, "needs_override": False} for library in self.pickup_libraries()]

    # --- catalogue -----------------------------------------------------------------------------

    @staticmethod
    def biblio_json(biblio: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in biblio.items() if not key.startswith("_")}

    def _accepts_json(self, request: Request) -> None:
        accept = request.headers.get("accept", "application/json")
        if "application/json" not in accept and "*/*" not in accept:
            raise KohaError(406, "Not acceptable")

    def _get_biblio(self, request: Request) -> FakeResponse:
        self._accepts_json(request)
        return FakeResponse.json(200, self.biblio_json(self._biblio(request.params["biblio_id"])))

    def _list_biblios(self, request: Request) -> list[dict[str, Any]]:
        self._accepts_json(request)
        rows = self._filter(request, self.biblios.values(), ())
        order = request.arg("_order_by") or "biblio_id"
        reverse = order.startswith("-")
        field_name = order.lstrip("+- ").split(",")[0] or "biblio_id"
        rows.sort(key=lambda row: (str(row.get(field_name) or ""), row["biblio_id"]), reverse=reverse)
        return [self.biblio_json(row) for row in rows]

    def _biblio_items(self, request: Request) -> list[dict[str, Any]]:
        biblio = self._biblio(request.params["biblio_id"])
        return [self.item_json(item) for item in self.items.values() if item["biblio_id"] == biblio["biblio_id"]]

    def _get_item(self, request: Request) -> FakeResponse:
        try:
            item = self.items[int(request.params["item_id"])]
        except (KeyError, ValueError):
            raise KohaError(404, "Item not found", error_code="not_found") from None
        return FakeResponse.json(200, self.item_json(item))

    def _list_libraries(self, request: Request) -> list[dict[str, Any]]:
        return self._filter(request, [dict(library) for library in self.libraries.values()], ("name",))


def holdable_record(fake: FakeKoha, lender_case: str = "background") -> tuple[int, int, str]:
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

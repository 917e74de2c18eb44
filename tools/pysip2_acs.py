"""An independent SIP2 server for the demo library: pysip2's ACS with handlers over the demo ILS.

Shiori's own demo SIP2 server (``flask demo sip2-server``) was written together with Shiori's SIP2
client, so the two could share a misreading of the spec. This one puts the demo library's data and
rules behind pysip2's ``SIP2Server`` (PyPI ``pysip2``), an ACS nobody on this project wrote: its
framing, checksums, login gating, 98 status and supported-messages flags, and its typed, validating
encoder and decoder, which close the connection on a frame that bends the spec::

    python tools/pysip2_acs.py --port 6602
    # in another terminal (the server prints this line with the demo's branches filled in):
    PORTAL_ADAPTER=sip2 PORTAL_SIP2_HOST=127.0.0.1 PORTAL_SIP2_PORT=6602 \\
    PORTAL_SIP2_PICKUP_LOCATIONS='...' flask --app app run

Log in with a demo card (``flask demo patrons`` lists them): loans and holds with titles and due
dates, renew one, renew all, place and cancel a hold, log out. ``--user U --password P`` makes it
require a 93 login (``PORTAL_SIP2_USER``/``PORTAL_SIP2_PASSWORD``), as real ACSs do.

The data is the demo ILS's SQLite file: ``--database``, else ``demo-ils.sqlite3`` in the portal's
instance folder (``$PORTAL_INSTANCE_PATH`` or ``./instance``), seeded on first use. The rules are the
demo's: every request goes through a :class:`DemoAdapter` (authenticate, loans, renew, renew all,
place hold, cancel holds); only item-level facts the portal contract does not carry (which copy a
hold has, an item's loan and shelf status) are read from the file directly. ``flask demo checkin``
and ``flask demo clock`` change what it serves while it runs.

Handled: 93 login, 99 status, 23 patron status, 63 patron information (BP/BQ paging; AD checked),
17 item information, 29 renew, 65 renew all, 15 hold (``+`` place, ``-`` cancel), 35 end session;
97 resend is pysip2's. Lists name items by barcode as Koha does: a ready or in-transit hold by the
copy set aside for it, a waiting one by its title's first copy; a 15 ``+`` on any copy (or on a
record id) places a title-level hold. Refusals are ``ok=0`` with an English screen message (AF).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
import msgspec  # noqa: E402
from anyio.from_thread import start_blocking_portal  # noqa: E402
from pysip2 import (  # noqa: E402
    END_PATRON_SESSION,
    HOLD,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    PATRON_STATUS,
    RENEW,
    RENEW_ALL,
    SC_STATUS,
    EndSessionResponse,
    HoldResponse,
    ItemInformationResponse,
    LoginResponse,
    PatronInformationResponse,
    PatronStatusResponse,
    RenewAllResponse,
    RenewResponse,
    SIP2Server,
)

from adapters.demo import DemoAdapter  # noqa: E402
from adapters.demo.sip2_common import (  # noqa: E402  (what both demo SIP2 servers share)
    DEFAULT_INSTITUTION,
    HOLD_TEXT,
    RENEWAL_TEXT,
    PasswordCheck,
    check_password,
    find_patron,
    list_position,
    patron_for_request,
    pickup_locations_setting,
    sip_date,
    status_flags,
)
from adapters.errors import InvalidInput, RecordNotFound, Refused  # noqa: E402
from adapters.models import HoldRequest, HoldStatus, Patron, Reason  # noqa: E402

log = logging.getLogger("pysip2_acs")

DEFAULT_PORT = 6602
MAX_VALUE_BYTES = 255
SUMMARY_LISTS = ("hold", "overdue", "charged", "fine", "recall", "unavailable")  # 63 summary positions

ITEM_SQL = """
SELECT i.id, i.record_id, i.home_branch, r.title, l.due_date, h.status AS hold_status, h.pickup_branch,
       h.pickup_deadline,
       (SELECT COUNT(*) FROM holds q WHERE q.record_id = i.record_id AND q.status = 'waiting') AS queue
FROM items i JOIN records r ON r.id = i.record_id LEFT JOIN loans l ON l.item_id = i.id
LEFT JOIN holds h ON h.item_id = i.id
WHERE i.id = ?
"""
# The barcode a patron's hold is listed by: the copy set aside for it, else its title's first copy.
LISTED_HOLDS_SQL = """
SELECT 'H' || h.id AS hold_id, h.record_id,
       COALESCE(h.item_id, (SELECT i.id FROM items i WHERE i.record_id = h.record_id ORDER BY i.rowid LIMIT 1))
           AS listed
FROM holds h WHERE h.patron_key = ?
"""


def safe(value: object, encoding: str = "utf-8") -> str:
    """A value pysip2 will put in an identified field: no ``|`` or control characters, what the
    encoding cannot carry as ``?``, at most 255 bytes."""
    text = "".join(" " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in str(value))
    text = text.replace("|", "¦").encode(encoding, errors="replace").decode(encoding, errors="replace")
    while len(text.encode(encoding, errors="replace")) > MAX_VALUE_BYTES:
        text = text[:-1]
    return text


@dataclass(frozen=True)
class Account:
    """What a 23 or 64 says about one patron."""

    patron: Patron
    lists: dict[str, list[str]]
    fines: Decimal


@dataclass(frozen=True)
class Item:
    """What a 17 says about one barcode."""

    item_id: str
    title: str
    status: str  # circulation status: 03 on the shelf, 04 charged, 08 on the hold shelf, 10 in transit
    due: date | None
    pickup_deadline: date | None
    home_branch: str
    location: str
    queue: int


class DemoLibrary:
    """The demo ILS as a SIP2 server sees it; every change goes through the DemoAdapter's rules."""

    def __init__(self, demo: DemoAdapter) -> None:
        self.demo = demo

    def now(self) -> str:
        """The demo's today at the current time of day (the demo clock can run ahead of the real one)."""
        return sip_date(self.demo.today(), datetime.now().strftime("%H%M%S")) or ""

    def patron(self, card: str) -> Patron | None:
        return find_patron(self.demo, card)

    def password_ok(self, card: str, password: str | None) -> PasswordCheck:
        """The patron password (AD) checked as Shiori's own demo SIP2 server checks it."""
        return check_password(self.demo, card, password)

    def checked_patron(self, card: str | None, password: str | None) -> tuple[Patron | None, str | None]:
        """(patron, refusal text) for a 29, 65 or 15: the patron named by AA, if the AD (when sent) is right."""
        return patron_for_request(self.demo, card, password)

    def account(self, patron: Patron) -> Account:
        loans = self.demo.loans(patron.key)
        listed = self.listed_holds(patron.key)
        holds = self.demo.holds(patron.key)
        ready = [listed[hold.hold_id] for hold in holds if hold.status is HoldStatus.READY and hold.hold_id in listed]
        other = [listed[hold.hold_id] for hold in holds if hold.status is not HoldStatus.READY
                 and hold.hold_id in listed]
        return Account(
            patron=patron,
            lists={"charged": [loan.item_id for loan in loans], "overdue": [loan.item_id for loan in loans
                                                                            if loan.overdue],
                   "hold": ready, "unavailable": other, "fine": [], "recall": []},
            fines=self.demo.account_summary(patron.key).fines,
        )

    def listed_holds(self, patron_key: str) -> dict[str, str]:
        """Hold id -> the barcode the hold is listed by."""
        with self.demo._tx() as conn:  # the demo's own transaction: days played through first
            return {row["hold_id"]: row["listed"] for row in conn.execute(LISTED_HOLDS_SQL, (patron_key,))}

    def item(self, item_id: str) -> Item | None:
        with self.demo._tx() as conn:
            row = conn.execute(ITEM_SQL, ((item_id or "").strip().upper(),)).fetchone()
        if row is None:
            return None
        status, location, deadline = "03", row["home_branch"], None
        if row["due_date"]:
            status = "04"
        elif row["hold_status"] == "ready":
            status, location = "08", row["pickup_branch"]
            deadline = date.fromisoformat(row["pickup_deadline"]) if row["pickup_deadline"] else None
        elif row["hold_status"] == "in_transit":
            status = "10"
        return Item(item_id=row["id"], title=row["title"], status=status,
                    due=date.fromisoformat(row["due_date"]) if row["due_date"] else None,
                    pickup_deadline=deadline, home_branch=row["home_branch"], location=location, queue=row["queue"])

    def record_of(self, wanted: str) -> str | None:
        """The record a 15 names: by one of its copies' barcodes, or by the record id itself."""
        item = (wanted or "").strip().upper()
        with self.demo._tx() as conn:
            row = conn.execute("SELECT record_id FROM items WHERE id = ?", (item,)).fetchone()
            if row is None:
                row = conn.execute("SELECT id AS record_id FROM records WHERE id = ?", ((wanted or "").strip(),)
                                   ).fetchone()
        return row["record_id"] if row else None

    def renew(self, patron: Patron, item_id: str) -> tuple[str | None, str, date | None]:
        """(refusal text or None, title, new due date)."""
        wanted = (item_id or "").strip().upper()
        loan = next((loan for loan in self.demo.loans(patron.key) if loan.item_id == wanted), None)
        if loan is None:
            return RENEWAL_TEXT[Reason.NOT_FOUND], "", None
        (outcome,) = self.demo.renew(patron.key, [loan.loan_id]).outcomes
        if outcome.renewed:
            return None, loan.title, outcome.new_due_date
        return RENEWAL_TEXT.get(outcome.reason, "Renewal refused"), loan.title, None

    def renew_all(self, patron: Patron) -> tuple[list[str], list[str]]:
        """(renewed barcodes, unrenewed "barcode reason" values)."""
        items = {loan.loan_id: loan.item_id for loan in self.demo.loans(patron.key)}
        if not items:
            return [], []
        renewed, unrenewed = [], []
        for outcome in self.demo.renew_all(patron.key).outcomes:
            item_id = items.get(outcome.loan_id, outcome.loan_id)
            if outcome.renewed:
                renewed.append(item_id)
            else:
                unrenewed.append(f"{item_id} {RENEWAL_TEXT.get(outcome.reason, 'Renewal refused')}")
        return renewed, unrenewed

    def place_hold(self, patron: Patron, wanted: str, pickup: str | None, expiry: date | None) -> dict[str, Any]:
        """{"refusal": text} or {"listed", "title", "position", "pickup", "ready"}. Without a pickup
        location the hold goes to the library's first branch."""
        record_id = self.record_of(wanted)
        if record_id is None:
            return {"refusal": "No such item"}
        pickup = pickup or next(iter(self.demo.branch_names()))
        try:
            hold = self.demo.place_hold(patron.key, HoldRequest(record_id, pickup, expiry))
        except Refused as refused:
            return {"refusal": HOLD_TEXT.get(refused.reason, "Hold refused")}
        except RecordNotFound:
            return {"refusal": "No such item"}
        except InvalidInput:
            return {"refusal": "Invalid expiration date"}
        return {"listed": self.listed_holds(patron.key).get(hold.hold_id, wanted), "title": hold.title,
                "position": hold.queue_position, "pickup": pickup, "ready": hold.status is HoldStatus.READY}

    def cancel_hold(self, patron: Patron, wanted: str) -> tuple[str | None, str | None]:
        """(refusal text or None, title). The hold listed by this barcode, else the one on its title."""
        listed = self.listed_holds(patron.key)
        holds = {hold.hold_id: hold for hold in self.demo.holds(patron.key)}
        barcode = (wanted or "").strip().upper()
        hold_id = next((hold_id for hold_id, item in listed.items() if item == barcode), None)
        if hold_id is None:
            record_id = self.record_of(wanted)
            hold_id = next((hold.hold_id for hold in holds.values() if hold.record_id == record_id), None)
        if hold_id is None or hold_id not in holds:
            return HOLD_TEXT[Reason.NOT_FOUND], None
        (outcome,) = self.demo.cancel_holds(patron.key, [hold_id])
        if outcome.cancelled:
            return None, holds[hold_id].title
        return HOLD_TEXT.get(outcome.reason, "Hold not cancelled"), holds[hold_id].title


def build_server(
    library: DemoLibrary,
    *,
    user: str = "",
    password: str = "",
    institution: str = DEFAULT_INSTITUTION,
    library_name: str = "Shiori Demo Library (pysip2)",
    encoding: str = "utf-8",
    observer: Callable[[str, str], None] | None = None,
) -> SIP2Server:
    """pysip2's SIP2Server with handlers for 93, 99, 23, 63, 17, 29, 65, 15 and 35 over ``library``.

    ``observer(command, patron)`` is told of every request handled (patron: the card, or "").
    Handlers are plain functions: pysip2 runs them in worker threads, so the demo's SQLite and
    password hashing never block its event loop.
    """
    server = SIP2Server(login_required=bool(user), institution_id=institution, library_name=library_name,
                        encoding=encoding, offline_ok=False)

    def text(value: object) -> str:
        return safe(value, encoding)

    def seen(command: str, card: str | None = "") -> None:
        if observer is not None:
            observer(command, card or "")

    @server.route(LOGIN)
    def login(request, ctx):
        seen("93")
        ok = not user or (request.login_user_id, request.login_password) == (user, password)
        return LoginResponse(ok="1" if ok else "0")

    @server.route(SC_STATUS)
    def status(request, ctx):
        seen("99")
        return msgspec.structs.replace(ctx.server.build_acs_status(request), date_time_sync=library.now())

    def patron_fields(request) -> tuple[Patron | None, dict[str, Any]]:
        card = (request.patron_identifier or "").strip()
        patron = library.patron(card)
        if patron is None:
            return None, {"patron_status": "YYYY" + " " * 10, "personal_name": "", "valid_patron": "N",
                          "valid_patron_password": "N" if request.patron_password is not None else None,
                          "screen_message": ("Invalid patron",)}
        valid_password, locked = library.password_ok(patron.card_number, request.patron_password)
        flags, messages = status_flags(patron)
        if locked:
            messages.append("Account locked")
        return patron, {
            "patron_status": flags, "personal_name": text(patron.display_name), "valid_patron": "Y",
            "valid_patron_password": None if valid_password is None else ("Y" if valid_password else "N"),
            "screen_message": tuple(messages),
        }

    @server.route(PATRON_STATUS)
    def patron_status(request, ctx):
        seen("23", request.patron_identifier)
        patron, fields = patron_fields(request)
        fines = library.demo.account_summary(patron.key).fines if patron is not None else None
        return PatronStatusResponse(
            language="000", transaction_date=library.now(), institution_id=institution,
            patron_identifier=request.patron_identifier,
            currency_type="JPY" if fines is not None else None, fee_amount=str(int(fines)) if fines else None,
            **fields,
        )

    @server.route(PATRON_INFORMATION)
    def patron_information(request, ctx):
        seen("63", request.patron_identifier)
        patron, fields = patron_fields(request)
        account = library.account(patron) if patron is not None else None
        lists = account.lists if account is not None else {name: [] for name in SUMMARY_LISTS}
        chosen = request.summary.find("Y")
        page: tuple[str, ...] = ()
        if 0 <= chosen < len(SUMMARY_LISTS):
            values = lists[SUMMARY_LISTS[chosen]]
            start, end = list_position(request.start_item, 1), list_position(request.end_item, len(values))
            page = tuple(text(value) for value in values[start - 1 : end])
        chosen_list = SUMMARY_LISTS[chosen] if 0 <= chosen < len(SUMMARY_LISTS) else None
        return PatronInformationResponse(
            language="000", transaction_date=library.now(),
            hold_items_count=f"{len(lists['hold']):04d}", overdue_items_count=f"{len(lists['overdue']):04d}",
            charged_items_count=f"{len(lists['charged']):04d}", fine_items_count="0000",
            recall_items_count="0000", unavailable_holds_count=f"{len(lists['unavailable']):04d}",
            institution_id=institution, patron_identifier=request.patron_identifier,
            hold_items_limit=f"{library.demo.rules.max_holds:04d}" if account is not None else None,
            currency_type="JPY" if account is not None else None,
            fee_amount=str(int(account.fines)) if account is not None else None,
            hold_items=page if chosen_list == "hold" else (),
            overdue_items=page if chosen_list == "overdue" else (),
            charged_items=page if chosen_list == "charged" else (),
            unavailable_hold_items=page if chosen_list == "unavailable" else (),
            **fields,
        )

    @server.route(ITEM_INFORMATION)
    def item_information(request, ctx):
        seen("17")
        item = library.item(request.item_identifier)
        if item is None:
            return ItemInformationResponse(circulation_status="01", security_marker="00", fee_type="01",
                                           transaction_date=library.now(), item_identifier=request.item_identifier,
                                           title_identifier="", screen_message=("Item not found",))
        return ItemInformationResponse(
            circulation_status=item.status, security_marker="02", fee_type="01", transaction_date=library.now(),
            hold_queue_length=str(item.queue), due_date=sip_date(item.due),
            hold_pickup_date=sip_date(item.pickup_deadline), item_identifier=text(item.item_id),
            title_identifier=text(item.title), owner=institution, media_type="001",
            permanent_location=text(item.home_branch), current_location=text(item.location),
        )

    def checked_patron(request) -> tuple[Patron | None, str | None]:
        return library.checked_patron(request.patron_identifier, request.patron_password)

    @server.route(RENEW)
    def renew(request, ctx):
        seen("29", request.patron_identifier)
        patron, refusal = checked_patron(request)
        title, due = "", None
        if patron is not None:
            refusal, title, due = library.renew(patron, request.item_identifier or "")
        ok = refusal is None
        return RenewResponse(
            ok="1" if ok else "0", renewal_ok="Y" if ok else "N", magnetic_media="N" if ok else "U",
            desensitize="N" if ok else "U", transaction_date=library.now(), institution_id=institution,
            patron_identifier=request.patron_identifier, item_identifier=text(request.item_identifier or ""),
            title_identifier=text(title), due_date=sip_date(due) or "",
            screen_message=(refusal,) if refusal else (),
        )

    @server.route(RENEW_ALL)
    def renew_all(request, ctx):
        seen("65", request.patron_identifier)
        patron, refusal = checked_patron(request)
        renewed, unrenewed = library.renew_all(patron) if patron is not None else ([], [])
        return RenewAllResponse(
            ok="1" if patron is not None else "0", renewed_count=f"{len(renewed):04d}",
            unrenewed_count=f"{len(unrenewed):04d}", transaction_date=library.now(), institution_id=institution,
            renewed_items=tuple(map(text, renewed)), unrenewed_items=tuple(map(text, unrenewed)),
            screen_message=(refusal,) if refusal else (),
        )

    @server.route(HOLD)
    def hold(request, ctx):
        seen("15", request.patron_identifier)
        patron, refusal = checked_patron(request)
        wanted = request.item_identifier or request.title_identifier or ""
        answer: dict[str, Any] = {}
        title = None
        if patron is not None:
            if request.hold_mode == "+":
                expiry = request.expiration_date
                day = date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:8])) if expiry else None
                pickup = (request.pickup_location or "").strip()  # the institution itself: any branch
                answer = library.place_hold(patron, wanted, None if pickup in ("", institution) else pickup, day)
                refusal, title = answer.get("refusal"), answer.get("title")
            elif request.hold_mode == "-":
                refusal, title = library.cancel_hold(patron, wanted)
            else:
                refusal = "Hold changes are not supported"
        ok = refusal is None
        position = answer.get("position")
        return HoldResponse(
            ok="1" if ok else "0", available="Y" if answer.get("ready") else "N", transaction_date=library.now(),
            expiration_date=request.expiration_date if ok and request.hold_mode == "+" else None,
            queue_position=str(position) if position else None,
            pickup_location=text(answer["pickup"]) if answer.get("pickup") else None,
            institution_id=institution, patron_identifier=request.patron_identifier,
            item_identifier=text(answer.get("listed") or wanted) or None,
            title_identifier=text(title) if title else None, screen_message=(refusal,) if refusal else (),
        )

    @server.route(END_PATRON_SESSION)
    def end_session(request, ctx):
        seen("35", request.patron_identifier)
        return EndSessionResponse(end_session="Y", transaction_date=library.now(), institution_id=institution,
                                  patron_identifier=request.patron_identifier, screen_message=("Thank you!",))

    return server


@contextmanager
def serving(server: SIP2Server, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve from a background thread (an AnyIO blocking portal); yields the bound port."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(server.start(host=host, port=port)) as bound,
    ):
        yield bound
    # pysip2 0.1.0's start() leaves its listening socket to the garbage collector: close it now.
    gc.collect()


def default_database() -> Path:
    instance = os.environ.get("PORTAL_INSTANCE_PATH") or str(ROOT / "instance")
    return Path(instance) / "demo-ils.sqlite3"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--database", type=Path, default=None,
                        help="the demo ILS's SQLite file (default: demo-ils.sqlite3 in the instance folder)")
    parser.add_argument("--user", default="", help="require this 93 login user (default: no login)")
    parser.add_argument("--password", default="", help="the 93 login password, with --user")
    parser.add_argument("--institution", default=DEFAULT_INSTITUTION, help="institution id (AO)")
    parser.add_argument("--encoding", default="utf-8", help="utf-8 (default), cp932, shift_jis, cp850, ascii")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    database = args.database or default_database()
    existed = database.exists()
    database.parent.mkdir(parents=True, exist_ok=True)
    demo = DemoAdapter(database)
    today = demo.today()  # seeds a new file
    if not existed:
        print(f"Seeded a new demo ILS in {database}")

    def observe(command: str, card: str) -> None:
        log.info("%s%s", command, f" card ******{card[-4:]}" if card else "")

    server = build_server(DemoLibrary(demo), user=args.user, password=args.password, institution=args.institution,
                          encoding=args.encoding, observer=observe)
    pickups = pickup_locations_setting(demo)
    login = f" PORTAL_SIP2_USER={args.user} PORTAL_SIP2_PASSWORD=..." if args.user else ""

    async def run() -> None:
        async with server.start(host=args.host, port=args.port) as port:
            print(f"pysip2 SIP2 server for the demo ILS on {args.host}:{port} (institution {args.institution}, "
                  f"{args.encoding}, demo date {today}, data {database}). Ctrl-C stops it.")
            print(f"Run the portal against it with:\n  PORTAL_ADAPTER=sip2 PORTAL_SIP2_HOST={args.host} "
                  f"PORTAL_SIP2_PORT={port} PORTAL_SIP2_ENCODING={args.encoding}{login} "
                  f"PORTAL_SIP2_PICKUP_LOCATIONS='{pickups}' flask --app app run", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
        print("pysip2 SIP2 server stopped.")

    try:
        anyio.run(run)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {args.host}:{args.port}: {exc}") from exc


if __name__ == "__main__":
    main()

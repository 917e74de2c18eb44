"""A SIP2 server (ACS) in front of the demo ILS, so the portal can run with ``PORTAL_ADAPTER=sip2``
on one machine (``flask demo sip2-server --port 6601``), and the SIP2 adapter's tests have a server
with a real library's data and rules behind it.

It answers 93, 99, 63 (BP/BQ paging; AD checked), 23, 17, 29, 65, 15 (``+``, ``-`` and ``*``), 35 and 97
(resend the last reply) the way Koha's SIP server does: item barcodes in the 64 lists, refusals as
``ok=0`` with an English screen message (AF). Error detection follows the request: a request with
AY/AZ gets a reply with the same AY and a checksum, a bad checksum gets ``96``. Replies end in CR.
Unknown commands are ignored, as the spec says. ``latency`` is how long after a request arrives its
reply is sent (for benchmarks): the demo's own work counts toward it, as a real ILS's does, so an
ILS "at 20 ms" answers in 20 ms however busy the demo's process is, unless its work alone takes longer.

Holds are listed Koha's way: a ready or in-transit hold by the copy set aside for it, a waiting
hold by its record's first copy; a 15 on any copy of a record places a title-level hold on it.

``profile`` makes it answer as one server does (adapters/sip2/profiles.py; the README beside the
SIP2 adapter cites each server's code): ``generic`` and ``koha`` list ready holds in AS and the
others in CD (``koha`` ends replies with CRLF, as Koha does unless its account says CR);
``evergreen`` lists every open hold in AS and the not-yet-ready ones in CD, as titles unless
``datatype="barcode"`` (Evergreen's msg64_hold_datatype / msg64_summary_datatype), and sets the
recall-privileges-denied flag for every patron; ``folio`` lists every open hold in AS, leaves CD
and its count empty, sets all 14 flags for a blocked patron and announces no hold message in BX.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from adapters.demo.adapter import DemoAdapter
from adapters.demo.sip2_common import (
    DEFAULT_INSTITUTION,
    HOLD_TEXT,
    RENEWAL_TEXT,
    check_password,
    list_position,
    patron_for_request,
    sip_date,
    status_flags,
)
from adapters.errors import InvalidInput, RecordNotFound, Refused
from adapters.models import HoldRequest, Patron, Reason
from adapters.sip2.codec import Message, checksum_verdict, decode_message, encode_message, format_sip_datetime
from adapters.sip2.dates import parse_sip_datetime
from adapters.sip2.errors import Sip2ProtocolError
from adapters.validation import normalize_card_number

log = logging.getLogger(__name__)

#  0 patron status, 1 checkout, 2 checkin, 3 block patron, 4 status, 5 resend, 6 login, 7 patron info,
#  8 end session, 9 fee paid, 10 item info, 11 item status update, 12 patron enable, 13 hold, 14 renew, 15 renew all
SUPPORTED_MESSAGES = "YNNNYYYYYNYNNYYY"
PROFILES = ("generic", "koha", "evergreen", "folio")
MAX_FRAME = 65536

# A patron's holds with the id a 64 lists them by (as Koha): the copy set aside, else the record's first copy.
HOLD_ROWS_SQL = (
    "SELECT h.id, h.status, h.record_id, COALESCE(h.item_id, (SELECT i.id FROM items i"
    " WHERE i.record_id = h.record_id ORDER BY i.rowid LIMIT 1)) AS listed,"
    " (SELECT r.title FROM records r WHERE r.id = h.record_id) AS title FROM holds h"
    " WHERE h.patron_key = ? ORDER BY CASE h.status WHEN 'ready' THEN 0 WHEN 'in_transit' THEN 1 ELSE 2 END,"
    " h.pickup_deadline, h.id"
)


@dataclass(frozen=True)
class _Account:
    patron: Patron
    language: str
    now: str
    lists: dict[str, list[str]]
    fines: Decimal


def _moment(day: date) -> str:
    """The demo's today at the current time of day, as a SIP2 transaction date."""
    return format_sip_datetime(datetime.combine(day, datetime.now().time().replace(microsecond=0)))


def _clean(value: object) -> str:
    """A value safe in an identified field: no delimiter or control characters, at most 255 bytes."""
    text = "".join(" " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in str(value))
    text = text.replace("|", "¦")
    while len(text.encode("utf-8")) > 255:
        text = text[:-1]
    return text


@dataclass
class _Session:
    logged_in: bool = False
    last_reply: bytes | None = None


@dataclass
class DemoAcs:
    """The message handling, without sockets: ``respond(request) -> reply or None``."""

    demo: DemoAdapter
    institution: str = DEFAULT_INSTITUTION
    library_name: str = "Shiori Demo Library"
    user: str = ""
    password: str = field(default="", repr=False)
    profile: str = "generic"
    datatype: str = "barcode"  # evergreen: what the 64 lists carry, barcode or title

    # --- helpers ------------------------------------------------------------------------------------

    def now(self) -> str:
        return _moment(self.demo.today())

    def _reply(self, command: str, fixed: dict[str, str], fields: list[tuple[str, object | None]]) -> Message:
        return Message.build(command, fixed, [(fid, None if value is None else _clean(value)) for fid, value in fields])

    def _rows(self, sql: str, args: tuple) -> list:
        with self.demo._tx() as conn:  # the demo's own transaction: days caught up first
            return conn.execute(sql, args).fetchall()

    def _hold_rows(self, patron_key: str) -> list:
        return self._rows(HOLD_ROWS_SQL, (patron_key,))

    # --- dispatch -----------------------------------------------------------------------------------

    def respond(self, request: Message) -> Message | None:
        handler: Callable[[Message], Message] | None = getattr(self, f"_handle_{request.command}", None)
        return None if handler is None else handler(request)

    def _handle_99(self, request: Message) -> Message:
        fixed = {"online_status": "Y", "checkin_ok": "N", "checkout_ok": "N", "acs_renewal_policy": "Y",
                 "status_update_ok": "N", "offline_ok": "N", "timeout_period": "030", "retries_allowed": "003",
                 "date_time_sync": self.now(), "protocol_version": "2.00"}
        supported = SUPPORTED_MESSAGES if self.profile != "folio" else SUPPORTED_MESSAGES[:13] + "N" + "YY"
        return self._reply("98", fixed, [("AO", self.institution), ("AM", self.library_name), ("BX", supported)])

    def _account(self, card: str) -> _Account | None:
        """Everything a 23 or 64 says about a patron, read in one demo transaction."""
        try:
            card = normalize_card_number(card)
        except InvalidInput:
            return None
        demo = self.demo
        with demo._tx() as conn:  # the demo's own transaction and rules, days caught up first
            row = conn.execute("SELECT * FROM patrons WHERE card = ?", (card,)).fetchone()
            if row is None:
                return None
            patron = demo._patron(conn, row)
            loans = demo._loans(conn, row["key"])
            holds = conn.execute(HOLD_ROWS_SQL, (row["key"],)).fetchall()
            fines = conn.execute("SELECT amount, description FROM fines WHERE patron_key = ? ORDER BY id",
                                 (row["key"],)).fetchall()
            today = demo.store.today(conn)
        titles = self.profile == "evergreen" and self.datatype == "title"
        loan_value = (lambda loan: loan.title) if titles else (lambda loan: loan.item_id)
        hold_value = "title" if titles else "listed"
        ready = [hold[hold_value] for hold in holds if hold["status"] == "ready"]
        other = [hold[hold_value] for hold in holds if hold["status"] != "ready"]
        if self.profile == "evergreen":  # every open hold in AS, those not on the shelf in CD
            hold_items, unavailable = [hold[hold_value] for hold in holds], other
        elif self.profile == "folio":  # every open request in AS; CD holds closed requests (none kept here)
            hold_items, unavailable = [hold[hold_value] for hold in holds], []
        else:
            hold_items, unavailable = ready, other
        return _Account(
            patron=patron, language="001" if row["language"] == "en" else "014", now=_moment(today),
            lists={
                "AU": [loan_value(loan) for loan in loans],
                "AT": [loan_value(loan) for loan in loans if loan.overdue],
                "AS": hold_items,
                "CD": unavailable,
                "AV": [f"{fine['amount']} {fine['description']}" for fine in fines],
                "BU": [],
            },
            fines=sum((Decimal(fine["amount"]) for fine in fines), Decimal(0)),
        )

    def _patron_fields(self, request: Message) -> tuple[dict[str, str], list, _Account | None, list[str]]:
        card = (request.get("AA") or "").strip()
        account = self._account(card)
        if account is None:
            fixed = {"patron_status": "YYYY          ", "language": "000", "transaction_date": self.now()}
            fields = [("AO", self.institution), ("AA", card), ("AE", ""), ("BL", "N")]
            if request.get("AD") is not None:
                fields.append(("CQ", "N"))
            return fixed, fields, None, ["Invalid cardnumber"]
        patron = account.patron
        status, messages = status_flags(patron)
        if self.profile == "evergreen":  # recall_ok is 0 unless patron_calculate_recal_ok; hold_ok is charge_ok
            status = status[:2] + "Y" + status[0] + status[4:]
        elif self.profile == "folio" and "Y" in status[:4]:  # a borrowing block sets every flag
            status = "Y" * 14
        password_ok, locked = check_password(self.demo, patron.card_number, request.get("AD"))
        if locked:
            status, messages = "YYYY" + status[4:], [*messages, "Account locked"]
        fixed = {"patron_status": status, "language": account.language, "transaction_date": account.now}
        fields = [("AO", self.institution), ("AA", patron.card_number), ("AE", patron.display_name), ("BL", "Y")]
        if password_ok is not None:
            fields.append(("CQ", "Y" if password_ok else "N"))
            if not password_ok:
                messages.append("Invalid password")
        return fixed, fields, account, messages

    def _handle_23(self, request: Message) -> Message:
        fixed, fields, account, messages = self._patron_fields(request)
        if account is not None:
            fields += [("BH", "JPY"), ("BV", _amount(account.fines))]
        return self._reply("24", fixed, [*fields, *(("AF", text) for text in messages)])

    def _handle_63(self, request: Message) -> Message:
        fixed, fields, account, messages = self._patron_fields(request)
        lists = account.lists if account is not None else {key: [] for key in ("AS", "AT", "AU", "AV", "BU", "CD")}
        if account is not None:
            fields += [("BZ", f"{self.demo.rules.max_holds:04d}"), ("BH", "JPY"), ("BV", _amount(account.fines))]
        counts = {name: f"{len(lists[fid]):04d}" for name, fid in (
            ("hold_items_count", "AS"), ("overdue_items_count", "AT"), ("charged_items_count", "AU"),
            ("fine_items_count", "AV"), ("recall_items_count", "BU"), ("unavailable_holds_count", "CD"))}
        if self.profile == "folio":
            counts["unavailable_holds_count"] = "    "  # edge-sip2 sets it to null
        summary_flags = request.fixed.get("summary", "")
        if "Y" in summary_flags.upper():
            field_id = ("AS", "AT", "AU", "AV", "BU", "CD", None, None, None, None)[summary_flags.upper().index("Y")]
            if field_id is not None:
                start = list_position(request.get("BP"), 1)
                end = list_position(request.get("BQ"), len(lists[field_id]))
                fields += [(field_id, value) for value in lists[field_id][start - 1 : end]]
        return self._reply("64", {**fixed, **counts}, [*fields, *(("AF", text) for text in messages)])

    def _handle_17(self, request: Message) -> Message:
        item_id = (request.get("AB") or "").strip().upper()
        with self.demo._tx() as conn:  # one transaction for the item and the demo's date
            rows = conn.execute(
                "SELECT i.id, i.home_branch, r.title, l.due_date, h.status AS hold_status, h.pickup_branch,"
                " h.pickup_deadline, (SELECT COUNT(*) FROM holds q WHERE q.record_id = i.record_id"
                " AND q.status = 'waiting') AS queue FROM items i JOIN records r ON r.id = i.record_id"
                " LEFT JOIN loans l ON l.item_id = i.id LEFT JOIN holds h ON h.item_id = i.id WHERE i.id = ?",
                (item_id,),
            ).fetchall()
            now = _moment(self.demo.store.today(conn))
        if not rows:
            fixed = {"circulation_status": "01", "security_marker": "01", "fee_type": "01", "transaction_date": now}
            return self._reply("18", fixed, [("AB", request.get("AB") or ""), ("AJ", ""), ("AF", "Item not found")])
        row = rows[0]
        status, location, pickup_date = "03", row["home_branch"], None
        if row["due_date"]:
            status = "04"
        elif row["hold_status"] == "ready":
            status, location = "08", row["pickup_branch"]
            pickup_date = sip_date(date.fromisoformat(row["pickup_deadline"])) if row["pickup_deadline"] else None
        elif row["hold_status"] == "in_transit":
            status = "10"
        due = sip_date(date.fromisoformat(row["due_date"])) if row["due_date"] else None
        fixed = {"circulation_status": status, "security_marker": "02", "fee_type": "01", "transaction_date": now}
        return self._reply("18", fixed, [
            ("CF", str(row["queue"])), ("AH", due), ("CM", pickup_date), ("AB", row["id"]), ("AJ", row["title"]),
            ("BG", self.institution), ("CK", "001"), ("AQ", row["home_branch"]), ("AP", location),
        ])

    def _checked_patron(self, request: Message) -> tuple[Patron | None, str | None]:
        """(patron, refusal text): the patron named by AA, if the AD (when sent) is right."""
        return patron_for_request(self.demo, request.get("AA"), request.get("AD"))

    def _handle_29(self, request: Message) -> Message:
        patron, refusal = self._checked_patron(request)
        item_id = (request.get("AB") or "").strip().upper()
        fields: list[tuple[str, object | None]] = [("AO", self.institution), ("AA", request.get("AA") or "")]
        if patron is not None:
            loan = next((loan for loan in self.demo.loans(patron.key) if loan.item_id == item_id), None)
            if loan is None:
                refusal = RENEWAL_TEXT[Reason.NOT_FOUND]
            else:
                (outcome,) = self.demo.renew(patron.key, [loan.loan_id]).outcomes
                if outcome.renewed:
                    fixed = {"ok": "1", "renewal_ok": "Y", "magnetic_media": "N", "desensitize": "N",
                             "transaction_date": self.now()}
                    return self._reply("30", fixed, [*fields, ("AB", item_id), ("AJ", loan.title),
                                                     ("AH", sip_date(outcome.new_due_date))])
                refusal = RENEWAL_TEXT.get(outcome.reason, "Renewal refused")
        fixed = {"ok": "0", "renewal_ok": "N", "magnetic_media": "U", "desensitize": "U", "transaction_date": self.now()}
        return self._reply("30", fixed, [*fields, ("AB", item_id), ("AJ", ""), ("AH", ""), ("AF", refusal)])

    def _handle_65(self, request: Message) -> Message:
        patron, refusal = self._checked_patron(request)
        renewed, unrenewed = [], []
        if patron is not None:
            items = {loan.loan_id: loan.item_id for loan in self.demo.loans(patron.key)}
            for outcome in (self.demo.renew_all(patron.key).outcomes if items else ()):
                item_id = items.get(outcome.loan_id, outcome.loan_id)
                if outcome.renewed:
                    renewed.append(item_id)
                else:
                    unrenewed.append(f"{item_id} {RENEWAL_TEXT.get(outcome.reason, 'Renewal refused')}")
        fixed = {"ok": "1" if patron is not None else "0", "renewed_count": f"{len(renewed):04d}",
                 "unrenewed_count": f"{len(unrenewed):04d}", "transaction_date": self.now()}
        fields = [("AO", self.institution), *(("BM", item) for item in renewed), *(("BN", item) for item in unrenewed)]
        return self._reply("66", fixed, [*fields, ("AF", refusal)])

    def _handle_15(self, request: Message) -> Message:
        mode = request.fixed.get("hold_mode", "")
        patron, refusal = self._checked_patron(request)
        wanted = (request.get("AB") or request.get("AJ") or "").strip().upper()
        fields: list[tuple[str, object | None]] = [("AO", self.institution), ("AA", request.get("AA") or "")]
        answer: dict[str, object] = {}
        if patron is not None:
            found = self._rows("SELECT record_id FROM items WHERE id = ?", (wanted,)) or self._rows(
                "SELECT id AS record_id FROM records WHERE id = ?", (wanted,))
            record_id = found[0]["record_id"] if found else None
            if mode == "+":
                refusal, answer = self._place(patron, record_id, request)
            elif mode == "-":
                refusal = self._cancel(patron, record_id)
            elif mode == "*":
                refusal, answer = self._alter(patron, record_id, request)
            else:
                refusal = "Hold changes are not supported"
        ok = refusal is None
        fixed = {"ok": "1" if ok else "0", "available": "Y" if answer.get("ready") else "N",
                 "transaction_date": self.now()}
        fields = [("BW", answer.get("expiry")), ("BR", answer.get("position")), ("BS", answer.get("pickup")),
                  *fields, ("AB", answer.get("listed") or wanted or None), ("AJ", answer.get("title")),
                  ("AF", refusal)]
        return self._reply("16", fixed, fields)

    def _place(self, patron, record_id: str | None, request: Message) -> tuple[str | None, dict[str, object]]:
        if record_id is None:
            return "No such item.", {}
        branches = self.demo.branch_names()
        pickup = (request.get("BS") or "").strip()
        if not pickup or pickup == self.institution:
            pickup = next(iter(branches))
        expiry = parse_sip_datetime(request.get("BW")) if request.get("BW") else None
        try:
            hold = self.demo.place_hold(patron.key, HoldRequest(record_id, pickup, expiry.date() if expiry else None))
        except Refused as refused:
            return HOLD_TEXT.get(refused.reason, "Hold refused"), {}
        except RecordNotFound:
            return "No such item.", {}
        except InvalidInput:
            return "Invalid expiration date", {}
        listed = next((row["listed"] for row in self._hold_rows(patron.key) if f"H{row['id']}" == hold.hold_id), None)
        return None, {"listed": listed, "title": hold.title, "pickup": pickup, "position": hold.queue_position,
                      "ready": hold.status.value == "ready",
                      "expiry": format_sip_datetime(expiry) if expiry else None}

    def _cancel(self, patron, record_id: str | None) -> str | None:
        row = next((row for row in self._hold_rows(patron.key) if row["record_id"] == record_id), None)
        if row is None:
            return HOLD_TEXT[Reason.NOT_FOUND]
        (outcome,) = self.demo.cancel_holds(patron.key, [f"H{row['id']}"])
        return None if outcome.cancelled else HOLD_TEXT.get(outcome.reason, "Hold not cancelled")

    def _alter(self, patron, record_id: str | None, request: Message) -> tuple[str | None, dict[str, object]]:
        """15 ``*``: a new pickup location (BS) for the patron's hold on this item, as Koha's
        ``C4::SIP::ILS::alter_hold`` (Koha-Community/Koha@08b4eb1b, C4/SIP/ILS.pm): the hold is looked
        up among the patron's own, "Hold updated." or "No such outstanding hold."."""
        row = next((row for row in self._hold_rows(patron.key) if row["record_id"] == record_id), None)
        pickup = (request.get("BS") or "").strip()
        if row is None:
            return "No such outstanding hold.", {}
        if not pickup:
            return None, {"listed": row["listed"]}  # nothing to change, as alter_hold
        (outcome,) = self.demo.change_pickup(patron.key, [f"H{row['id']}"], pickup)
        if not outcome.changed:
            return PICKUP_TEXT.get(outcome.reason, "Hold not updated"), {}
        return None, {"listed": row["listed"], "title": outcome.title, "pickup": pickup}

    def _handle_35(self, request: Message) -> Message:
        fields = [("AO", self.institution), ("AA", request.get("AA") or ""), ("AF", "Thank you!")]
        return self._reply("36", {"end_session": "Y", "transaction_date": self.now()}, fields)


# Why the demo ACS refuses a 15 "*" (Koha's own answers are only the two of alter_hold).
PICKUP_TEXT = {Reason.INVALID_PICKUP: "Invalid pickup location", Reason.HOLD_FOUND: "Hold is in transit or waiting"}


def _amount(amount: Decimal) -> str:
    return f"{amount:.2f}" if amount != amount.to_integral() else str(int(amount))


class _Handler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        self.server.track(sock, add=True)
        session = _Session()
        buffer = b""
        try:
            sock.settimeout(0.2)
            while not self.server.stopping.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                received = time.monotonic()
                buffer += chunk
                if len(buffer) > MAX_FRAME and b"\r" not in buffer:
                    return
                while b"\r" in buffer:
                    frame, buffer = buffer.split(b"\r", 1)
                    frame = frame.strip(b"\n")
                    if frame and not self._answer(sock, session, frame, received):
                        return
        except OSError:
            return
        finally:
            self.server.track(sock, add=False)

    def _answer(self, sock: socket.socket, session: _Session, frame: bytes, received: float) -> bool:
        """Reply to one frame (``received``: when it arrived, by time.monotonic()); False ends the connection."""
        acs: DemoAcs = self.server.acs
        if checksum_verdict(frame) == "mismatch":
            sock.sendall(b"96AZFEF6\r")
            return True
        try:
            request = decode_message(frame, self.server.encoding, verify_checksum=False)
        except Sip2ProtocolError:
            sock.sendall(b"96AZFEF6\r")
            return True
        if request.command == "97":
            sock.sendall((session.last_reply or b"96AZFEF6") + b"\r")
            return True
        if request.command == "93":
            ok = not acs.user or (request.get("CN"), request.get("CO")) == (acs.user, acs.password)
            session.logged_in = ok
            reply: Message | None = Message("94", {"ok": "1" if ok else "0"})
        elif acs.user and not session.logged_in:
            return False  # as Koha and Evergreen: nothing before a successful login
        else:
            try:
                reply = acs.respond(request)
            except Exception:  # a bug here must not look like a hung ACS to the client
                log.exception("demo SIP2 server failed on a %s message", request.command)
                return False
        if reply is None:
            return True
        data = encode_message(reply, self.server.encoding, sequence=request.sequence,
                              error_detection=request.sequence is not None)
        session.last_reply = data
        if self.server.latency > 0:  # all the work done first: after the wait, only the send
            time.sleep(max(0.0, self.server.latency - (time.monotonic() - received)))
        sock.sendall(data + (b"\r\n" if acs.profile == "koha" else b"\r"))
        return reply.command != "94" or reply.fixed["ok"] == "1"


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    request_queue_size = 64  # a portal opening its whole pool at once
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], acs: DemoAcs, *, latency: float, encoding: str) -> None:
        self.acs = acs
        self.latency = latency
        self.encoding = encoding
        self.stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, sock: socket.socket, *, add: bool) -> None:
        with self._clients_lock:
            (self._clients.add if add else self._clients.discard)(sock)

    def drop_clients(self) -> None:
        with self._clients_lock:
            clients = list(self._clients)
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class DemoSip2Server:
    """``with DemoSip2Server(demo, port=0) as server: ... server.port``; or ``serve_forever()``."""

    def __init__(
        self,
        demo: DemoAdapter,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        user: str = "",
        password: str = "",
        institution: str = DEFAULT_INSTITUTION,
        library_name: str = "Shiori Demo Library",
        encoding: str = "utf-8",
        profile: str = "generic",
        datatype: str = "barcode",
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
        acs = DemoAcs(demo, institution=institution, library_name=library_name, user=user, password=password,
                      profile=profile, datatype=datatype)
        self._server = _TcpServer((host, port), acs, latency=max(latency_ms, 0) / 1000, encoding=encoding)
        self._thread: threading.Thread | None = None

    @property
    def acs(self) -> DemoAcs:
        return self._server.acs

    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> DemoSip2Server:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="demo-sip2-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop listening, drop every client connection and wait for their threads."""
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.drop_clients()
        self._server.server_close()

    def __enter__(self) -> DemoSip2Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

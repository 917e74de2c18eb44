"""One notice run (``flask notices run``): hold-ready notices and due-date reminders, each sent once.

For every patron who has a confirmed address and wants at least one kind of notice, a worker
thread (NOTICE_ILS_CONCURRENCY of them, so the ILS sees at most that many requests at once) asks
the ILS for the patron's holds and loans, registers the events found in the ledger, and delivers
the ones not yet sent:

- one email per hold per ready event (title, pickup location, pickup deadline);
- one email listing the loans due within NOTICE_DUE_DAYS that have not been reminded of yet, each
  with whether it can be renewed now, and a link to the loans page.

A patron whose ILS lookup fails is counted as an error and tried again by the next run; so is a
notice the SMTP server did not take. The summary counts patrons scanned, notices sent and errors.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import Flask
from sqlalchemy import or_, select

from adapters.errors import AuthenticationFailed, IlsError
from adapters.models import Capability, Hold, HoldStatus, Loan
from adapters.validation import mask_card_number as who
from extensions import db, ils
from notifications.ledger import DUE_SOON, HOLD_READY, DeliveryFailed, Ledger, LedgerRow, NoticeKey
from notifications.linked import linked_recipients
from notifications.mail import SmtpMailer, mail_enabled, sender_domain
from notifications.render import external_url, render_mail
from store.models import Preference
from views.metrics import NOTICES_SENT

log = logging.getLogger(__name__)

KINDS = (HOLD_READY, DUE_SOON)
NO_DEADLINE = "-"  # the ready-event discriminator when an ILS gives no pickup deadline


@dataclass(frozen=True)
class Recipient:
    patron_key: str
    email: str
    language: str | None
    hold_ready: bool
    due_soon: bool
    # A copy of a linked card's notices for the patron who linked it (notifications/linked.py): the
    # ledger's key for that copy, whose card it is about, and the owner's link to it.
    ledger_key: str | None = None
    card_holder: str | None = None
    link_id: int | None = None

    @property
    def ledger_patron(self) -> str:
        return self.ledger_key or self.patron_key

    @property
    def url_args(self) -> dict:
        return {} if self.link_id is None else {"whose": self.link_id}


@dataclass
class RunSummary:
    patrons: int = 0
    sent: int = 0
    hold_ready: int = 0
    due_soon: int = 0
    errors: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def line(self) -> str:
        return (
            f"notices: {self.patrons} patrons scanned, {self.sent} notices sent "
            f"({self.hold_ready} hold-ready, {self.due_soon} due-date), {self.errors} errors, {self.seconds:.2f} s"
        )


def recipients(kinds: tuple[str, ...] = KINDS) -> list[Recipient]:
    """Every patron with a confirmed address who wants one of ``kinds``, in key order."""
    wants = []
    if HOLD_READY in kinds:
        wants.append(Preference.notify_hold_ready.is_(True))
    if DUE_SOON in kinds:
        wants.append(Preference.notify_due_soon.is_(True))
    if not wants:
        return []
    query = (
        select(Preference.patron_key, Preference.email, Preference.language, Preference.notify_hold_ready,
               Preference.notify_due_soon)
        .where(Preference.email_confirmed.is_(True), Preference.email.is_not(None), Preference.email != "", or_(*wants))
        .order_by(Preference.patron_key)
    )
    return [
        Recipient(key, email, language, bool(hold) and HOLD_READY in kinds, bool(due) and DUE_SOON in kinds)
        for key, email, language, hold, due in db.session.execute(query)
    ]


def message_id(config, patron_key: str, rows: list[LedgerRow]) -> str:
    """The same Message-ID every time these ledger rows are sent (see ``notifications.ledger``)."""
    digest = hashlib.sha256(
        "|".join([patron_key, *(f"{r.kind}:{r.subject}:{r.event}" for r in sorted(rows, key=lambda r: r.id))]).encode()
    ).hexdigest()[:32]
    return f"<notice.{digest}@{sender_domain(config)}>"


class NoticeRun:
    """``NoticeRun(app).run()`` -> RunSummary. ``mailer`` and ``clock`` may be replaced (tests, bench)."""

    def __init__(
        self,
        app: Flask,
        *,
        kinds: tuple[str, ...] = KINDS,
        mailer: SmtpMailer | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.kinds = kinds
        config = app.config
        self.mailer = mailer or SmtpMailer(config)
        self.workers = max(1, int(config["NOTICE_ILS_CONCURRENCY"]))
        self.due_days = int(config["NOTICE_DUE_DAYS"])
        self.clock = clock or (lambda: datetime.now(UTC))
        self.summary = RunSummary()

    def run(self) -> RunSummary:
        started = time.perf_counter()
        with self.app.app_context():
            if not mail_enabled(self.app.config):
                log.warning("notices: MAIL_HOST is empty, no email is sent")
                return self.summary
            self.ledger = Ledger(
                db.engine,
                lease_seconds=float(self.app.config["NOTICE_LEASE_SECONDS"]),
                max_attempts=int(self.app.config["NOTICE_MAX_ATTEMPTS"]),
                clock=self.clock,
            )
            adapter = ils()
            self.kinds = tuple(
                kind for kind in self.kinds
                if adapter.supports(Capability.HOLDS if kind == HOLD_READY else Capability.LOANS)
            )
            people = recipients(self.kinds) + linked_recipients(self.kinds)
            try:
                today = adapter.today()
            except IlsError:
                log.exception("notices: the ILS is not answering")
                self.summary.add(errors=1)
                return self.summary
            retention = timedelta(days=int(self.app.config["NOTICE_RETENTION_DAYS"]))
            self.ledger.forget_before(self.clock() - retention)
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="shiori-notices") as pool:
                for _ in pool.map(lambda person: self._patron(person, today), people):
                    pass
        finally:
            self.mailer.close()
            self.summary.seconds = time.perf_counter() - started
        return self.summary

    # --- one patron -------------------------------------------------------------------------

    def _patron(self, person: Recipient, today: date) -> None:
        with self.app.app_context():
            try:
                self._notify(person, today)
            except AuthenticationFailed:
                # The ILS no longer knows this patron (card withdrawn): nothing to tell, not a failure.
                log.info("notices: the ILS does not know patron %s any more; skipped", who(person.patron_key))
                self.summary.add(patrons=1)
                return
            except IlsError as exc:
                log.warning("notices: ILS lookup failed for patron %s: %r", who(person.patron_key), exc)
                self.summary.add(patrons=1, errors=1)
                return
            except Exception:
                log.exception("notices: unexpected failure for patron %s", who(person.patron_key))
                self.summary.add(patrons=1, errors=1)
                return
            self.summary.add(patrons=1)

    def _notify(self, person: Recipient, today: date) -> None:
        adapter = ils()
        holds: list[Hold] = adapter.holds(person.patron_key) if person.hold_ready else []
        loans: list[Loan] = adapter.loans(person.patron_key) if person.due_soon else []
        ready = {
            NoticeKey(HOLD_READY, hold.hold_id, hold.pickup_deadline.isoformat() if hold.pickup_deadline else NO_DEADLINE):
            hold
            for hold in holds
            if hold.status is HoldStatus.READY
        }
        horizon = today + timedelta(days=self.due_days)
        due = {
            NoticeKey(DUE_SOON, loan.loan_id, loan.due_date.isoformat()): loan
            for loan in loans
            if loan.due_date is not None and today <= loan.due_date <= horizon and not loan.overdue
        }
        if not ready and not due:
            return
        open_rows = self.ledger.register(person.ledger_patron, [*ready, *due])
        for row in (r for r in open_rows if r.kind == HOLD_READY):
            self._deliver(person, [row], lambda rows: self._hold_message(person, ready[rows[0].key], rows))
        due_rows = [r for r in open_rows if r.kind == DUE_SOON]
        if due_rows:
            self._deliver(person, due_rows, lambda rows: self._due_message(person, [due[r.key] for r in rows], rows))

    def _deliver(self, person: Recipient, rows: list[LedgerRow], compose) -> None:
        def send(claimed: list[LedgerRow]) -> None:
            self.mailer.send(compose(claimed))

        try:
            sent = self.ledger.deliver(rows, send)
        except DeliveryFailed as exc:
            log.warning("notices: %s notice for patron %s not sent: %s", rows[0].kind, who(person.patron_key), exc)
            self.summary.add(errors=1)
            return
        if sent:
            kind = sent[0].kind
            self.summary.add(sent=1, **{kind: 1})
            NOTICES_SENT.labels(kind).inc()
            log.info("notices: %s notice sent to patron %s (%s)", kind, who(person.patron_key),
                     ", ".join(row.subject for row in sent))

    # --- the messages -----------------------------------------------------------------------

    def _hold_message(self, person: Recipient, hold: Hold, rows: list[LedgerRow]):
        mail = render_mail(
            "hold_ready", person.language, hold=hold, holds_url=external_url("account.holds", **person.url_args),
            card_holder=person.card_holder,
        )
        return mail.message(person.email, message_id=message_id(self.app.config, person.ledger_patron, rows))

    def _due_message(self, person: Recipient, loans: list[Loan], rows: list[LedgerRow]):
        loans = sorted(loans, key=lambda loan: (loan.due_date or date.max, loan.title))
        mail = render_mail("due_soon", person.language, loans=loans,
                           loans_url=external_url("account.loans", **person.url_args), card_holder=person.card_holder)
        return mail.message(person.email, message_id=message_id(self.app.config, person.ledger_patron, rows))

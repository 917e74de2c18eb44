"""One notice run (``flask notices run``): hold-ready notices and due-date reminders, each sent once.

For every patron who has a confirmed address and wants at least one kind of notice, a worker
thread (NOTICE_ILS_CONCURRENCY of them, so the ILS sees at most that many requests at once) asks
the ILS for the patron's holds and loans, registers the events found in the ledger, and delivers
the ones not yet sent:

- one email per hold per ready event (title, pickup location, pickup deadline);
- one email listing the loans due within NOTICE_DUE_DAYS that have not been reminded of yet, each
  with whether it can be renewed now, and a link to the loans page;
- one email listing the loans whose renewal has opened, for a patron who asked for it for every loan
  (Settings) or for these loans (``RenewalWatch``), each loan and due date once.

Before the mails, the run advances the patrons' series queues (``notifications.series``): the next
volume's hold is placed once the one before has been picked up (or is ready), and the patron mailed.

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
from adapters.models import Capability, Hold, HoldStatus, Loan, RenewalStatus
from adapters.validation import mask_card_number as who
from extensions import db, ils
from notifications.ledger import (
    DUE_SOON,
    HOLD_READY,
    RENEWABLE,
    SERIES_PLACED,
    DeliveryFailed,
    Ledger,
    LedgerRow,
    NoticeKey,
)
from notifications.linked import linked_recipients
from notifications.mail import SmtpMailer, mail_enabled, sender_domain
from notifications.render import external_url, render_mail
from notifications.series import advance_patron
from store.models import Preference, RenewalWatch
from store.preferences import get_preferences
from store.renewal_watch import unwatch, watch
from store.series import entries_by_id as series_entries_by_id
from store.series import patrons_with_queues
from views.metrics import NOTICES_SENT

log = logging.getLogger(__name__)

KINDS = (HOLD_READY, DUE_SOON, RENEWABLE)
CAPABILITY = {HOLD_READY: Capability.HOLDS, DUE_SOON: Capability.LOANS, RENEWABLE: Capability.RENEWAL_OPENS}
NO_DEADLINE = "-"  # the ready-event discriminator when an ILS gives no pickup deadline


@dataclass(frozen=True)
class Recipient:
    patron_key: str
    email: str
    language: str | None
    hold_ready: bool
    due_soon: bool
    renewable: bool = False  # every loan's renewal opening (Settings)
    watched: frozenset[str] = frozenset()  # the loans watched one by one
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
    renewable: int = 0
    series_placed: int = 0  # mails
    series_volumes: int = 0  # holds placed from series queues
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
            f"({self.hold_ready} hold-ready, {self.due_soon} due-date), {self.errors} errors, {self.seconds:.2f} s; "
            f"{self.renewable} renewal-open notices, {self.series_volumes} series volumes reserved"
        )


def recipients(kinds: tuple[str, ...] = KINDS) -> list[Recipient]:
    """Every patron with a confirmed address who wants one of ``kinds``, in key order."""
    wants = []
    if HOLD_READY in kinds:
        wants.append(Preference.notify_hold_ready.is_(True))
    if DUE_SOON in kinds:
        wants.append(Preference.notify_due_soon.is_(True))
    watches: dict[str, set[str]] = {}
    if RENEWABLE in kinds:
        wants.append(Preference.notify_renewable.is_(True))
        for key, loan_id in db.session.execute(select(RenewalWatch.patron_key, RenewalWatch.loan_id)):
            watches.setdefault(key, set()).add(loan_id)
        if watches:
            wants.append(Preference.patron_key.in_(sorted(watches)))
    if not wants:
        return []
    query = (
        select(Preference.patron_key, Preference.email, Preference.language, Preference.notify_hold_ready,
               Preference.notify_due_soon, Preference.notify_renewable)
        .where(Preference.email_confirmed.is_(True), Preference.email.is_not(None), Preference.email != "", or_(*wants))
        .order_by(Preference.patron_key)
    )
    return [
        Recipient(key, email, language, bool(hold) and HOLD_READY in kinds, bool(due) and DUE_SOON in kinds,
                  bool(renew) and RENEWABLE in kinds, frozenset(watches.get(key, ())))
        for key, email, language, hold, due, renew in db.session.execute(query)
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
                self._advance_series(ils(), mail=False)  # the queues move on without mail
                self.summary.seconds = time.perf_counter() - started
                return self.summary
            self.ledger = Ledger(
                db.engine,
                lease_seconds=float(self.app.config["NOTICE_LEASE_SECONDS"]),
                max_attempts=int(self.app.config["NOTICE_MAX_ATTEMPTS"]),
                clock=self.clock,
            )
            adapter = ils()
            self.kinds = tuple(kind for kind in self.kinds if adapter.supports(CAPABILITY[kind]))
            people = recipients(self.kinds) + linked_recipients(self.kinds)
            try:
                today = adapter.today()
            except IlsError:
                log.exception("notices: the ILS is not answering")
                self.summary.add(errors=1)
                return self.summary
            retention = timedelta(days=int(self.app.config["NOTICE_RETENTION_DAYS"]))
            self.ledger.forget_before(self.clock() - retention)
            self._advance_series(adapter)
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="shiori-notices") as pool:
                for _ in pool.map(lambda person: self._patron(person, today), people):
                    pass
        finally:
            self.mailer.close()
            self.summary.seconds = time.perf_counter() - started
        return self.summary

    # --- series queues ---------------------------------------------------------------------

    def _advance_series(self, adapter, *, mail: bool = True) -> None:
        """Place the volumes whose turn has come (each once: ``store.series.claim``), then mail the patrons.

        A placed volume's mail is registered in the ledger at once and delivered from there, so a mail
        the SMTP server did not take is sent by a later run."""
        if not adapter.supports(Capability.SERIES):
            return
        advance_on = self.app.config["SERIES_ADVANCE_ON"]
        for patron_key in patrons_with_queues():
            try:
                placed = advance_patron(adapter, patron_key, advance_on)
            except AuthenticationFailed:
                continue  # the ILS no longer knows the patron
            except IlsError as exc:
                log.warning("notices: series queue of patron %s not advanced: %r", who(patron_key), exc)
                self.summary.add(errors=1)
                continue
            self.summary.add(series_volumes=len(placed))
            preference = get_preferences(patron_key)
            if placed and mail and preference.email and preference.email_confirmed:
                self.ledger.register(patron_key, [NoticeKey(SERIES_PLACED, str(row.id), "placed") for row in placed])
        if mail:
            self._deliver_series_mails()

    def _deliver_series_mails(self) -> None:
        """Every series mail registered and not yet sent, one mail per patron."""
        for patron_key, rows in self.ledger.open_rows(SERIES_PLACED).items():
            preference = get_preferences(patron_key)
            if not (preference.email and preference.email_confirmed):
                continue  # the address was removed meanwhile; kept until it is back or the row ages out
            person = Recipient(patron_key, preference.email, preference.language, False, False)
            volumes = series_entries_by_id([int(row.subject) for row in rows])
            self._deliver(person, rows, lambda claimed, person=person, volumes=volumes: self._series_message(
                person, [volumes[int(row.subject)] for row in claimed if int(row.subject) in volumes], claimed))

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
        wants_renewable = person.renewable or bool(person.watched)
        loans: list[Loan] = adapter.loans(person.patron_key) if person.due_soon or wants_renewable else []
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
            if person.due_soon and loan.due_date is not None and today <= loan.due_date <= horizon and not loan.overdue
        }
        # A loan is mailed about when it is renewable now and was seen waiting for its renewal window
        # before (watched): so the mail comes on the day the window opens. "Every loan" (Settings)
        # watches each loan seen waiting; a loan already renewable when the patron asked gets none.
        waiting = {loan.loan_id for loan in loans if loan.forecast.status is RenewalStatus.NOT_YET}
        if person.renewable:
            for loan_id in sorted(waiting - person.watched):
                watch(person.patron_key, loan_id, automatic=True)
        renewable = {
            NoticeKey(RENEWABLE, loan.loan_id, loan.due_date.isoformat()): loan
            for loan in loans
            if loan.forecast.status is RenewalStatus.RENEWABLE and loan.due_date is not None and not loan.overdue
            and loan.loan_id in person.watched
        }
        if person.watched:  # watches of loans returned or no longer renewable meanwhile are done
            unwatch(person.patron_key, person.watched - waiting - {key.subject for key in renewable})
        if not ready and not due and not renewable:
            return
        open_rows = self.ledger.register(person.ledger_patron, [*ready, *due, *renewable])
        for row in (r for r in open_rows if r.kind == HOLD_READY):
            self._deliver(person, [row], lambda rows: self._hold_message(person, ready[rows[0].key], rows))
        due_rows = [r for r in open_rows if r.kind == DUE_SOON]
        if due_rows:
            self._deliver(person, due_rows, lambda rows: self._due_message(person, [due[r.key] for r in rows], rows))
        renewable_rows = [r for r in open_rows if r.kind == RENEWABLE]
        if renewable_rows:
            sent = self._deliver(person, renewable_rows, lambda rows: self._renewable_message(
                person, [renewable[r.key] for r in rows], rows))
            unwatch(person.patron_key, [row.subject for row in sent])

    def _deliver(self, person: Recipient, rows: list[LedgerRow], compose) -> list[LedgerRow]:
        def send(claimed: list[LedgerRow]) -> None:
            self.mailer.send(compose(claimed))

        try:
            sent = self.ledger.deliver(rows, send)
        except DeliveryFailed as exc:
            log.warning("notices: %s notice for patron %s not sent: %s", rows[0].kind, who(person.patron_key), exc)
            self.summary.add(errors=1)
            return []
        if sent:
            kind = sent[0].kind
            self.summary.add(sent=1, **{kind: 1})
            NOTICES_SENT.labels(kind).inc()
            log.info("notices: %s notice sent to patron %s (%s)", kind, who(person.patron_key),
                     ", ".join(row.subject for row in sent))
        return sent

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

    def _renewable_message(self, person: Recipient, loans: list[Loan], rows: list[LedgerRow]):
        loans = sorted(loans, key=lambda loan: (loan.due_date or date.max, loan.title))
        mail = render_mail("renewable", person.language, loans=loans, loans_url=external_url("account.loans"))
        return mail.message(person.email, message_id=message_id(self.app.config, person.patron_key, rows))

    def _series_message(self, person: Recipient, volumes: list, rows: list[LedgerRow]):
        mail = render_mail("series_placed", person.language, volumes=volumes, holds_url=external_url("account.holds"))
        return mail.message(person.email, message_id=message_id(self.app.config, person.patron_key, rows))

"""The notice ledger: each notice event is sent once, even when runs overlap or one dies half-way.

A notice event is a row with a unique (kind, patron_key, subject, event): for a hold ready for
pickup, the hold id and its pickup deadline; for a due-date reminder, the loan id and its due date.
A run first *registers* the events it finds (insert-if-absent: two runs finding the same event
share one row), then *delivers* them: claim, send, mark sent.

Claiming, by database:

- **PostgreSQL**: ``SELECT ... FOR UPDATE SKIP LOCKED`` on the pending rows, in a transaction held
  open while the mail is handed to the SMTP server and committed with ``state = 'sent'``. A second
  run skips rows that are locked; a run that dies (SIGKILL, power) loses its connection, PostgreSQL
  rolls its transaction back, and the rows are pending again for the very next run.
- **SQLite** (and any other database): a lease. One conditional UPDATE moves the rows from
  ``pending`` (or ``sending`` with an expired lease) to ``sending`` with this claim's id and
  ``lease_until = now + NOTICE_LEASE_SECONDS``; only the rows that UPDATE changed are this claim's.
  A dead run's rows are taken over by the first run after the lease expires. MAIL_TIMEOUT bounds
  each SMTP step far below the lease, so a live sender never loses its lease mid-send.

The one window no ledger can close: the SMTP server has accepted a message (250) and the run dies
before its ``sent`` is committed (milliseconds). The next run sends that notice again: at most one
duplicate, never a loss. Its Message-ID is derived from the ledger row, so the copy has the same
Message-ID and most mail stores show it once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from store.models import NoticeLedger

log = logging.getLogger(__name__)

HOLD_READY = "hold_ready"
DUE_SOON = "due_soon"
RENEWABLE = "renewable"  # subject: the loan id, event: its due date (renewal opened for it)
SERIES_PLACED = "series_placed"  # subject: the series queue entry's id, event: "placed"

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"

TABLE = NoticeLedger.__table__
C = TABLE.c


@dataclass(frozen=True, order=True)
class NoticeKey:
    kind: str
    subject: str
    event: str


@dataclass(frozen=True)
class LedgerRow:
    id: int
    kind: str
    subject: str
    event: str
    state: str

    @property
    def key(self) -> NoticeKey:
        return NoticeKey(self.kind, self.subject, self.event)


class DeliveryFailed(RuntimeError):
    """Sending failed; the rows are pending again (or failed for good after NOTICE_MAX_ATTEMPTS)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = 600,
        max_attempts: int = 5,
        clock: Callable[[], datetime] = _utcnow,
        row_locks: bool | None = None,
    ) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.clock = clock
        self.row_locks = engine.dialect.name == "postgresql" if row_locks is None else row_locks

    # --- registering ------------------------------------------------------------------------

    def register(self, patron_key: str, keys: Iterable[NoticeKey]) -> list[LedgerRow]:
        """Record these events (once, whoever comes first); the rows among them not yet sent."""
        wanted = set(keys)
        if not wanted:
            return []
        rows = self._rows(patron_key, wanted)
        missing = wanted - {row.key for row in rows}
        if missing:
            self._insert(patron_key, sorted(missing))
            rows = self._rows(patron_key, wanted)
        return [row for row in rows if row.state in (PENDING, SENDING)]

    def _rows(self, patron_key: str, keys: set[NoticeKey]) -> list[LedgerRow]:
        query = select(C.id, C.kind, C.subject, C.event, C.state).where(
            C.patron_key == patron_key,
            C.kind.in_({key.kind for key in keys}),
            C.subject.in_({key.subject for key in keys}),
        )
        with self.engine.connect() as conn:
            found = [LedgerRow(*row) for row in conn.execute(query)]
        return sorted((row for row in found if row.key in keys), key=lambda row: row.id)

    def _insert(self, patron_key: str, keys: list[NoticeKey]) -> None:
        now = self.clock()
        values = [
            {"kind": k.kind, "patron_key": patron_key, "subject": k.subject, "event": k.event, "state": PENDING,
             "attempts": 0, "created_at": now}
            for k in keys
        ]
        dialect = self.engine.dialect.name
        if dialect in ("postgresql", "sqlite"):
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            statement = insert(TABLE).on_conflict_do_nothing(index_elements=["kind", "patron_key", "subject", "event"])
            with self.engine.begin() as conn:
                conn.execute(statement, values)
            return
        for value in values:  # a database without INSERT ... ON CONFLICT: one at a time
            try:
                with self.engine.begin() as conn:
                    conn.execute(TABLE.insert(), value)
            except IntegrityError:
                pass  # another run registered it first

    # --- delivering -------------------------------------------------------------------------

    def deliver(self, rows: list[LedgerRow], send: Callable[[list[LedgerRow]], None]) -> list[LedgerRow]:
        """Claim what can be claimed of ``rows``, call ``send`` with those, and mark them sent.

        Returns the rows sent (empty if another run has them or has sent them). ``send`` must raise
        if the message was not handed over; then the rows are released and DeliveryFailed raised.
        """
        if not rows:
            return []
        ids = [row.id for row in rows]
        if self.row_locks:
            return self._deliver_locked(ids, send)
        return self._deliver_leased(ids, send)

    def _deliver_locked(self, ids: list[int], send: Callable[[list[LedgerRow]], None]) -> list[LedgerRow]:
        error: Exception | None = None
        with self.engine.connect() as conn, conn.begin():
            claimed = [
                LedgerRow(*row)
                for row in conn.execute(
                    select(C.id, C.kind, C.subject, C.event, C.state)
                    .where(C.id.in_(ids), C.state == PENDING)
                    .order_by(C.id)
                    .with_for_update(skip_locked=True)
                )
            ]
            if not claimed:
                return []
            claimed_ids = [row.id for row in claimed]
            try:
                send(claimed)
            except Exception as exc:  # noqa: BLE001 - recorded on the rows, then raised as DeliveryFailed
                error = exc
                self._record_failure(conn, C.id.in_(claimed_ids), exc, count_attempt=True)
            else:
                conn.execute(
                    update(TABLE).where(C.id.in_(claimed_ids)).values(state=SENT, sent_at=self.clock(), last_error=None)
                )
        if error is not None:
            raise DeliveryFailed(str(error)) from error
        return claimed

    def _deliver_leased(self, ids: list[int], send: Callable[[list[LedgerRow]], None]) -> list[LedgerRow]:
        claim = uuid.uuid4().hex
        now = self.clock()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(TABLE)
                .where(
                    C.id.in_(ids),
                    or_(C.state == PENDING, and_(C.state == SENDING, C.lease_until < now)),
                )
                .values(state=SENDING, claimed_by=claim, lease_until=now + self.lease, attempts=C.attempts + 1)
            ).rowcount
        if not taken:
            return []
        mine = and_(C.claimed_by == claim, C.state == SENDING)
        with self.engine.connect() as conn:
            claimed = [
                LedgerRow(*row)
                for row in conn.execute(select(C.id, C.kind, C.subject, C.event, C.state).where(mine).order_by(C.id))
            ]
        try:
            send(claimed)
        except Exception as exc:
            with self.engine.begin() as conn:
                self._record_failure(conn, mine, exc, count_attempt=False)
            raise DeliveryFailed(str(exc)) from exc
        with self.engine.begin() as conn:
            marked = conn.execute(
                update(TABLE).where(mine).values(state=SENT, sent_at=self.clock(), lease_until=None, last_error=None)
            ).rowcount
        if marked != len(claimed):
            log.warning("notice lease expired while sending (rows %s): another run may send it again",
                        [row.id for row in claimed])
        return claimed

    def _record_failure(self, conn: Connection, where, exc: Exception, *, count_attempt: bool) -> None:
        attempts = C.attempts + 1 if count_attempt else C.attempts
        conn.execute(
            update(TABLE)
            .where(where)
            .values(
                attempts=attempts,
                state=case((attempts >= self.max_attempts, FAILED), else_=PENDING),
                claimed_by=None,
                lease_until=None,
                last_error=f"{type(exc).__name__}: {exc}"[:200],
            )
        )

    def open_rows(self, kind: str) -> dict[str, list[LedgerRow]]:
        """The rows of ``kind`` not yet sent (pending, or being sent), by patron: what a later run delivers."""
        query = (select(C.patron_key, C.id, C.kind, C.subject, C.event, C.state)
                 .where(C.kind == kind, C.state.in_((PENDING, SENDING))).order_by(C.patron_key, C.id))
        rows: dict[str, list[LedgerRow]] = {}
        with self.engine.connect() as conn:
            for patron_key, *row in conn.execute(query):
                rows.setdefault(patron_key, []).append(LedgerRow(*row))
        return rows

    # --- housekeeping -----------------------------------------------------------------------

    def forget_before(self, cutoff: datetime) -> int:
        """Delete rows created before ``cutoff`` (their events are long past). The count deleted."""
        with self.engine.begin() as conn:
            return conn.execute(delete(TABLE).where(C.created_at < cutoff)).rowcount

    def counts(self) -> dict[str, int]:
        """Rows per state (for tests and the CLI)."""
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return {state: n for state, n in conn.execute(select(C.state, func.count()).group_by(C.state))}

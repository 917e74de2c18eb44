"""Series queues (順番予約): the volumes a patron asked to reserve in volume order, the portal's only new state.

One row per volume (``SeriesQueueEntry``). A volume's hold is placed by ``notifications.series`` once
the volume before it has been picked up (or is ready, by the library's choice); placing first
*claims* the row with one conditional UPDATE (queued, or placing with an expired lease -> placing,
with this claim's id), so two notice runs at once never place the same volume twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from adapters.models import Record
from extensions import db
from store.models import SeriesQueueEntry, utcnow

QUEUED, PLACING, PLACED, CANCELLED, STALLED, REFUSED = "queued", "placing", "placed", "cancelled", "stalled", "refused"
DONE = "done"  # placed by a queue the patron has since replaced with a new one for the same series
#: rows the holds page shows: still to come, or stopped with something to say
SHOWN = (QUEUED, PLACING, STALLED, REFUSED)
LEASE = timedelta(minutes=10)


def _update():
    """An UPDATE run as SQL only: the session's objects are not evaluated against it (a claim compares
    times that SQLite hands back without their zone)."""
    return update(SeriesQueueEntry).execution_options(synchronize_session=False)


def queue_volumes(patron_key: str, volumes: list[Record], pickup_location_id: str,
                  not_needed_after: date | None) -> list[SeriesQueueEntry]:
    """Queue these volumes (each a record with its ``volume``), in volume order; the caller places the first."""
    # Volumes placed by an earlier queue of this series are history: they do not gate the new queue.
    db.session.execute(_update()
                       .where(SeriesQueueEntry.patron_key == patron_key, SeriesQueueEntry.state == PLACED,
                              SeriesQueueEntry.series.in_({record.volume.series[:200] for record in volumes
                                                           if record.volume is not None}))
                       .values(state=DONE))
    entries = [
        SeriesQueueEntry(patron_key=patron_key, series=record.volume.series[:200], volume_number=record.volume.number,
                         volume_label=record.volume.label[:32], record_id=record.record_id, title=record.title[:500],
                         pickup_location_id=pickup_location_id, not_needed_after=not_needed_after, state=QUEUED)
        for record in sorted(volumes, key=lambda record: record.volume.number)
        if record.volume is not None
    ]
    db.session.add_all(entries)
    db.session.commit()
    return entries


def entries(patron_key: str, states: Iterable[str] | None = None) -> list[SeriesQueueEntry]:
    """The patron's rows (in ``states``), by series then volume."""
    query = select(SeriesQueueEntry).where(SeriesQueueEntry.patron_key == patron_key)
    if states is not None:
        query = query.where(SeriesQueueEntry.state.in_(list(states)))
    return list(db.session.scalars(query.order_by(SeriesQueueEntry.series, SeriesQueueEntry.volume_number,
                                                  SeriesQueueEntry.id)))


def entries_by_id(ids: Iterable[int]) -> dict[int, SeriesQueueEntry]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {entry.id: entry for entry in db.session.scalars(select(SeriesQueueEntry).where(
        SeriesQueueEntry.id.in_(wanted)))}


def queued_record_ids(patron_key: str) -> set[str]:
    return {entry.record_id for entry in entries(patron_key, (QUEUED, PLACING))}


def patrons_with_queues() -> list[str]:
    query = select(SeriesQueueEntry.patron_key).where(SeriesQueueEntry.state.in_([QUEUED, PLACING])).distinct()
    return sorted(db.session.scalars(query))


def cancel(patron_key: str, entry_id: int) -> bool:
    """The patron's own queued volume no longer wanted (a volume already placed is a hold: cancel it there)."""
    changed = db.session.execute(
        _update()
        .where(SeriesQueueEntry.id == entry_id, SeriesQueueEntry.patron_key == patron_key,
               SeriesQueueEntry.state.in_([QUEUED, STALLED, REFUSED]))
        .values(state=CANCELLED)
    ).rowcount
    db.session.commit()
    return changed == 1


def claim(entry_id: int, now: datetime | None = None) -> str | None:
    """Take the row for placing its hold; the claim id, or None if another run has it or it is done."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    taken = db.session.execute(
        _update()
        .where(SeriesQueueEntry.id == entry_id,
               or_(SeriesQueueEntry.state == QUEUED,
                   and_(SeriesQueueEntry.state == PLACING, SeriesQueueEntry.lease_until < now)))
        .values(state=PLACING, claimed_by=token, lease_until=now + LEASE)
    ).rowcount
    db.session.commit()
    return token if taken == 1 else None


def finish(entry_id: int, token: str, state: str, *, hold_id: str | None = None, reason: str | None = None) -> None:
    """Record what placing came to (or give the row back: ``state=QUEUED``), if the claim is still ours."""
    values = {"state": state, "claimed_by": None, "lease_until": None, "reason": reason}
    if state == PLACED:
        values.update(hold_id=hold_id, placed_at=utcnow())
    db.session.execute(_update()
                       .where(SeriesQueueEntry.id == entry_id, SeriesQueueEntry.claimed_by == token)
                       .values(**values))
    db.session.commit()


def stall(entry_id: int) -> None:
    db.session.execute(_update()
                       .where(SeriesQueueEntry.id == entry_id, SeriesQueueEntry.state == QUEUED)
                       .values(state=STALLED))
    db.session.commit()

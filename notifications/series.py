"""Advancing series queues (``store.series``): place the next volume's hold once its turn has come.

A volume's turn comes when the volume before it in the queue has been picked up (it is among the
patron's loans), or, where the library chose ``SERIES_ADVANCE_ON = "ready"``, as soon as it is ready
for pickup. So volume 3 is never on its way before volume 1 is in the patron's hands (or on the
shelf for them). One step per series per call: the volume placed now gates the one after it.

If the volume before has neither a hold nor a loan any more (the hold expired or was cancelled),
the queue stops (``stalled``) and the holds page says so, rather than reserving a volume the
patron may no longer want. Called by the notice run for every patron with a queue, and by the
series page right after queueing (which places the first volume at once).
"""

from __future__ import annotations

import logging
from itertools import groupby

from adapters.base import IlsAdapter
from adapters.errors import IlsError, InvalidInput, RecordNotFound, Refused
from adapters.models import Capability, HoldRequest, HoldStatus, Reason
from adapters.validation import mask_card_number as who
from store import series
from store.models import SeriesQueueEntry

log = logging.getLogger(__name__)


def advance_patron(adapter: IlsAdapter, patron_key: str, advance_on: str = "pickup") -> list[SeriesQueueEntry]:
    """Place every queued volume whose turn has come; the entries placed now."""
    rows = series.entries(patron_key, (series.QUEUED, series.PLACING, series.PLACED))
    if not any(row.state != series.PLACED for row in rows):
        return []
    holds = {hold.record_id: hold for hold in adapter.holds(patron_key) if hold.record_id}
    on_loan = {loan.record_id for loan in adapter.loans(patron_key)} if adapter.supports(Capability.LOANS) else set()
    today = adapter.today()
    placed = []
    for _series, group in groupby(rows, key=lambda row: row.series):
        previous = None
        for row in group:
            if row.state == series.PLACED:
                previous = row
                continue
            if previous is None or _turn_came(previous, holds, on_loan, advance_on):
                if _place(adapter, patron_key, row, holds, today):
                    placed.append(row)
            elif previous.record_id not in holds and previous.record_id not in on_loan:
                series.stall(row.id)
            break
    return placed


def _turn_came(previous: SeriesQueueEntry, holds: dict, on_loan: set[str], advance_on: str) -> bool:
    if previous.record_id in on_loan:
        return True
    hold = holds.get(previous.record_id)
    return advance_on == "ready" and hold is not None and hold.status is HoldStatus.READY


def _place(adapter: IlsAdapter, patron_key: str, row: SeriesQueueEntry, holds: dict, today) -> bool:
    token = series.claim(row.id)
    if token is None:
        return False  # another run is placing it, or has
    if row.not_needed_after is not None and row.not_needed_after < today:
        series.finish(row.id, token, series.CANCELLED, reason="expired")
        return False
    try:
        hold = adapter.place_hold(patron_key, HoldRequest(row.record_id, row.pickup_location_id, row.not_needed_after))
    except Refused as refusal:
        if refusal.reason in (Reason.ALREADY_HELD, Reason.ALREADY_ON_LOAN):
            # Placed by a run that died before recording it, or borrowed meanwhile: the volume is on its way.
            existing = holds.get(row.record_id)
            series.finish(row.id, token, series.PLACED, hold_id=existing.hold_id if existing else None)
            return False
        log.info("series: the hold on %s for patron %s was refused: %s", row.record_id, who(patron_key),
                 refusal.reason.value)
        series.finish(row.id, token, series.REFUSED, reason=refusal.reason.value)
        return False
    except (RecordNotFound, InvalidInput) as exc:
        log.info("series: the hold on %s for patron %s cannot be placed: %r", row.record_id, who(patron_key), exc)
        series.finish(row.id, token, series.REFUSED, reason=Reason.NOT_FOUND.value)
        return False
    except IlsError:
        series.finish(row.id, token, series.QUEUED)  # tried again by the next run
        raise
    series.finish(row.id, token, series.PLACED, hold_id=hold.hold_id)
    return True

"""The patron's holds: listing, placing, cancelling, suspending and resuming them, and their pickup location.

``IlsAdapter`` checks that a hold id is the patron's own before ``_cancel_holds``,
``_suspend_hold`` and ``_resume_hold`` run; ``change_pickup_location`` (not in the base class yet)
checks it the same way (``IlsAdapter._own_hold``) before any call. A hold is placed only with a
pickup library Koha offers this patron for this title, and not for a blocked account.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from adapters.errors import IlsUnavailable, InvalidInput, RecordNotFound, Refused
from adapters.koha import mapping
from adapters.koha.client import KohaApiError, KohaPermissionError, KohaRouteMissing
from adapters.koha.common import koha_is_down, log, numeric_id
from adapters.koha.core import KohaCore
from adapters.models import CancelOutcome, Capability, Hold, HoldRequest, HoldStatus, PickupLocation, Reason


class HoldsMixin(KohaCore):
    """``holds``, ``pickup_locations``, ``place_hold``, ``change_pickup_location``, and the base
    class's ``cancel_holds``, ``suspend_hold`` and ``resume_hold``."""

    def holds(self, patron_key: str) -> list[Hold]:
        """One request for the holds; their titles (``TitleCache``) in parallel, and the libraries' names."""
        key = str(self._patron_json(patron_key)["patron_id"])
        rows = self._hold_rows(key)
        libraries = self.titles.library_names() if rows else {}
        biblios = self._map(lambda row: self.titles.biblio_or_none(row.get("biblio_id")), rows)
        holds = [mapping.hold_from_json(row, biblio=biblio, libraries=libraries, tz=self.tz)
                 for row, biblio in zip(rows, biblios, strict=True)]
        return sorted(holds, key=mapping.hold_sort_key)

    def pickup_locations(self, patron_key: str, record_id: str | None = None) -> list[PickupLocation]:
        key = str(self._patron_json(patron_key)["patron_id"])
        if record_id is None:
            rows = [row for row in self.titles.libraries() if row.get("pickup_location", True)]
        else:
            rows = self._record_pickup_rows(key, record_id)
        return [mapping.pickup_location(row) for row in rows]

    def _record_pickup_rows(self, key: str, record_id: str) -> list[dict[str, Any]]:
        """The libraries where this patron may pick this title up; RecordNotFound for a title Koha lacks."""
        biblio_id = numeric_id(record_id)
        if biblio_id is None:
            raise RecordNotFound(record_id)
        try:
            rows = self.client.get_all(f"/biblios/{biblio_id}/pickup_locations", params={"patron_id": key})
        except KohaApiError as exc:
            if exc.status == 404 and not isinstance(exc, KohaRouteMissing):
                raise RecordNotFound(record_id) from exc
            raise
        # With AllowHoldPolicyOverride Koha lists every library, flagging those only staff may choose.
        return [row for row in rows if not row.get("needs_override")]

    def place_hold(self, patron_key: str, request: HoldRequest) -> Hold:
        row = self._patron_json(patron_key)
        key = str(row["patron_id"])
        biblio_id = numeric_id(request.record_id)
        if biblio_id is None:
            raise RecordNotFound(request.record_id)
        today = self.today()
        if request.not_needed_after is not None and request.not_needed_after < today:
            raise InvalidInput("not_needed_after is in the past")
        if mapping.restricts(self._blocks(row, today)):
            raise Refused(Reason.ACCOUNT_BLOCKED)
        valid = {str(location["library_id"]) for location in self._record_pickup_rows(key, biblio_id)}
        if request.pickup_location_id not in valid:
            raise Refused(Reason.INVALID_PICKUP)
        body: dict[str, Any] = {"patron_id": int(key), "biblio_id": int(biblio_id),
                                "pickup_library_id": request.pickup_location_id}
        if request.not_needed_after is not None:
            body["expiration_date"] = request.not_needed_after.isoformat()
        try:
            answer = self.client.request("POST", "/holds", json=body, ok=(201, 200))
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            raise self._hold_refusal(exc, request.record_id) from exc
        if not isinstance(answer.data, dict) or answer.data.get("hold_id") is None:
            raise IlsUnavailable("Koha placed a hold but did not return it")
        return mapping.hold_from_json(answer.data, biblio=self.titles.biblio(biblio_id),
                                      libraries=self.titles.library_names(), tz=self.tz)

    @staticmethod
    def _hold_refusal(exc: KohaApiError, record_id: str) -> Exception:
        """Koha's answer to POST /holds as the contract's error: RecordNotFound, Refused with Koha's
        reason, or the error itself."""
        message = exc.error
        if exc.status == 404 or (exc.status == 400 and "biblio not found" in message.lower()):
            return RecordNotFound(record_id)
        if exc.status in (400, 403, 409):
            log.info("Koha refused a hold on %s: %s", record_id, message)
            return Refused(mapping.hold_refusal_reason(message))
        return exc

    def _cancel_holds(self, patron_key: str, holds: Sequence[Hold]) -> list[CancelOutcome]:
        """One DELETE per hold, in order. A hold that is not cancellable is refused without asking, and
        once Koha is down the rest are UNAVAILABLE without a request each."""
        outcomes: list[CancelOutcome] = []
        unreachable = False
        for hold in holds:
            if not hold.cancellable:
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.NOT_CANCELLABLE))
                continue
            if unreachable:
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.UNAVAILABLE))
                continue
            try:
                self.client.request("DELETE", f"/holds/{hold.hold_id}", ok=(200, 204))
            except (KohaPermissionError, KohaRouteMissing):
                raise
            except KohaApiError as exc:
                if exc.status == 401:
                    raise
                reason = Reason.NOT_FOUND if exc.status == 404 else Reason.NOT_CANCELLABLE
                log.info("Koha did not cancel hold %s: %s %s", hold.hold_id, exc.status, exc.error)
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, reason))
            except IlsUnavailable as exc:
                log.warning("cancelling hold %s failed: %s", hold.hold_id, exc)
                unreachable = koha_is_down(exc)
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.UNAVAILABLE))
            else:
                outcomes.append(CancelOutcome(hold.hold_id, True, hold.title))
        return outcomes

    # Suspend and resume: IlsAdapter.suspend_hold/resume_hold have checked that the hold is the
    # patron's own (``hold`` is that Hold) before these run.

    def _suspend_hold(self, patron_key: str, hold: Hold, until: date | None) -> Hold:
        """POST /holds/{id}/suspension (``end_date``: Koha's cron job resumes the hold then; none: until resumed).

        Only a hold still in the queue can be suspended, as in Koha (a found hold, W/T/P, cannot:
        ``Koha::Hold->suspend_hold``); the portal says so without asking. Suspending a suspended hold
        again changes its end date."""
        if hold.status not in (HoldStatus.WAITING, HoldStatus.SUSPENDED):
            raise Refused(Reason.NOT_CANCELLABLE)  # a copy is set aside for it: the same answer as the demo's
        if until is not None and until <= self.today():
            raise InvalidInput("a suspension ends in the future")
        body = {"end_date": until.isoformat()} if until is not None else {}
        self._hold_action("POST", f"/holds/{hold.hold_id}/suspension", body, (201, 200, 204))
        return self._own_hold(patron_key, hold.hold_id)

    def _resume_hold(self, patron_key: str, hold: Hold) -> Hold:
        """DELETE /holds/{id}/suspension. A hold that is not suspended is returned as it is, unasked."""
        if hold.status is not HoldStatus.SUSPENDED:
            return hold
        self._hold_action("DELETE", f"/holds/{hold.hold_id}/suspension", None, (204, 200))
        return self._own_hold(patron_key, hold.hold_id)

    def change_pickup_location(self, patron_key: str, hold_id: str, location_id: str) -> Hold:
        """One hold moved, as it is afterwards (``IlsAdapter.change_pickup`` moves several, one outcome each)."""
        self._change_pickup(patron_key, self._own_hold(patron_key, hold_id), location_id)
        return self._own_hold(patron_key, hold_id)

    def _change_pickup(self, patron_key: str, hold: Hold, location_id: str) -> None:
        """PUT /holds/{id}/pickup_location (where the served contract has it: ``features.hold_pickup_change``).
        Koha checks the library is a valid pickup location for the hold (400 otherwise)."""
        self.require(Capability.CHANGE_PICKUP)
        self._hold_action("PUT", f"/holds/{hold.hold_id}/pickup_location", {"pickup_library_id": location_id},
                          (200,))

    def _hold_action(self, method: str, path: str, body: Any, ok: tuple[int, ...]) -> None:
        """One change to a hold; Koha's refusal becomes ``Refused`` (NOT_FOUND, INVALID_PICKUP or OTHER)."""
        try:
            self.client.request(method, path, json=body, ok=ok)
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            if exc.status == 401:
                raise
            log.info("Koha refused %s %s: %s %s", method, path, exc.status, exc.error)
            if exc.status == 404:
                raise Refused(Reason.NOT_FOUND) from exc
            if exc.status == 400 and "pickup location" in exc.error.lower():
                raise Refused(Reason.INVALID_PICKUP) from exc
            raise Refused(Reason.OTHER) from exc  # 400 (e.g. a found hold cannot be suspended), 403, 409

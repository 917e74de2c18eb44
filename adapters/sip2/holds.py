"""The patron's holds, their pickup locations, and placing and cancelling them.

Holds are the 64's hold items (AS) and unavailable holds (CD); what each list holds, and so which
holds are ready, depends on the server (``profiles``, ``mapping.hold_status``). A hold's id is the
value the ACS lists it by; a second hold listed by the same value gets ``value#2``, and each is
cancelled with its own 15 naming the listed value.
A hold is placed with 15 ``+`` on an item id (the "record", see ``catalogue``) with hold type 2
(any copy of the title), so the ILS places a title-level hold; it is cancelled with 15 ``-``.
SIP2 cannot list pickup locations: they are ``SIP2_PICKUP_LOCATIONS``, else the institution.
Where the ACS takes it (``SIP2_HOLD_PICKUP_CHANGE``), a hold's pickup location is changed with 15
``*`` (Koha's ``C4::SIP::ILS::alter_hold``: the hold found by the item id among the patron's holds).
``IlsAdapter`` checks that a hold id is the patron's own before ``_cancel_holds`` and ``_change_pickup`` run.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.errors import IlsUnavailable, InvalidInput, RecordNotFound, Refused
from adapters.models import CancelOutcome, Capability, Hold, HoldRequest, HoldStatus, PickupLocation, Reason
from adapters.sip2 import builders, mapping
from adapters.sip2.core import OUTCOME_UNKNOWN, Sip2Core, log
from adapters.sip2.errors import Sip2Error, Sip2Unavailable
from adapters.sip2.profiles import BARCODE
from adapters.sip2.responses import ItemInformation, parse_hold_response
from adapters.validation import mask_card_number

# A refused 15 "*": Koha says "No such outstanding hold." (C4::SIP::ILS::alter_hold); a found hold is fixed.
PICKUP_PATTERNS = mapping._patterns(
    (Reason.NOT_FOUND, r"no such (outstanding )?hold|hold not found"),
    (Reason.HOLD_FOUND, r"in transit|on (the )?hold shelf|already (found|waiting|trapped)|取置|配送中"),
) + mapping.HOLD_PATTERNS


class HoldsMixin(Sip2Core):
    """``holds``, ``pickup_locations``, ``place_hold``, and the base class's ``cancel_holds``
    (through ``_cancel_holds``, given only the patron's own holds)."""

    def holds(self, patron_key: str) -> list[Hold]:
        self.require(Capability.HOLDS)
        profile = self.options.profile
        with self._edge("holds", patron_key):
            lists = self._item_lists(patron_key, ("hold", "unavailable_holds"))
            listings = mapping.hold_listings(lists["hold"][1], lists["unavailable_holds"][1], profile)
            ready_shelf = {listing.listed for listing in listings if not listing.unavailable}

            def stale(item_id: str, info: ItemInformation) -> bool:
                # A cached 18 from before the copy reached the hold shelf lacks its pickup date,
                # and one from when it sat there is wrong for a hold that is waiting again.
                if item_id in ready_shelf:
                    return info.circulation_status != mapping.ON_HOLD_SHELF or not info.hold_pickup_date
                return info.circulation_status == mapping.ON_HOLD_SHELF

            values = list(dict.fromkeys(listing.listed for listing in listings))
            items = self._item_details(values, stale=stale) if profile.hold_ids == BARCODE else {}
        with_record = self.supports(Capability.RECORD_DETAILS)
        locations = self._configured_locations()
        with self._lock:
            for listing in listings:
                self._hold_listed[(patron_key, listing.hold_id)] = listing.listed
        holds = [
            mapping.hold_from_item(listing, items.get(listing.listed), profile=profile, locations=locations,
                                   with_record=with_record)
            for listing in listings
        ]
        return sorted(holds, key=mapping.hold_sort_key)

    def _configured_locations(self) -> list[PickupLocation]:
        if self.options.pickup_locations:
            return list(self.options.pickup_locations)
        institution = self.institution
        if not institution:
            return []
        name = (self._acs.library_name if self._acs else None) or institution
        return [PickupLocation(institution, name.strip() or institution)]

    def pickup_locations(self, patron_key: str, record_id: str | None = None) -> list[PickupLocation]:
        """SIP2 cannot list pickup locations: SIP2_PICKUP_LOCATIONS, else the institution itself."""
        self.require(Capability.PLACE_HOLD)
        if not self.options.pickup_locations and not self.institution:
            self.check_ready()  # learn the institution id from the ACS's 98
        locations = self._configured_locations()
        if not locations:
            raise IlsUnavailable("no pickup location: set SIP2_INSTITUTION or SIP2_PICKUP_LOCATIONS")
        return locations

    def place_hold(self, patron_key: str, request: HoldRequest) -> Hold:
        self.require(Capability.PLACE_HOLD)
        pickup = {loc.location_id: loc for loc in self.pickup_locations(patron_key)}.get(request.pickup_location_id)
        if pickup is None:
            raise Refused(Reason.INVALID_PICKUP)
        if request.not_needed_after is not None and request.not_needed_after < self.today():
            raise InvalidInput("not_needed_after is in the past")
        record_id = request.record_id
        with self._edge("place hold", patron_key):
            info = self._item_details([record_id]).get(record_id)
            if info is not None and not mapping.item_known(info):
                raise RecordNotFound(record_id)
            expiry = mapping.expiry_moment(request.not_needed_after) if request.not_needed_after else None
            try:
                answer = parse_hold_response(self._request(lambda institution: builders.hold_request(
                    "+", institution, patron_key, item_id=record_id, pickup_location=pickup.location_id,
                    expiration=expiry, hold_type="2", terminal_password=self._terminal_password)))
            except OUTCOME_UNKNOWN as exc:
                raise Sip2Unavailable(f"no answer to the hold request: {exc}") from exc
            finally:
                self.items.invalidate([record_id])
                self._forget_status(patron_key)
        if not answer.ok:
            text = mapping.screen_message(answer.screen_messages)
            reason = mapping.reason_from_text(text, mapping.HOLD_PATTERNS)
            if reason is Reason.NOT_FOUND:
                raise RecordNotFound(record_id)
            log.info("SIP2 hold refused (card %s): %s", mask_card_number(patron_key), text)
            raise Refused(reason, text if reason is Reason.OTHER else None)
        hold_id = (answer.item_id or "").strip() or record_id
        self.items.invalidate([hold_id])
        title = (info.title if info is not None else None) or answer.title or record_id
        return Hold(
            hold_id=hold_id, title=title.strip() or record_id, status=HoldStatus.WAITING,
            record_id=record_id if self.supports(Capability.RECORD_DETAILS) else None,
            queue_position=answer.queue_position or None, pickup_location=pickup,
            not_needed_after=request.not_needed_after, placed_on=self.today(),
        )

    def _change_pickup(self, patron_key: str, hold: Hold, location_id: str) -> None:
        """15 ``*`` with the hold's id in AB and the new pickup location in BS."""
        if location_id not in {location.location_id for location in self.pickup_locations(patron_key)}:
            raise Refused(Reason.INVALID_PICKUP)
        with self._edge("change pickup", patron_key):
            try:
                answer = parse_hold_response(self._request(lambda institution: builders.hold_request(
                    "*", institution, patron_key, item_id=hold.hold_id, pickup_location=location_id,
                    terminal_password=self._terminal_password)))
            except OUTCOME_UNKNOWN as exc:
                raise Sip2Unavailable(f"no answer to the pickup change: {exc}") from exc
            finally:
                self.items.invalidate([hold.hold_id])
                self._forget_status(patron_key)
        if not answer.ok:
            text = mapping.screen_message(answer.screen_messages)
            reason = mapping.reason_from_text(text, PICKUP_PATTERNS)
            log.info("SIP2 pickup change refused (card %s): %s", mask_card_number(patron_key), text)
            raise Refused(reason, text if reason is Reason.OTHER else None)

    def _cancel_holds(self, patron_key: str, holds: Sequence[Hold]) -> list[CancelOutcome]:
        def cancel_one(hold: Hold) -> object:
            if not hold.cancellable:
                return CancelOutcome(hold.hold_id, False, hold.title, Reason.NOT_CANCELLABLE)
            with self._lock:
                listed = self._hold_listed.get((patron_key, hold.hold_id), hold.hold_id)
            return parse_hold_response(self._request(lambda institution: builders.hold_request(
                "-", institution, patron_key, item_id=listed, terminal_password=self._terminal_password)))

        touched = [self._hold_listed.get((patron_key, hold.hold_id), hold.hold_id) for hold in holds]
        answers = self._send_each("cancel holds", patron_key, holds, cancel_one, touched)
        remaining: set[str] | None = None
        if any(isinstance(answer, OUTCOME_UNKNOWN) for answer in answers):
            try:
                remaining = {hold.hold_id for hold in self.holds(patron_key)}
            except IlsUnavailable:
                remaining = None
        outcomes = []
        for hold, answer in zip(holds, answers, strict=True):
            if isinstance(answer, CancelOutcome):
                outcomes.append(answer)
            elif isinstance(answer, OUTCOME_UNKNOWN) and remaining is not None and hold.hold_id not in remaining:
                outcomes.append(CancelOutcome(hold.hold_id, True, hold.title))
            elif isinstance(answer, Sip2Error):
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.UNAVAILABLE))
            elif answer.ok:
                outcomes.append(CancelOutcome(hold.hold_id, True, hold.title))
            else:
                text = mapping.screen_message(answer.screen_messages)
                reason = mapping.reason_from_text(text, mapping.CANCEL_PATTERNS)
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, reason,
                                              text if reason is Reason.OTHER else None))
        return outcomes

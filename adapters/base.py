"""The contract between the portal and a library system: one abstract class, ``IlsAdapter``.

An adapter is created once at start-up from the app config (``from_config``), lives for the
process, and must be safe to call from several threads at once. Every method takes the
``Patron.key`` the adapter itself returned from ``authenticate``; none trusts an id from a browser.

Operations on loan and hold ids (``renew``, ``cancel_holds``, ``suspend_hold``, ``resume_hold``,
``change_pickup``) are concrete here: they first check that every id belongs to the patron, answer
``Reason.NOT_FOUND`` for any that does not, and pass only the patron's own loans or holds to the
adapter's ``_renew``, ``_cancel_holds``, ``_suspend_hold``, ``_resume_hold`` or ``_change_pickup``. A staff-level API
client (Koha's) could otherwise act on any patron's loans, so this check is not left to each
adapter. Hold ids need only be unique among one patron's holds (over SIP2 a hold is named by its item).
"""

from __future__ import annotations

import abc
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from adapters.errors import IlsUnavailable, InvalidInput, NotSupported, Refused
from adapters.models import (
    AccountSummary,
    CancelOutcome,
    Capability,
    Hold,
    HoldRequest,
    HoldStatus,
    Loan,
    Patron,
    PickupChangeOutcome,
    PickupLocation,
    Reason,
    Record,
    RenewalOutcome,
    RenewalResult,
    SearchResult,
)

if TYPE_CHECKING:
    from adapters.check import Finding


class IlsAdapter(abc.ABC):
    """Base of every ILS adapter. Subclasses set ``name`` and ``capabilities``."""

    #: the name a library puts in PORTAL_ADAPTER
    name: ClassVar[str]
    #: what this adapter can do; an instance may narrow it (e.g. from SIP2's BX flags)
    capabilities: frozenset[Capability] = frozenset()

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: Mapping[str, Any]) -> IlsAdapter:
        """Build the adapter from the Flask config mapping (keys without the PORTAL_ prefix)."""

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise NotSupported(capability)

    def today(self) -> date:
        """The library's today, which decides overdue and renewal windows (the demo ILS moves it)."""
        return date.today()

    def close(self) -> None:
        """Release sockets and pools at shutdown."""

    def observe_cache(self, callback) -> None:
        """Have ``callback(name, hit)`` told of every lookup in the adapter's caches (for metrics)."""

    def check_ready(self) -> None:
        """Raise ``IlsUnavailable`` if the ILS cannot be reached right now."""

    def check_connection(self, card_number: str | None = None, password: str | None = None) -> Iterator[Finding]:
        """Read-only diagnosis for ``flask ils check``: what this adapter sees of its ILS.

        The generic part: reachable, then with a card a look at one patron (masked name, counts,
        holds the portal calls ready, blocks). Adapters yield their protocol's own findings around
        it (``yield from super().check_connection(...)``). Never renews, places or cancels."""
        from adapters.check import Finding
        from adapters.errors import IlsError

        try:
            self.check_ready()
        except IlsError as exc:
            yield Finding.problem("reachable", f"The library system did not answer: {exc}.")
            return
        yield Finding.ok("reachable", "The library system answers.")
        if card_number is None:
            return
        patron = yield from self._check_patron_login(card_number, password or "")
        if patron is None:
            return
        try:
            summary = self.account_summary(patron.key)
            holds = self.holds(patron.key) if self.supports(Capability.HOLDS) else []
        except IlsError as exc:
            yield Finding.problem("patron", f"Reading the patron's account failed: {exc}.")
            return
        yield Finding.info("patron", f"{summary.loans} loans ({summary.overdue} overdue), {summary.holds} holds.")
        for hold in holds:
            yield Finding.info("hold", f"{(hold.title or hold.hold_id)[:40]!r}: the portal shows it as {hold.status.value}.")
        for block in patron.blocks:
            yield Finding.info("block", f"{block.code.value}: {block.message or 'no message from the ILS'}.")
        self.end_session(patron.key)

    def _check_patron_login(self, card_number: str, password: str,
                     refused: str = "The library system refused that card number and password.",
                     ) -> Generator[Finding, None, Patron | None]:
        """The check's login step: its findings, then the patron (None when the login failed)."""
        from adapters.check import Finding, mask_name
        from adapters.errors import AccountLocked, AuthenticationFailed, IlsError

        try:
            patron = self.authenticate(card_number, password)
        except AuthenticationFailed:
            yield Finding.problem("patron", refused)
            return None
        except AccountLocked:
            yield Finding.problem("patron", "That card is locked in the library system.")
            return None
        except IlsError as exc:
            yield Finding.problem("patron", f"Logging the patron in failed: {exc}.")
            return None
        yield Finding.ok("patron", f"Logged in as {mask_name(patron.display_name)} (key {patron.key}).")
        return patron

    # --- patron -----------------------------------------------------------------------------

    @abc.abstractmethod
    def authenticate(self, card_number: str, password: str) -> Patron:
        """Check the credentials. Raises AuthenticationFailed, AccountLocked or IlsUnavailable."""

    @abc.abstractmethod
    def patron(self, patron_key: str) -> Patron:
        """The patron as the ILS sees them now (name, blocks), without a password."""

    def find_patron(self, card_number: str) -> Patron | None:
        """Look a patron up by card number without a password (for password reset), or None."""
        raise NotSupported(Capability.SET_PASSWORD)

    def end_session(self, patron_key: str) -> None:
        """Tell the ILS the patron logged out (SIP2's 35). Most ILSs need nothing."""

    def account_summary(self, patron_key: str) -> AccountSummary:
        """Counts for the menu. The default derives them; adapters with a cheaper call override it."""
        loans = self.loans(patron_key) if self.supports(Capability.LOANS) else []
        holds = self.holds(patron_key) if self.supports(Capability.HOLDS) else []
        return AccountSummary(
            loans=len(loans),
            overdue=sum(1 for loan in loans if loan.overdue),
            holds=len(holds),
            holds_ready=sum(1 for hold in holds if hold.status is HoldStatus.READY),
            fines=Decimal(0),
            blocks=self.patron(patron_key).blocks,
        )

    def change_password(self, patron_key: str, current: str, new: str) -> None:
        """Change the password, checking the current one. AuthenticationFailed if it is wrong."""
        raise NotSupported(Capability.CHANGE_PASSWORD)

    def set_password(self, patron_key: str, new: str) -> None:
        """Set a password without the current one (after an emailed reset link was followed)."""
        raise NotSupported(Capability.SET_PASSWORD)

    def set_patron_email(self, patron_key: str, email: str | None) -> None:
        """Record the patron's email address in the ILS; None removes it. For adapters declaring
        ``Capability.PATRON_EMAIL``. The portal calls it only with an address the patron has confirmed
        (and with None when they remove it); the portal's own preference store stays the source of truth."""
        raise NotSupported(Capability.PATRON_EMAIL)

    # --- loans ------------------------------------------------------------------------------

    @abc.abstractmethod
    def loans(self, patron_key: str) -> list[Loan]:
        """The patron's current loans, soonest due first."""

    def renew(self, patron_key: str, loan_ids: Iterable[str]) -> RenewalResult:
        """Renew the patron's own loans among ``loan_ids``; any other id gets ``Reason.NOT_FOUND``."""
        self.require(Capability.RENEW)
        requested = list(dict.fromkeys(loan_ids))
        owned = {loan.loan_id: loan for loan in self.loans(patron_key)}
        own_ids = [loan_id for loan_id in requested if loan_id in owned]
        result = self._renew(patron_key, [owned[loan_id] for loan_id in own_ids]) if own_ids else RenewalResult(())
        foreign = tuple(
            RenewalOutcome(loan_id=loan_id, renewed=False, reason=Reason.NOT_FOUND)
            for loan_id in requested
            if loan_id not in owned
        )
        return RenewalResult(outcomes=result.outcomes + foreign, blocks=result.blocks)

    def renew_all(self, patron_key: str) -> RenewalResult:
        """Renew every loan the patron has. The default renews them one by one."""
        self.require(Capability.RENEW_ALL)
        loans = self.loans(patron_key)
        return self._renew(patron_key, loans) if loans else RenewalResult(())

    def _renew(self, patron_key: str, loans: Sequence[Loan]) -> RenewalResult:
        """Renew these loans, already checked to be the patron's. One outcome per loan."""
        raise NotSupported(Capability.RENEW)

    # --- holds ------------------------------------------------------------------------------

    def holds(self, patron_key: str) -> list[Hold]:
        """The patron's holds: ready for pickup first, then in transit, then waiting."""
        raise NotSupported(Capability.HOLDS)

    def pickup_locations(self, patron_key: str, record_id: str | None = None) -> list[PickupLocation]:
        """Where this patron may collect a hold (on this record, where the ILS distinguishes)."""
        raise NotSupported(Capability.PLACE_HOLD)

    def place_hold(self, patron_key: str, request: HoldRequest) -> Hold:
        """Place a hold. Raises Refused (with a Reason) or RecordNotFound."""
        raise NotSupported(Capability.PLACE_HOLD)

    def cancel_holds(self, patron_key: str, hold_ids: Iterable[str]) -> list[CancelOutcome]:
        """Cancel the patron's own holds among ``hold_ids``; any other id gets ``Reason.NOT_FOUND``."""
        self.require(Capability.CANCEL_HOLD)
        requested = list(dict.fromkeys(hold_ids))
        owned = {hold.hold_id: hold for hold in self.holds(patron_key)}
        own = [owned[hold_id] for hold_id in requested if hold_id in owned]
        outcomes = {outcome.hold_id: outcome for outcome in (self._cancel_holds(patron_key, own) if own else [])}
        return [
            outcomes.get(hold_id) or CancelOutcome(hold_id=hold_id, cancelled=False, reason=Reason.NOT_FOUND)
            for hold_id in requested
        ]

    def _cancel_holds(self, patron_key: str, holds: Sequence[Hold]) -> list[CancelOutcome]:
        """Cancel these holds, already checked to be the patron's. One outcome per hold."""
        raise NotSupported(Capability.CANCEL_HOLD)

    def suspend_hold(self, patron_key: str, hold_id: str, until: date | None = None) -> Hold:
        """Pause the patron's own hold (kept in the queue, not filled) until ``until`` or a resume."""
        self.require(Capability.SUSPEND_HOLD)
        return self._suspend_hold(patron_key, self._own_hold(patron_key, hold_id), until)

    def resume_hold(self, patron_key: str, hold_id: str) -> Hold:
        """Take the patron's own suspended hold back into the queue."""
        self.require(Capability.SUSPEND_HOLD)
        return self._resume_hold(patron_key, self._own_hold(patron_key, hold_id))

    def _own_hold(self, patron_key: str, hold_id: str) -> Hold:
        """The patron's hold with this id; ``Refused(NOT_FOUND)`` for any other id, the same as for none."""
        for hold in self.holds(patron_key):
            if hold.hold_id == hold_id:
                return hold
        raise Refused(Reason.NOT_FOUND)

    def _suspend_hold(self, patron_key: str, hold: Hold, until: date | None) -> Hold:
        raise NotSupported(Capability.SUSPEND_HOLD)

    def change_pickup(self, patron_key: str, hold_ids: Iterable[str], location_id: str) -> list[PickupChangeOutcome]:
        """Move the patron's own holds among ``hold_ids`` to ``location_id``, one outcome per id in order.

        Any id that is not the patron's gets ``Reason.NOT_FOUND``; a hold with a copy already set aside
        for it (in transit, ready) gets ``Reason.HOLD_FOUND`` without asking the ILS; one already there
        counts as changed. A pickup location this patron may not use is ``Reason.INVALID_PICKUP``."""
        self.require(Capability.CHANGE_PICKUP)
        requested = list(dict.fromkeys(hold_ids))
        owned = {hold.hold_id: hold for hold in self.holds(patron_key)}
        outcomes = []
        down = False  # once the ILS stops answering, the rest are not tried one by one
        for hold_id in requested:
            hold = owned.get(hold_id)
            if hold is None:
                outcomes.append(PickupChangeOutcome(hold_id, False, reason=Reason.NOT_FOUND))
            elif down:
                outcomes.append(PickupChangeOutcome(hold_id, False, hold.title, Reason.UNAVAILABLE))
            elif hold.status not in (HoldStatus.WAITING, HoldStatus.SUSPENDED):
                outcomes.append(PickupChangeOutcome(hold_id, False, hold.title, Reason.HOLD_FOUND))
            elif hold.pickup_location is not None and hold.pickup_location.location_id == location_id:
                outcomes.append(PickupChangeOutcome(hold_id, True, hold.title))
            else:
                try:
                    self._change_pickup(patron_key, hold, location_id)
                except Refused as refusal:
                    outcomes.append(PickupChangeOutcome(hold_id, False, hold.title, refusal.reason, refusal.message))
                except InvalidInput:
                    outcomes.append(PickupChangeOutcome(hold_id, False, hold.title, Reason.INVALID_PICKUP))
                except IlsUnavailable:
                    down = True
                    outcomes.append(PickupChangeOutcome(hold_id, False, hold.title, Reason.UNAVAILABLE))
                else:
                    outcomes.append(PickupChangeOutcome(hold_id, True, hold.title))
        return outcomes

    def _change_pickup(self, patron_key: str, hold: Hold, location_id: str) -> None:
        """Move this hold (the patron's own, still waiting or suspended) to ``location_id``, or raise Refused."""
        raise NotSupported(Capability.CHANGE_PICKUP)

    def hold_limit(self, patron_key: str) -> int | None:
        """How many holds this patron may have at once, where the adapter knows it (None: it does not)."""
        return None

    def _resume_hold(self, patron_key: str, hold: Hold) -> Hold:
        raise NotSupported(Capability.SUSPEND_HOLD)

    # --- catalogue --------------------------------------------------------------------------

    def search(self, query: str, page: int = 1, per_page: int = 20) -> SearchResult:
        """Keyword search over title, author and ISBN."""
        raise NotSupported(Capability.CATALOG_SEARCH)

    def record(self, record_id: str) -> Record:
        """One record's details. Raises RecordNotFound."""
        raise NotSupported(Capability.RECORD_DETAILS)

    def series_volumes(self, record: Record) -> list[Record]:
        """The volumes of ``record``'s numbered series in volume order (``record`` among them); empty
        for a record that belongs to none. For adapters declaring ``Capability.SERIES``."""
        raise NotSupported(Capability.SERIES)

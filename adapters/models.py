"""The frozen dataclasses that cross the boundary between the portal and an ILS adapter.

Views and templates only ever see these types: never SIP2 field codes or Koha JSON.
Dates are ``datetime.date`` in the library's local time; an adapter converts on its edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


class Capability(enum.StrEnum):
    """What an adapter can do. Views hide an action whose capability is missing."""

    LOANS = "loans"
    RENEW = "renew"
    RENEW_ALL = "renew_all"
    HOLDS = "holds"
    PLACE_HOLD = "place_hold"
    CANCEL_HOLD = "cancel_hold"
    SUSPEND_HOLD = "suspend_hold"
    FINES = "fines"
    CHANGE_PASSWORD = "change_password"  # noqa: S105 (a capability name)
    SET_PASSWORD = "set_password"  # noqa: S105 (a capability name)
    CATALOG_SEARCH = "catalog_search"
    RECORD_DETAILS = "record_details"
    PATRON_EMAIL = "patron_email"  # the ILS can store the patron's email address
    CHANGE_PICKUP = "change_pickup"  # move a placed hold to another pickup location
    SERIES = "series"  # records carry their numbered series and volume (for reserving volumes in order)
    RENEWAL_OPENS = "renewal_opens"  # loans tell the day renewal opens (RenewalForecast.available_from)


class BlockCode(enum.StrEnum):
    """Account-level blocks: why the ILS restricts this patron as a whole."""

    CARD_EXPIRED = "card_expired"
    CARD_LOST = "card_lost"
    FINES_OVER_LIMIT = "fines_over_limit"
    OVERDUE_LOANS = "overdue_loans"
    TOO_MANY_LOANS = "too_many_loans"
    TOO_MANY_HOLDS = "too_many_holds"
    RESTRICTED = "restricted"  # a manual restriction placed by staff
    OTHER = "other"
    # What a block stops, where the ILS says only that (SIP2's privilege flags), not why:
    NO_BORROWING = "no_borrowing"  # no new loans (at the counter or a self-check machine)
    NO_RENEWALS = "no_renewals"  # renewals refused, online too
    NO_HOLDS = "no_holds"  # reservations cannot be placed


class Reason(enum.StrEnum):
    """Why a renewal, hold or cancellation was refused, or why a loan is not renewable."""

    ON_HOLD = "on_hold"  # another patron has reserved the item
    PATRON_HAS_OVERDUE = "patron_has_overdue"
    TOO_MANY_RENEWALS = "too_many_renewals"
    TOO_SOON = "too_soon"  # renewal opens on a later date
    ACCOUNT_BLOCKED = "account_blocked"
    TOO_MANY_HOLDS = "too_many_holds"
    ALREADY_HELD = "already_held"  # the patron already has a hold on this record
    ALREADY_ON_LOAN = "already_on_loan"  # the patron already has this record on loan
    NOT_HOLDABLE = "not_holdable"
    INVALID_PICKUP = "invalid_pickup"
    NOT_CANCELLABLE = "not_cancellable"
    NOT_FOUND = "not_found"  # also used for an id that is not the patron's own
    UNAVAILABLE = "unavailable"  # the ILS failed for this one item
    OTHER = "other"
    HOLD_FOUND = "hold_found"  # a copy is already set aside for the hold: its pickup location is fixed


@dataclass(frozen=True)
class AccountBlock:
    code: BlockCode
    message: str | None = None  # the ILS's own wording, shown as-is if present


@dataclass(frozen=True)
class Patron:
    """A logged-in patron. ``key`` is stable across sessions and is what the preference store keys on."""

    key: str
    card_number: str
    display_name: str
    must_change_password: bool = False
    blocks: tuple[AccountBlock, ...] = ()
    email: str | None = None  # as the ILS knows it, if it does


@dataclass(frozen=True)
class AccountSummary:
    loans: int
    overdue: int
    holds: int
    holds_ready: int
    fines: Decimal = Decimal(0)
    currency: str = "JPY"
    blocks: tuple[AccountBlock, ...] = ()


class RenewalStatus(enum.StrEnum):
    RENEWABLE = "renewable"
    NOT_YET = "not_yet"  # renewable from ``RenewalForecast.available_from``
    NOT_RENEWABLE = "not_renewable"
    UNKNOWN = "unknown"  # the ILS does not say before trying (SIP2)


@dataclass(frozen=True)
class RenewalForecast:
    status: RenewalStatus
    available_from: date | None = None
    reason: Reason | None = None


@dataclass(frozen=True)
class Loan:
    loan_id: str
    item_id: str
    title: str
    due_date: date | None
    author: str | None = None
    record_id: str | None = None
    checkout_date: date | None = None
    overdue: bool = False
    due_soon: bool = False
    renewals_used: int = 0
    renewals_allowed: int | None = None
    forecast: RenewalForecast = field(default_factory=lambda: RenewalForecast(RenewalStatus.UNKNOWN))
    due_date_raw: str | None = None  # what the ILS sent, when it could not be parsed into ``due_date``


@dataclass(frozen=True)
class RenewalOutcome:
    loan_id: str
    renewed: bool
    title: str | None = None
    new_due_date: date | None = None
    reason: Reason | None = None
    message: str | None = None  # the ILS's own wording, if any


@dataclass(frozen=True)
class RenewalResult:
    """Per VuFind's renewMyItems: account-level blocks, then one outcome per requested loan."""

    outcomes: tuple[RenewalOutcome, ...]
    blocks: tuple[AccountBlock, ...] = ()

    @property
    def renewed_count(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.renewed)


class HoldStatus(enum.StrEnum):
    WAITING = "waiting"
    IN_TRANSIT = "in_transit"
    READY = "ready"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"  # the ILS lists the hold but gives no evidence whether it is ready (SIP2 dialects)


@dataclass(frozen=True)
class PickupLocation:
    """Where a reservation is collected. ``name`` is the library's own (its first language);
    ``other_names`` holds the names it has in other languages, as (language, name) pairs."""

    location_id: str
    name: str
    other_names: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def name_in(self, language: str) -> str:
        """The name in ``language`` if the library has one, else its own."""
        return dict(self.other_names).get(language, self.name)


@dataclass(frozen=True)
class Hold:
    hold_id: str
    title: str
    status: HoldStatus
    record_id: str | None = None
    author: str | None = None
    queue_position: int | None = None
    pickup_location: PickupLocation | None = None
    pickup_deadline: date | None = None  # when status is READY
    not_needed_after: date | None = None
    placed_on: date | None = None
    cancellable: bool = True
    suspended_until: date | None = None  # when SUSPENDED: the day it comes back to life (None: until resumed)


@dataclass(frozen=True)
class HoldRequest:
    record_id: str
    pickup_location_id: str
    not_needed_after: date | None = None


@dataclass(frozen=True)
class CancelOutcome:
    hold_id: str
    cancelled: bool
    title: str | None = None
    reason: Reason | None = None
    message: str | None = None


@dataclass(frozen=True)
class PickupChangeOutcome:
    """One hold's outcome of a pickup-location change (one per requested hold, as for cancellations)."""

    hold_id: str
    changed: bool
    title: str | None = None
    reason: Reason | None = None
    message: str | None = None


@dataclass(frozen=True)
class Volume:
    """A record's place in a numbered series: ``series`` names the work (the same on every volume),
    ``label`` is the volume as catalogued (上, 中, 下; 一 .. 八; BOOK 1), ``number`` its order (1, 2, ...)."""

    series: str
    label: str
    number: int


@dataclass(frozen=True)
class Record:
    record_id: str
    title: str
    author: str | None = None
    isbn: str | None = None
    publisher: str | None = None
    year: int | None = None
    language: str | None = None
    copies: int | None = None
    available: int | None = None  # copies on the shelf now
    holds: int | None = None  # holds queued on the record
    holdable: bool = True
    volume: Volume | None = None  # where the adapter has series data (Capability.SERIES)


@dataclass(frozen=True)
class SearchResult:
    query: str
    records: tuple[Record, ...]
    total: int
    page: int = 1
    per_page: int = 20

"""Koha's JSON -> the portal's contract models. Pure functions: no HTTP, no clock, no config lookups.

Koha's own codes (renewal errors from ``CanBookBeRenewed``, hold statuses from ``CanBookBeReserved``,
hold ``status`` W/T/P) are translated here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.models import (
    AccountBlock,
    BlockCode,
    Hold,
    HoldStatus,
    Loan,
    Patron,
    PickupLocation,
    Reason,
    Record,
    RenewalForecast,
    RenewalStatus,
)
from adapters.volumes import volume

# --- renewals ----------------------------------------------------------------------------------

#: ``CanBookBeRenewed``'s error codes (Koha 22.11-25.x) -> the contract's reasons.
RENEWAL_REASONS: dict[str, Reason] = {
    "too_many": Reason.TOO_MANY_RENEWALS,
    "too_unseen": Reason.TOO_MANY_RENEWALS,
    "on_reserve": Reason.ON_HOLD,
    "recalled": Reason.ON_HOLD,
    "booked": Reason.ON_HOLD,
    "too_soon": Reason.TOO_SOON,
    "auto_too_soon": Reason.TOO_SOON,
    "overdue": Reason.PATRON_HAS_OVERDUE,
    "restriction": Reason.ACCOUNT_BLOCKED,
    "debarred": Reason.ACCOUNT_BLOCKED,
    "card_lost": Reason.ACCOUNT_BLOCKED,
    "card_expired": Reason.ACCOUNT_BLOCKED,
    "auto_account_expired": Reason.ACCOUNT_BLOCKED,
    "too_much_owing": Reason.ACCOUNT_BLOCKED,
    "auto_too_much_oweing": Reason.ACCOUNT_BLOCKED,  # sic: Koha's spelling
    "auto_too_much_owing": Reason.ACCOUNT_BLOCKED,
    "no_checkout": Reason.NOT_FOUND,
    "item_issued_to_other_patron": Reason.NOT_FOUND,
    # auto_renew (renewed automatically by Koha's cron, not by hand), auto_too_late,
    # item_denied_renewal, onsite_checkout, lengthy_overdue: Reason.OTHER
}
_RENEWAL_ERROR = re.compile(r"\(([a-z_]+)\)\s*$")


def renewal_error_code(message: str | None) -> str:
    """ "Renewal not authorized (too_many)" -> "too_many"; a bare code is returned as it is."""
    text = (message or "").strip()
    match = _RENEWAL_ERROR.search(text)
    if match:
        return match.group(1)
    return text if re.fullmatch(r"[a-z_]+", text) else ""


def renewal_reason(code: str | None) -> Reason:
    return RENEWAL_REASONS.get((code or "").strip(), Reason.OTHER)


def renewal_forecast(
    allows: Mapping[str, Any], *, due: date | None, today: date, window_days: int | None, blocked: bool = False
) -> RenewalForecast:
    """``GET /checkouts/{id}/allows_renewal`` -> a forecast. A too-soon loan gets a date only when the
    library told us its "No renewal before" days (Koha's answer does not carry the date)."""
    if blocked:
        return RenewalForecast(RenewalStatus.NOT_RENEWABLE, reason=Reason.ACCOUNT_BLOCKED)
    if allows.get("allows_renewal") is True:
        return RenewalForecast(RenewalStatus.RENEWABLE)
    code = renewal_error_code(allows.get("error"))
    reason = renewal_reason(code)
    if reason is Reason.TOO_SOON and due is not None and window_days is not None:
        opens = due - timedelta(days=window_days)
        if opens > today:
            return RenewalForecast(RenewalStatus.NOT_YET, available_from=opens, reason=Reason.TOO_SOON)
    return RenewalForecast(RenewalStatus.NOT_RENEWABLE, reason=reason)


# --- dates ---------------------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime | None:
    """Koha's RFC 3339 date-times ("2024-05-20T23:59:00+09:00"); None if absent or malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None


def local_date(value: Any, tz: tzinfo) -> date | None:
    """A Koha date or date-time as the library's calendar date."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    moment = parse_datetime(value)
    if moment is None:
        return None
    if moment.tzinfo is None:  # Koha without a time zone in its answer: already local
        return moment.date()
    return moment.astimezone(tz).date()


# --- patrons -------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def display_name(patron: Mapping[str, Any]) -> str:
    """Family name first for CJK names (山田 花子), given name first otherwise (Emily Carter)."""
    surname = (patron.get("surname") or "").strip()
    given = (patron.get("preferred_name") or patron.get("firstname") or "").strip()
    if not surname or not given:
        return surname or given or str(patron.get("cardnumber") or "")
    if _CJK.search(surname + given):
        return f"{surname} {given}"
    return f"{given} {surname}"


def money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def patron_blocks(patron: Mapping[str, Any], *, today: date, fine_limit: Decimal | None = None) -> tuple[
        AccountBlock, ...]:
    """The account-level blocks Koha's OPAC would apply, from the patron object (with the
    ``overdues+count`` and ``account_balance`` embeds when present), most serious first."""
    codes: list[BlockCode] = []
    if patron.get("patron_card_lost"):
        codes.append(BlockCode.CARD_LOST)
    expiry = patron.get("expiry_date")
    if isinstance(expiry, str) and len(expiry) >= 10:
        try:
            if date.fromisoformat(expiry[:10]) < today:
                codes.append(BlockCode.CARD_EXPIRED)
        except ValueError:
            pass
    if patron.get("restricted"):
        codes.append(BlockCode.RESTRICTED)
    if fine_limit is not None and money(patron.get("account_balance")) > fine_limit:
        codes.append(BlockCode.FINES_OVER_LIMIT)
    if (patron.get("overdues_count") or 0) > 0:
        codes.append(BlockCode.OVERDUE_LOANS)
    return tuple(AccountBlock(code) for code in codes)


#: blocks that stop renewals and new holds altogether (Reason.ACCOUNT_BLOCKED), as Koha's OPAC does
RESTRICTING_BLOCKS = frozenset({BlockCode.CARD_EXPIRED, BlockCode.CARD_LOST, BlockCode.RESTRICTED,
                                BlockCode.FINES_OVER_LIMIT})


def restricts(blocks: Iterable[AccountBlock]) -> bool:
    return any(block.code in RESTRICTING_BLOCKS for block in blocks)


def patron_from_json(patron: Mapping[str, Any], *, today: date, fine_limit: Decimal | None = None,
                     must_change_password: bool = False) -> Patron:
    return Patron(
        key=str(patron["patron_id"]),
        card_number=str(patron.get("cardnumber") or ""),
        display_name=display_name(patron),
        must_change_password=must_change_password,
        blocks=patron_blocks(patron, today=today, fine_limit=fine_limit),
        email=patron.get("email") or None,
    )


def is_locked(patron: Mapping[str, Any], failed_login_attempts: int | None) -> bool:
    """Koha::Patron->account_locked: an administrative lock (login_attempts < 0) or too many failures."""
    attempts = patron.get("login_attempts") or 0
    if attempts < 0:
        return True
    return bool(failed_login_attempts) and attempts >= int(failed_login_attempts or 0)


# --- titles --------------------------------------------------------------------------------------

_ISBD_TAIL = re.compile(r"[\s/:;,=.]+$")


def clean(text: Any) -> str | None:
    """Koha's MARC-derived fields keep ISBD punctuation ("吾輩は猫である /", "夏目, 漱石,")."""
    if not isinstance(text, str):
        return None
    value = _ISBD_TAIL.sub("", text.strip())
    return value or None


def biblio_title(biblio: Mapping[str, Any] | None) -> str | None:
    if not biblio:
        return None
    title, subtitle = clean(biblio.get("title")), clean(biblio.get("subtitle"))
    if title and subtitle:
        return f"{title} : {subtitle}"
    return title or subtitle


def biblio_year(biblio: Mapping[str, Any]) -> int | None:
    for key in ("publication_year", "copyright_date"):
        match = re.search(r"\d{4}", str(biblio.get(key) or ""))
        if match:
            return int(match.group(0))
    return None


# --- loans ---------------------------------------------------------------------------------------


def loan_from_checkout(
    checkout: Mapping[str, Any], *, biblio: Mapping[str, Any] | None, forecast: RenewalForecast, today: date,
    tz: tzinfo, due_soon_days: int, renewals_allowed: int | None = None,
) -> Loan:
    raw_due = checkout.get("due_date")
    due = local_date(raw_due, tz)
    item = checkout.get("item") if isinstance(checkout.get("item"), Mapping) else {}
    barcode = str(checkout.get("external_id") or item.get("external_id") or checkout.get("item_id") or "")
    return Loan(
        loan_id=str(checkout["checkout_id"]),
        item_id=barcode,
        title=biblio_title(biblio) or barcode or "?",
        author=clean((biblio or {}).get("author")),
        record_id=str(biblio["biblio_id"]) if biblio and biblio.get("biblio_id") is not None else None,
        due_date=due,
        checkout_date=local_date(checkout.get("checkout_date"), tz),
        overdue=due is not None and due < today,
        due_soon=due is not None and today <= due <= today + timedelta(days=due_soon_days),
        renewals_used=int(checkout.get("renewals_count") or 0),
        renewals_allowed=renewals_allowed,
        forecast=forecast,
        due_date_raw=None if due is not None else (str(raw_due) if raw_due else None),
    )


def loan_sort_key(loan: Loan) -> tuple[bool, date, str]:
    return (loan.due_date is None, loan.due_date or date.max, loan.title)


# --- holds ---------------------------------------------------------------------------------------

#: ``CanBookBeReserved``/``CanItemBeReserved`` statuses (in "Hold cannot be placed. Reason: X") -> reasons
HOLD_REASONS: dict[str, Reason] = {
    "tooManyReserves": Reason.TOO_MANY_HOLDS,
    "tooManyReservesToday": Reason.TOO_MANY_HOLDS,
    "tooManyHoldsForThisRecord": Reason.ALREADY_HELD,
    "itemAlreadyOnHold": Reason.ALREADY_HELD,
    "alreadyReserved": Reason.ALREADY_HELD,
    "alreadypossession": Reason.ALREADY_ON_LOAN,
    "notReservable": Reason.NOT_HOLDABLE,
    "noReservesAllowed": Reason.NOT_HOLDABLE,
    "notforloan": Reason.NOT_HOLDABLE,
    "damaged": Reason.NOT_HOLDABLE,
    "ageRestricted": Reason.NOT_HOLDABLE,
    "recall": Reason.NOT_HOLDABLE,
    "cannotReserveFromOtherBranches": Reason.NOT_HOLDABLE,
    "branchNotInHoldGroup": Reason.NOT_HOLDABLE,
    "libraryNotPickupLocation": Reason.INVALID_PICKUP,
    "libraryNotFound": Reason.INVALID_PICKUP,
    "cannotBeTransferred": Reason.INVALID_PICKUP,
    "pickupNotInHoldGroup": Reason.INVALID_PICKUP,
    "debarred": Reason.ACCOUNT_BLOCKED,
    "expired": Reason.ACCOUNT_BLOCKED,
    "restricted": Reason.ACCOUNT_BLOCKED,
    "card_lost": Reason.ACCOUNT_BLOCKED,
    "debt_limit": Reason.ACCOUNT_BLOCKED,
    "hold_limit": Reason.TOO_MANY_HOLDS,
}
_HOLD_STATUS = re.compile(r"Reason:\s*([A-Za-z_]+)")


def hold_refusal_reason(message: str | None) -> Reason:
    """ "Hold cannot be placed. Reason: tooManyReserves" -> Reason.TOO_MANY_HOLDS."""
    text = message or ""
    match = _HOLD_STATUS.search(text)
    if match:
        return HOLD_REASONS.get(match.group(1), Reason.OTHER)
    if "pickup location" in text.lower():
        return Reason.INVALID_PICKUP
    return Reason.OTHER


def hold_status(hold: Mapping[str, Any]) -> HoldStatus:
    """Koha's ``status``: W waiting on the shelf (ours: READY), T in transit, P being processed
    (not yet on the shelf: IN_TRANSIT), null queued (WAITING, or SUSPENDED)."""
    status = hold.get("status")
    if status == "W":
        return HoldStatus.READY
    if status in ("T", "P"):
        return HoldStatus.IN_TRANSIT
    if hold.get("suspended"):
        return HoldStatus.SUSPENDED
    return HoldStatus.WAITING


def hold_from_json(hold: Mapping[str, Any], *, biblio: Mapping[str, Any] | None,
                   libraries: Mapping[str, str], tz: tzinfo) -> Hold:
    status = hold_status(hold)
    library_id = hold.get("pickup_library_id")
    expires = local_date(hold.get("expiration_date"), tz)
    priority = hold.get("priority")
    return Hold(
        hold_id=str(hold["hold_id"]),
        title=biblio_title(biblio) or f"#{hold.get('biblio_id')}",
        status=status,
        record_id=str(hold["biblio_id"]) if hold.get("biblio_id") is not None else None,
        author=clean((biblio or {}).get("author")),
        queue_position=priority if isinstance(priority, int) and priority >= 1 and hold.get("status") is None
        else None,
        pickup_location=PickupLocation(str(library_id), libraries.get(str(library_id), str(library_id)))
        if library_id else None,
        # Koha overwrites expiration_date with the last pickup day when the hold becomes waiting (W).
        pickup_deadline=expires if status is HoldStatus.READY else None,
        not_needed_after=expires if status is not HoldStatus.READY else None,
        placed_on=local_date(hold.get("hold_date"), tz),
        # Koha::Hold->is_cancelable_from_opac: only holds not yet found (no copy set aside).
        cancellable=hold.get("status") is None,
        # Koha's auto_unsuspend_holds.pl cron job resumes the hold from this day; none: until resumed.
        suspended_until=local_date(hold.get("suspended_until"), tz) if status is HoldStatus.SUSPENDED else None,
    )


HOLD_ORDER = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1, HoldStatus.WAITING: 2, HoldStatus.SUSPENDED: 2}


def hold_sort_key(hold: Hold) -> tuple[int, date, str]:
    return (HOLD_ORDER[hold.status], hold.placed_on or date.max, hold.hold_id)


# --- libraries, records ----------------------------------------------------------------------------


def pickup_location(library: Mapping[str, Any]) -> PickupLocation:
    return PickupLocation(str(library["library_id"]), str(library.get("name") or library["library_id"]))


def item_available(item: Mapping[str, Any]) -> bool:
    """On the shelf now: not on loan, lost, withdrawn, damaged-and-unloanable or not for loan."""
    return not (
        item.get("checked_out_date")
        or item.get("lost_status")
        or item.get("withdrawn")
        or item.get("not_for_loan_status")
        or item.get("effective_not_for_loan_status")
    )


def record_from_biblio(biblio: Mapping[str, Any], *, items: list[Mapping[str, Any]] | None = None,
                       holds: int | None = None) -> Record:
    isbn = biblio.get("isbn")
    return Record(
        record_id=str(biblio["biblio_id"]),
        title=biblio_title(biblio) or f"#{biblio['biblio_id']}",
        author=clean(biblio.get("author")),
        isbn=(str(isbn).split("|")[0].strip() or None) if isbn else None,
        publisher=clean(biblio.get("publisher")),
        year=biblio_year(biblio),
        language=None,  # in the MARC record (008/041), not in Koha's JSON
        copies=len(items) if items is not None else None,
        available=sum(1 for item in items if item_available(item)) if items is not None else None,
        holds=holds,
        holdable=items is None or len(items) > 0,
        # Koha::Biblio->to_api: biblio.seriestitle as series_title, merged with the biblioitem's volume
        volume=volume(clean(biblio.get("series_title")), clean(biblio.get("volume")) or clean(biblio.get("part_number"))),
    )


# --- charges -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """One outstanding charge (Koha's debit account line). Not in the portal contract yet."""

    description: str | None
    amount: Decimal
    outstanding: Decimal
    date: date | None = None
    kind: str | None = None  # Koha's debit_type: OVERDUE, LOST, MANUAL, ...


def charge_from_line(line: Mapping[str, Any], tz: tzinfo) -> Charge:
    return Charge(
        description=(line.get("description") or None),
        amount=money(line.get("amount")),
        outstanding=money(line.get("amount_outstanding")),
        date=local_date(line.get("date"), tz),
        kind=line.get("debit_type") or None,
    )

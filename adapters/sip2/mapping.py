"""Pure translations from SIP2 replies to the portal's contract models: patron status flags to
blocks, screen messages (AF) to reasons, 64/18 replies to patrons, loans, holds and records.

SIP2 carries no reason codes: an ACS refuses with ``ok=0`` and a free-text screen message. The
patterns below recognise the wordings of Koha (``Item has reached maximum renewals``), Evergreen
(``MAX_RENEWALS_REACHED``), FOLIO (``loan has reached its maximum number of renewals``), the demo
ILS's SIP2 server, and common Japanese phrasings; anything else is ``Reason.OTHER`` with the text
kept as the message, so the patron still reads the library's own words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from adapters.models import (
    AccountBlock,
    AccountSummary,
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
from adapters.sip2 import profiles
from adapters.sip2.dates import parse_sip_date, parse_sip_datetime
from adapters.sip2.profiles import ALL, BARCODE, Profile
from adapters.sip2.responses import PATRON_STATUS_FLAGS, ItemInformation, PatronInformation, PatronStatus

# Circulation status codes of 18 (README §2.5).
ON_HOLD_SHELF = "08"
IN_TRANSIT = "10"
AVAILABLE = "03"
UNKNOWN_STATUSES = frozenset({"", "00", "01"})


def _patterns(*pairs: tuple[Reason, str]) -> tuple[tuple[Reason, re.Pattern[str]], ...]:
    return tuple((reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in pairs)


_BLOCKED = (
    r"block|barred|restrict|expir|\bfines?\b|\bowes?\b|\bdebt|privileges|suspend|card (is |was |has been )?"
    r"(reported )?lost|PATRON_EXCEEDS_FINES|停止|制限|有効期限|期限切れ|延滞金"
)
RENEWAL_PATTERNS = _patterns(
    (Reason.TOO_MANY_RENEWALS, r"max\w*(\s+number\s+of)?[\s_]+renewals|too[\s_]+many[\s_]+renewals|too_many\b|"
                               r"renewal[\s_]+limit|no more renewals|更新回数|更新.*上限|上限.*更新"),
    (Reason.ON_HOLD, r"hold|reserv|recall|予約"),
    (Reason.TOO_SOON, r"too[\s_]+soon|too[\s_]+early|not yet|まだ|期間外"),
    (Reason.PATRON_HAS_OVERDUE, r"overdue|延滞"),
    (Reason.ACCOUNT_BLOCKED, _BLOCKED),
    (Reason.NOT_FOUND, r"not (checked|charged) out|not on loan|no such item|item not found|unknown item|"
                       r"invalid item|貸出されていません"),
)
HOLD_PATTERNS = _patterns(
    (Reason.ALREADY_HELD, r"already\b.*\b(hold|request|reserv)|hold (already )?exists|duplicate|HOLD_EXISTS|"
                          r"既に予約|予約済"),
    (Reason.ALREADY_ON_LOAN, r"already\b.*\b(checked out|charged|on loan|borrowed|issued)|"
                             r"checked out to (this|the) patron|既に貸出|貸出中です"),
    (Reason.TOO_MANY_HOLDS, r"too many (holds|requests|reserves)|max\w*(\s+number\s+of)?\s+(holds|requests|reserves)|"
                            r"hold limit|予約.*上限|上限.*予約"),
    (Reason.INVALID_PICKUP, r"pick[\s-]?up|受取"),
    (Reason.ACCOUNT_BLOCKED, _BLOCKED),
    (Reason.NOT_HOLDABLE, r"not holdable|cannot be (placed on )?(hold|reserved|requested)|not (allowed|permitted)|"
                          r"no holds|予約できません"),
    (Reason.NOT_FOUND, r"no such item|not found|unknown (item|title|record)|invalid item|見つかりません"),
)
CANCEL_PATTERNS = _patterns(
    (Reason.NOT_CANCELLABLE, r"cannot (be )?cancel|can ?not (be )?cancel|not cancell?able|in transit|取消できません"),
    (Reason.NOT_FOUND, r"no (such )?hold|hold not found|not found|見つかりません"),
)
_LOCKED = re.compile(r"(?<![a-z])locked|lock ?out|too many (failed )?(login|password) attempts|ロック", re.IGNORECASE)
_EXPIRED = re.compile(r"expir|有効期限|期限切れ", re.IGNORECASE)


def screen_message(messages: Iterable[str]) -> str | None:
    """The AF screen messages as one text, or None when the ACS said nothing."""
    text = " ".join(message.strip() for message in messages if message and message.strip())
    return text or None


def reason_from_text(text: str | None, patterns: Sequence[tuple[Reason, re.Pattern[str]]]) -> Reason:
    if text:
        for reason, pattern in patterns:
            if pattern.search(text):
                return reason
    return Reason.OTHER


def money(text: str | None) -> Decimal:
    """A BV fee amount ("115.57", "1,200", " 2500 ") as a non-negative Decimal; 0 if unreadable."""
    if not text:
        return Decimal(0)
    cleaned = re.sub(r"[^0-9.\-]", "", text.replace(",", ""))
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return Decimal(0)
    return amount if amount.is_finite() and amount > 0 else Decimal(0)


# --- the patron -----------------------------------------------------------------------------------------

def is_locked(info: PatronStatus) -> bool:
    """The ACS says the password is right but the account is locked (no standard flag: its words)."""
    return bool(_LOCKED.search(screen_message(info.screen_messages) or ""))


#: Each of the 14 patron status flags (README §2.5): what it stops, as ``flask ils check`` says it, and
#: the block the patron is shown (None: nothing the patron does through the portal or at the desk
#: changes; the recall flag, which Evergreen sets for every patron, stops only recalls).
FLAG_CONSEQUENCES: dict[str, tuple[str, BlockCode | None]] = {
    "charge_privileges_denied": ("no new loans at the library (the portal does not lend)", BlockCode.NO_BORROWING),
    "renewal_privileges_denied": ("renewals are not possible online", BlockCode.NO_RENEWALS),
    "recall_privileges_denied": ("the patron cannot recall items; the portal does not recall, so nothing is shown",
                                 None),
    "hold_privileges_denied": ("reservations are not possible", BlockCode.NO_HOLDS),
    "card_reported_lost": ("the card is reported lost", BlockCode.CARD_LOST),
    "too_many_items_charged": ("the loan limit is reached: no new loans", BlockCode.TOO_MANY_LOANS),
    "too_many_items_overdue": ("too many overdue items", BlockCode.OVERDUE_LOANS),
    "too_many_renewals": ("too many renewals: a renewal may be refused", None),
    "too_many_claims_of_items_returned": ("too many items claimed returned", BlockCode.OTHER),
    "too_many_items_lost": ("too many items lost", BlockCode.OTHER),
    "excessive_outstanding_fines": ("fines over the limit", BlockCode.FINES_OVER_LIMIT),
    "excessive_outstanding_fees": ("fees over the limit", BlockCode.FINES_OVER_LIMIT),
    "recall_overdue": ("a recalled item is overdue", BlockCode.OVERDUE_LOANS),
    "too_many_items_billed": ("too many items billed", BlockCode.OTHER),
}
# Blocks that say why, shown before those that say only what is stopped.
_CAUSES = (BlockCode.CARD_EXPIRED, BlockCode.CARD_LOST, BlockCode.FINES_OVER_LIMIT, BlockCode.OVERDUE_LOANS,
           BlockCode.TOO_MANY_LOANS, BlockCode.OTHER)


def status_flags(info: PatronStatus, ignored: frozenset[str] = frozenset()) -> frozenset[str]:
    """The flags set in this reply, without those the server sets for every patron (the profile's)."""
    return info.status.flags - ignored


def blocks_from_status(info: PatronStatus, ignored: frozenset[str] = frozenset()) -> tuple[AccountBlock, ...]:
    """Account blocks from the 14 patron status flags (README §2.5): why, else what is stopped.

    Each flag becomes the block of what it really stops (``FLAG_CONSEQUENCES``), so a patron denied
    only holds reads "reservations are not possible", not that the whole account is restricted; a
    flag that stops nothing the patron does (recall) shows nothing. A flag that names a cause (lost
    card, fines, overdues) is shown instead of the privileges it takes away. The privilege flags become
    CARD_EXPIRED when the screen message speaks of expiry, and hold privileges denied becomes
    TOO_MANY_HOLDS when the patron is at the hold limit (BZ). ``ignored``: the flags the server
    sets for everyone (Evergreen's recall flag), which say nothing about this patron. All 14 flags
    at once are one block, not fourteen causes: FOLIO sets every flag for a manual borrowing block.
    """
    flags = status_flags(info, ignored)
    codes = {FLAG_CONSEQUENCES[flag][1] for flag in flags} - {None}
    denied = flags & {"charge_privileges_denied", "renewal_privileges_denied", "hold_privileges_denied"}
    if denied and _EXPIRED.search(screen_message(info.screen_messages) or ""):
        codes.add(BlockCode.CARD_EXPIRED)
    if BlockCode.NO_HOLDS in codes and _at_hold_limit(info):
        codes.discard(BlockCode.NO_HOLDS)
        codes.add(BlockCode.TOO_MANY_HOLDS)
    causes = [code for code in _CAUSES if code in codes]
    if len(flags | ignored) == len(PATRON_STATUS_FLAGS):  # every flag: a block, not 14 causes (FOLIO)
        causes = [code for code in causes if code is BlockCode.CARD_EXPIRED]
    # A cause explains the privileges it takes away (an expired card: no loans, renewals or holds);
    # only without one does the patron read what is stopped.
    stopped = [code for code in (BlockCode.NO_BORROWING, BlockCode.NO_RENEWALS, BlockCode.NO_HOLDS) if code in codes]
    limit = [BlockCode.TOO_MANY_HOLDS] if BlockCode.TOO_MANY_HOLDS in codes else []
    return tuple(AccountBlock(code) for code in [*causes, *([] if causes else stopped), *limit])


def _at_hold_limit(info: PatronStatus) -> bool:
    if not isinstance(info, PatronInformation) or info.hold_items_limit is None:
        return False
    holds = (info.hold_items_count or 0) + (info.unavailable_holds_count or 0)
    return holds >= info.hold_items_limit


def patron_from_status(card_number: str, info: PatronStatus, ignored: frozenset[str] = frozenset()) -> Patron:
    """``Patron.key`` is the card number (AA) the portal sent: SIP2 has no other stable patron id."""
    email = info.message.get("BE")
    name = (info.personal_name or "").strip()
    return Patron(
        key=card_number,
        card_number=card_number,
        display_name=name or card_number,
        must_change_password=False,  # SIP2 cannot tell, and could not change it anyway
        blocks=blocks_from_status(info, ignored),
        email=email.strip() if email and "@" in email else None,
    )


def renewal_forecast(info: PatronStatus, ignored: frozenset[str] = frozenset()) -> RenewalForecast:
    """SIP2 cannot forecast one loan's renewal; the ACS only says whether the patron may renew at all
    (renewal privileges denied). That much is honest to show; everything else is UNKNOWN."""
    if "renewal_privileges_denied" not in status_flags(info, ignored):
        return RenewalForecast(RenewalStatus.UNKNOWN)
    codes = {block.code for block in blocks_from_status(info, ignored)}
    reason = Reason.ACCOUNT_BLOCKED
    if BlockCode.OVERDUE_LOANS in codes and not codes & {
        BlockCode.CARD_LOST, BlockCode.CARD_EXPIRED, BlockCode.FINES_OVER_LIMIT, BlockCode.OTHER
    }:
        reason = Reason.PATRON_HAS_OVERDUE
    return RenewalForecast(RenewalStatus.NOT_RENEWABLE, reason=reason)


def acs_today(info: PatronStatus | ItemInformation) -> date | None:
    """The ACS's date from a reply's transaction date (UTC-marked dates converted to local time)."""
    moment = parse_sip_datetime(info.transaction_date)
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.date()


def account_summary(info: PatronInformation, loans: int, overdue: int, holds: int, ready: int,
                    ignored: frozenset[str] = frozenset()) -> AccountSummary:
    kwargs = {"currency": info.currency.strip().upper()} if info.currency and info.currency.strip() else {}
    return AccountSummary(
        loans=loans, overdue=overdue, holds=holds, holds_ready=ready, fines=money(info.fee_amount),
        blocks=blocks_from_status(info, ignored), **kwargs,
    )


# --- items: loans, holds, records ----------------------------------------------------------------------

def item_known(info: ItemInformation | None) -> bool:
    """Koha and Evergreen answer an unknown barcode with status 01 and an empty title."""
    return info is not None and (bool((info.title or "").strip()) or info.circulation_status.strip()
                                 not in UNKNOWN_STATUSES)


def loan_from_item(
    listed: str,
    info: ItemInformation | None,
    *,
    today: date,
    due_soon_days: int,
    listed_overdue: bool,
    forecast: RenewalForecast,
    with_record: bool,
) -> Loan:
    """One loan from a 64 list value and its 18. When the ACS does not know the value as an item
    (Evergreen lists titles unless configured for barcodes), the value itself is the title."""
    known = item_known(info)
    title = (info.title or "").strip() if info is not None and known else ""
    due = info.due_date if info is not None and known else None
    raw = info.due_date_raw if info is not None and known else None
    return Loan(
        loan_id=listed,
        item_id=listed,
        title=title or listed,
        due_date=due,
        record_id=listed if with_record and known else None,
        overdue=due < today if due is not None else listed_overdue,
        due_soon=due is not None and today <= due <= today + timedelta(days=due_soon_days),
        forecast=forecast,
        due_date_raw=raw.strip() if due is None and raw and raw.strip() else None,
    )


class HoldListing(NamedTuple):
    """One hold as the 64 lists it: its id here, the value listed (what a 15 ``-`` names), and the
    lists it is counted in (a hold listed twice is two holds)."""

    hold_id: str
    listed: str
    in_hold_items: bool  # AS
    unavailable: bool  # CD, where the profile says CD holds the holds not yet available


def hold_listings(hold_items: Sequence[str], unavailable: Sequence[str], profile: Profile) -> list[HoldListing]:
    """The patron's holds from the AS and CD lists, one per listing (duplicates kept: two holds by one
    patron on one title are two holds, each cancelled with its own 15).

    Where AS lists only available holds (``hold_items == "available"``), AS and CD are two parts of
    the holds; where it lists every open hold, a value's CD listings are the not-yet-available ones
    among its AS listings (Evergreen). CD is left out where it holds something else (FOLIO).
    """
    counts_as = Counter(value for value in hold_items if value.strip())
    counts_cd = Counter(value for value in unavailable if value.strip()) if profile.unavailable_holds else Counter()
    rows: list[tuple[str, bool, bool]] = []
    for value in dict.fromkeys([*counts_as, *counts_cd]):
        in_as, in_cd = counts_as[value], counts_cd[value]
        if profile.hold_items == ALL and in_as:
            waiting = min(in_cd, in_as)
            rows += [(value, True, False)] * (in_as - waiting) + [(value, True, True)] * waiting
            rows += [(value, False, True)] * (in_cd - waiting)  # listed unavailable but not among all: trust CD
        else:
            rows += [(value, True, False)] * in_as + [(value, False, True)] * in_cd
    seen: Counter[str] = Counter()
    listings = []
    for value, in_as, in_cd in rows:
        seen[value] += 1
        hold_id = value if seen[value] == 1 else f"{value}#{seen[value]}"
        listings.append(HoldListing(hold_id, value, in_as, in_cd))
    return listings


def hold_status(listing: HoldListing, info: ItemInformation | None, profile: Profile) -> HoldStatus:
    """Whether a listed hold is ready, from the evidence that holds for this server.

    CD (where it means "not yet available") says not ready: in transit if the item's 18 says 10,
    else waiting. In AS: ready where AS lists only available holds (the spec, Koha) or where CD
    lists the unavailable ones and this hold is not among them (Evergreen); otherwise (AS lists
    every open hold and nothing else tells: FOLIO) the 18 decides: 08 on the hold shelf is ready,
    10 in transit, another known status waiting, and no usable 18 is UNKNOWN, never a guess.
    """
    known = item_known(info)
    circulation = info.circulation_status if info is not None and known else ""
    if listing.unavailable:
        return HoldStatus.IN_TRANSIT if circulation == IN_TRANSIT else HoldStatus.WAITING
    if profile.hold_items == profiles.AVAILABLE or profile.unavailable_holds:
        return HoldStatus.READY
    if circulation == ON_HOLD_SHELF:
        return HoldStatus.READY
    if circulation == IN_TRANSIT:
        return HoldStatus.IN_TRANSIT
    return HoldStatus.WAITING if circulation and circulation not in UNKNOWN_STATUSES else HoldStatus.UNKNOWN


def number_repeats(loans: Sequence[Loan]) -> list[Loan]:
    """Loans listed by one value twice (titles) get distinct ids: the second ``value#2``."""
    seen: Counter[str] = Counter()
    numbered = []
    for loan in loans:
        seen[loan.loan_id] += 1
        if seen[loan.loan_id] > 1:
            loan = replace(loan, loan_id=f"{loan.loan_id}#{seen[loan.loan_id]}")
        numbered.append(loan)
    return numbered


def hold_from_item(
    listing: HoldListing,
    info: ItemInformation | None,
    *,
    profile: Profile,
    locations: Sequence[PickupLocation],
    with_record: bool,
) -> Hold:
    """A hold from its listing in the 64 and the listed item's 18 (if the value is a barcode).

    The pickup deadline is the 18's CM, taken only for a ready hold (Evergreen sends a guessed CM
    for a copy still in transit). In-transit holds are marked not cancellable, as most ILSs let
    only staff cancel a hold whose copy is already on its way; so are holds listed by title, which
    a 15 cannot name (Evergreen finds the hold to cancel from a copy barcode).
    """
    known = item_known(info)
    title = (info.title or "").strip() if info is not None and known else ""
    status = hold_status(listing, info, profile)
    ready = status is HoldStatus.READY
    deadline = parse_sip_date(info.hold_pickup_date) if ready and known and info and info.hold_pickup_date else None
    pickup = None
    if ready and known and info is not None and info.current_location:
        pickup = next((loc for loc in locations if loc.location_id == info.current_location.strip()), None)
    return Hold(
        hold_id=listing.hold_id,
        title=title or listing.listed,
        status=status,
        record_id=listing.listed if with_record and known else None,
        pickup_location=pickup,
        pickup_deadline=deadline,
        cancellable=status is not HoldStatus.IN_TRANSIT and profile.hold_ids == BARCODE,
    )


def hold_sort_key(hold: Hold) -> tuple[int, date]:
    rank = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1}.get(hold.status, 2)  # UNKNOWN ranks with waiting
    return rank, (hold.pickup_deadline or date.max) if rank == 0 else date.max


def record_from_item(record_id: str, info: ItemInformation) -> Record:
    """The "record" of SIP2 is one copy (item id as record id): its title and hold queue (CF)."""
    return Record(
        record_id=record_id,
        title=(info.title or "").strip() or record_id,
        copies=None,
        available=None,
        holds=info.hold_queue_length,
    )


def expiry_moment(day: date) -> datetime:
    """BW for a not-needed-after date: the end of that day, ACS-local."""
    return datetime.combine(day, datetime.max.time().replace(microsecond=0))


def split_unrenewed(value: str, item_ids: Iterable[str]) -> tuple[str, str | None]:
    """A BN value is an item id, optionally followed by a reason ("item-2 too many renewals")."""
    text = value.strip()
    for item_id in sorted(item_ids, key=len, reverse=True):
        if text == item_id:
            return item_id, None
        if text.startswith(item_id) and text[len(item_id) : len(item_id) + 1] in (" ", ":", "-", "\t"):
            return item_id, text[len(item_id) :].strip(" :-\t") or None
    return text, None

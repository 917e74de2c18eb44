"""What the two SIP2 servers over the demo ILS share: Shiori's own (``adapters/demo/sip2_server.py``)
and the one built on pysip2 (``tools/pysip2_acs.py``).

The servers differ in framing and encoding, which is the point of having two; what a patron's
card, password and blocks mean is the demo ILS's, and is decided here once, so a change to the
demo's rules reaches both. Screen messages are Koha's wordings, in English, as its SIP server
sends them.
"""

from __future__ import annotations

import json
from datetime import date
from typing import NamedTuple

from adapters.demo.adapter import DemoAdapter
from adapters.errors import AccountLocked, AuthenticationFailed, IlsError
from adapters.models import BlockCode, Patron, Reason

DEFAULT_INSTITUTION = "SHIORI"

RENEWAL_TEXT = {
    Reason.ON_HOLD: "Item unavailable due to outstanding holds",
    Reason.TOO_MANY_RENEWALS: "Item has reached maximum renewals",
    Reason.TOO_SOON: "Too soon to renew",
    Reason.PATRON_HAS_OVERDUE: "Patron has overdue items",
    Reason.ACCOUNT_BLOCKED: "Patron blocked",
    Reason.NOT_FOUND: "Item not checked out to this patron",
}
HOLD_TEXT = {
    Reason.ALREADY_HELD: "Patron already has a hold on this title",
    Reason.ALREADY_ON_LOAN: "Patron already has this title checked out",
    Reason.TOO_MANY_HOLDS: "Too many holds",
    Reason.INVALID_PICKUP: "Invalid pickup location",
    Reason.ACCOUNT_BLOCKED: "Patron blocked",
    Reason.NOT_HOLDABLE: "Item cannot be placed on hold",
    Reason.NOT_CANCELLABLE: "Hold is in transit and cannot be cancelled",
    Reason.NOT_FOUND: "No such hold",
}

# Patron status positions (SIP2 2.00, the 14 flags of a 24 or 64) set for each demo block:
# 0 charge, 1 renewal, 2 recall, 3 hold privileges denied, 4 card reported lost, 5 too many items
# charged, 6 too many overdue, 10 excessive outstanding fines.
_PRIVILEGES_DENIED = (0, 1, 2, 3)
STATUS_POSITIONS: dict[BlockCode, tuple[int, ...]] = {
    BlockCode.CARD_LOST: (*_PRIVILEGES_DENIED, 4),
    BlockCode.CARD_EXPIRED: _PRIVILEGES_DENIED,
    BlockCode.RESTRICTED: _PRIVILEGES_DENIED,
    BlockCode.FINES_OVER_LIMIT: (0, 1, 3, 10),
    BlockCode.OVERDUE_LOANS: (1, 6),
    BlockCode.TOO_MANY_LOANS: (0, 5),
    BlockCode.TOO_MANY_HOLDS: (3,),
}


class PasswordCheck(NamedTuple):
    """A patron password (AD) checked against the demo ILS.

    ``valid`` is what the reply's CQ says: None when the request carried no AD (so the reply has
    no CQ), False for an empty or wrong one. A locked account's right password is ``valid`` and
    ``locked``: the servers show the lock in the patron status and a screen message, as Koha does,
    rather than calling the password wrong.
    """

    valid: bool | None
    locked: bool


def check_password(demo: DemoAdapter, card: str, password: str | None) -> PasswordCheck:
    """Check ``password`` for ``card`` with the demo's own authentication (its hashing and lock)."""
    if password is None:
        return PasswordCheck(None, False)
    if not password:
        return PasswordCheck(False, False)
    try:
        demo.authenticate(card, password)
    except AccountLocked:
        return PasswordCheck(True, True)
    except AuthenticationFailed:
        return PasswordCheck(False, False)
    return PasswordCheck(True, False)


def find_patron(demo: DemoAdapter, card: str | None) -> Patron | None:
    """The patron with this card number (typed any way the demo accepts), or None."""
    try:
        return demo.find_patron(card or "")
    except IlsError:
        return None


def patron_for_request(demo: DemoAdapter, card: str | None, password: str | None) -> tuple[Patron | None, str | None]:
    """(patron, refusal text) for a 29, 65 or 15: the patron named by AA, refused only when an AD was
    sent and is wrong (a locked account is still served: the demo's rules then refuse the change)."""
    patron = find_patron(demo, (card or "").strip())
    if patron is None:
        return None, "Invalid patron"
    if check_password(demo, patron.card_number, password).valid is False:
        return None, "Invalid patron password"
    return patron, None


def status_flags(patron: Patron) -> tuple[str, list[str]]:
    """The 14-character patron status, and screen messages that name what the flags cannot."""
    flags = [" "] * 14
    messages = []
    for block in patron.blocks:
        for position in STATUS_POSITIONS.get(block.code, ()):
            flags[position] = "Y"
        if block.code is BlockCode.CARD_EXPIRED:
            messages.append("Patron card has expired")
    return "".join(flags), messages


def list_position(value: str | None, default: int) -> int:
    """A 63's BP or BQ (1-based item position): ``default`` when absent or not a number."""
    text = (value or "").strip()
    return max(1, int(text)) if text.isdigit() else default


def sip_date(day: date | None, time_of_day: str = "235900") -> str | None:
    """A due date or pickup deadline as an 18-character SIP2 date, local time; None for no date."""
    return None if day is None else f"{day:%Y%m%d}    {time_of_day}"


def pickup_locations_setting(demo: DemoAdapter) -> str:
    """``PORTAL_SIP2_PICKUP_LOCATIONS`` for the demo library: its branches with their Japanese and
    English names, as the servers print it for the portal to be started with."""
    english = demo.branch_names("en")
    return json.dumps([{"id": branch, "name": name, "name_en": english[branch]}
                       for branch, name in demo.branch_names("ja").items()], ensure_ascii=False)

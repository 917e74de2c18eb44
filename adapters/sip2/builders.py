"""Typed builders for the requests the portal sends (SC -> ACS).

Every builder checks each identified value with :func:`check_field_value` first, so a
patron-supplied value with ``|``, a control character or over 255 characters raises
:class:`UnsafeFieldValue` before any message exists. The connection re-checks encoded
length and encodability for its character set when encoding.

Dates default to "now" in ACS-local form; pass ``when`` for reproducible frames. Field order
follows the spec tables (it matches jsip2's asserted frames byte for byte).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from adapters.sip2.codec import Message, check_field_value, format_sip_datetime

SummaryCategory = Literal["hold", "overdue", "charged", "fine", "recall", "unavailable_holds"]
HoldMode = Literal["+", "-", "*"]
HoldType = Literal["1", "2", "3", "4"]

# Position of each 63 summary category (README §2.5); ACSs honour only the first 'Y'.
SUMMARY_POSITIONS: dict[str, int] = {
    "hold": 0,
    "overdue": 1,
    "charged": 2,
    "fine": 3,
    "recall": 4,
    "unavailable_holds": 5,
}
LANGUAGE_UNKNOWN = "000"
LANGUAGE_ENGLISH = "001"
LANGUAGE_JAPANESE = "014"


def _checked(fields: Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    checked = []
    for field_id, value in fields:
        if value is not None:
            check_field_value(field_id, value)
        checked.append((field_id, value))
    return checked


def _now(when: datetime | None) -> str:
    return format_sip_datetime(when if when is not None else datetime.now())


def _yes_no(flag: bool | None) -> str | None:
    return None if flag is None else ("Y" if flag else "N")


def _language(language: str) -> str:
    if len(language) != 3 or not language.isdigit():
        raise ValueError(f"language must be 3 digits, not {language!r}")
    return language


def login_request(user: str, password: str, location: str | None = None, *, algorithms: str = "00") -> Message:
    """93 Login. ``algorithms`` are the UID and PWD algorithm flags (``0`` = plain text)."""
    fields = _checked([("CN", user), ("CO", password), ("CP", location or None)])
    fixed = {"uid_algorithm": algorithms[0], "pwd_algorithm": algorithms[1]}
    return Message.build("93", fixed, fields)


def sc_status_request(
    status_code: Literal["0", "1", "2"] = "0",
    max_print_width: int = 0,
    protocol_version: str = "2.00",
) -> Message:
    """99 SC Status. Deliberately no ``|`` after the fixed part: pysip2 rejects it."""
    fixed = {
        "status_code": status_code,
        "max_print_width": f"{max_print_width:03d}",
        "protocol_version": protocol_version,
    }
    return Message.build("99", fixed, [])


def patron_status_request(
    institution: str,
    patron_id: str,
    patron_password: str = "",
    terminal_password: str = "",
    *,
    language: str = LANGUAGE_UNKNOWN,
    when: datetime | None = None,
) -> Message:
    """23 Patron Status. AC and AD are always sent (empty if unknown): the spec marks them
    required, and pysip2 drops the connection without AC."""
    fields = _checked([("AO", institution), ("AA", patron_id), ("AC", terminal_password), ("AD", patron_password)])
    fixed = {"language": _language(language), "transaction_date": _now(when)}
    return Message.build("23", fixed, fields)


def patron_information_request(
    institution: str,
    patron_id: str,
    patron_password: str | None = None,
    terminal_password: str | None = None,
    *,
    summary: SummaryCategory | None = None,
    start_item: int | None = None,
    end_item: int | None = None,
    language: str = LANGUAGE_UNKNOWN,
    when: datetime | None = None,
) -> Message:
    """63 Patron Information, asking for the item list of one ``summary`` category.

    ``start_item``/``end_item`` are the 1-based BP/BQ positions in that list. ACSs differ
    (Evergreen ignores them for charged items), so callers must not trust the page size.
    """
    summary_flags = [" "] * 10
    if summary is not None:
        summary_flags[SUMMARY_POSITIONS[summary]] = "Y"
    for name, position in (("start_item", start_item), ("end_item", end_item)):
        if position is not None and position < 1:
            raise ValueError(f"{name} is 1-based, got {position}")
    if start_item is not None and end_item is not None and end_item < start_item:
        raise ValueError(f"end_item {end_item} before start_item {start_item}")
    fields = _checked(
        [
            ("AO", institution),
            ("AA", patron_id),
            ("AC", terminal_password),
            ("AD", patron_password),
            ("BP", None if start_item is None else str(start_item)),
            ("BQ", None if end_item is None else str(end_item)),
        ]
    )
    fixed = {
        "language": _language(language),
        "transaction_date": _now(when),
        "summary": "".join(summary_flags),
    }
    return Message.build("63", fixed, fields)


def item_information_request(
    institution: str,
    item_id: str,
    terminal_password: str | None = None,
    *,
    when: datetime | None = None,
) -> Message:
    """17 Item Information."""
    fields = _checked([("AO", institution), ("AB", item_id), ("AC", terminal_password)])
    return Message.build("17", {"transaction_date": _now(when)}, fields)


def renew_request(
    institution: str,
    patron_id: str,
    *,
    item_id: str | None = None,
    title_id: str | None = None,
    patron_password: str | None = None,
    terminal_password: str | None = None,
    item_properties: str | None = None,
    fee_acknowledged: bool | None = None,
    third_party_allowed: bool = False,
    no_block: bool = False,
    when: datetime | None = None,
) -> Message:
    """29 Renew of one item (by AB, or AJ if the ACS renews by title).

    The nb due date is the transaction date, as jsip2 sends it: Koha and Evergreen send 18
    blanks, which the spec forbids and pysip2 answers by closing the connection. Note that
    Koha never checks AD on a renew: authenticate the patron (63 with CQ) first.
    """
    if item_id is None and title_id is None:
        raise ValueError("renew needs item_id or title_id")
    transaction_date = _now(when)
    fields = _checked(
        [
            ("AO", institution),
            ("AA", patron_id),
            ("AD", patron_password),
            ("AB", item_id),
            ("AJ", title_id),
            ("AC", terminal_password),
            ("CH", item_properties),
            ("BO", _yes_no(fee_acknowledged)),
        ]
    )
    fixed = {
        "third_party_allowed": "Y" if third_party_allowed else "N",
        "no_block": "Y" if no_block else "N",
        "transaction_date": transaction_date,
        "nb_due_date": transaction_date,
    }
    return Message.build("29", fixed, fields)


def renew_all_request(
    institution: str,
    patron_id: str,
    patron_password: str | None = None,
    terminal_password: str | None = None,
    *,
    fee_acknowledged: bool | None = None,
    when: datetime | None = None,
) -> Message:
    """65 Renew All."""
    fields = _checked(
        [
            ("AO", institution),
            ("AA", patron_id),
            ("AD", patron_password),
            ("AC", terminal_password),
            ("BO", _yes_no(fee_acknowledged)),
        ]
    )
    return Message.build("65", {"transaction_date": _now(when)}, fields)


def hold_request(
    mode: HoldMode,
    institution: str,
    patron_id: str,
    *,
    item_id: str | None = None,
    title_id: str | None = None,
    patron_password: str | None = None,
    terminal_password: str | None = None,
    pickup_location: str | None = None,
    expiration: datetime | None = None,
    hold_type: HoldType | None = None,
    fee_acknowledged: bool | None = None,
    when: datetime | None = None,
) -> Message:
    """15 Hold: ``+`` place, ``-`` cancel, ``*`` change.

    BW is the 18-char expiry, BS the pickup location, BY the hold type (1 other, 2 any copy
    of the title, 3 this copy, 4 any copy at one branch; Evergreen assumes 2). The spec has
    no cancel flag (BI) on 15: cancelling is mode ``-``.
    """
    if mode not in ("+", "-", "*"):
        raise ValueError(f"hold mode must be '+', '-' or '*', not {mode!r}")
    if hold_type is not None and hold_type not in ("1", "2", "3", "4"):
        raise ValueError(f"hold type must be '1'..'4', not {hold_type!r}")
    if item_id is None and title_id is None:
        raise ValueError("hold needs item_id or title_id")
    fields = _checked(
        [
            ("BW", None if expiration is None else format_sip_datetime(expiration)),
            ("BS", pickup_location),
            ("BY", hold_type),
            ("AO", institution),
            ("AA", patron_id),
            ("AD", patron_password),
            ("AB", item_id),
            ("AJ", title_id),
            ("AC", terminal_password),
            ("BO", _yes_no(fee_acknowledged)),
        ]
    )
    return Message.build("15", {"hold_mode": mode, "transaction_date": _now(when)}, fields)


def end_patron_session_request(
    institution: str,
    patron_id: str,
    patron_password: str | None = None,
    terminal_password: str | None = None,
    *,
    when: datetime | None = None,
) -> Message:
    """35 End Patron Session."""
    fields = _checked([("AO", institution), ("AA", patron_id), ("AC", terminal_password), ("AD", patron_password)])
    return Message.build("35", {"transaction_date": _now(when)}, fields)


def resend_request() -> Message:
    """97 Request ACS Resend (no AY; the connection adds ``AZFEF5`` with error detection)."""
    return Message("97")

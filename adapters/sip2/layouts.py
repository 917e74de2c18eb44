"""Fixed-field layouts of SIP2 2.00 messages (spec rev 2.12), keyed by command id.

Only fixed fields need a table: they have no identifier, so a message can only be split by
knowing their order and widths. Identified fields are parsed by id and need no layout. All
SIP2 2.00 commands are listed (not only the ones the portal sends) so that any frame a real
ACS or a test vector carries can be parsed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FixedField:
    """One fixed-length field. ``blank_ok`` marks fields where all blanks carry meaning
    (a 63 summary with nothing requested, 64 counts an ACS does not support): every other
    fixed field is required by the spec and must not be sent blank."""

    name: str
    width: int
    is_datetime: bool = False
    blank_ok: bool = False


def _date(name: str) -> FixedField:
    return FixedField(name, 18, is_datetime=True)


def _count(name: str) -> FixedField:
    return FixedField(name, 4, blank_ok=True)


TRANSACTION_DATE = _date("transaction_date")

FIXED_LAYOUTS: dict[str, tuple[FixedField, ...]] = {
    # Requests (SC -> ACS)
    "01": (FixedField("card_retained", 1), TRANSACTION_DATE),
    "09": (FixedField("no_block", 1), TRANSACTION_DATE, _date("return_date")),
    "11": (
        FixedField("sc_renewal_policy", 1),
        FixedField("no_block", 1),
        TRANSACTION_DATE,
        _date("nb_due_date"),
    ),
    "15": (FixedField("hold_mode", 1), TRANSACTION_DATE),
    "17": (TRANSACTION_DATE,),
    "19": (TRANSACTION_DATE,),
    "23": (FixedField("language", 3), TRANSACTION_DATE),
    "25": (TRANSACTION_DATE,),
    "29": (
        FixedField("third_party_allowed", 1),
        FixedField("no_block", 1),
        TRANSACTION_DATE,
        _date("nb_due_date"),
    ),
    "35": (TRANSACTION_DATE,),
    "37": (
        TRANSACTION_DATE,
        FixedField("fee_type", 2),
        FixedField("payment_type", 2),
        FixedField("currency_type", 3),
    ),
    "63": (
        FixedField("language", 3),
        TRANSACTION_DATE,
        FixedField("summary", 10, blank_ok=True),
    ),
    "65": (TRANSACTION_DATE,),
    "93": (FixedField("uid_algorithm", 1), FixedField("pwd_algorithm", 1)),
    "97": (),
    "99": (
        FixedField("status_code", 1),
        FixedField("max_print_width", 3),
        FixedField("protocol_version", 4),
    ),
    # Responses (ACS -> SC)
    "10": (
        FixedField("ok", 1),
        FixedField("resensitize", 1),
        FixedField("magnetic_media", 1),
        FixedField("alert", 1),
        TRANSACTION_DATE,
    ),
    "12": (
        FixedField("ok", 1),
        FixedField("renewal_ok", 1),
        FixedField("magnetic_media", 1),
        FixedField("desensitize", 1),
        TRANSACTION_DATE,
    ),
    "16": (FixedField("ok", 1), FixedField("available", 1), TRANSACTION_DATE),
    # The spec's 18 header lists a hold queue length here, but every implementation sends
    # it as the identified field CF; see README §2.5.
    "18": (
        FixedField("circulation_status", 2),
        FixedField("security_marker", 2),
        FixedField("fee_type", 2),
        TRANSACTION_DATE,
    ),
    "20": (FixedField("item_properties_ok", 1), TRANSACTION_DATE),
    "24": (
        FixedField("patron_status", 14, blank_ok=True),
        FixedField("language", 3),
        TRANSACTION_DATE,
    ),
    "26": (
        FixedField("patron_status", 14, blank_ok=True),
        FixedField("language", 3),
        TRANSACTION_DATE,
    ),
    "30": (
        FixedField("ok", 1),
        FixedField("renewal_ok", 1),
        FixedField("magnetic_media", 1),
        FixedField("desensitize", 1),
        TRANSACTION_DATE,
    ),
    "36": (FixedField("end_session", 1), TRANSACTION_DATE),
    "38": (FixedField("payment_accepted", 1), TRANSACTION_DATE),
    "64": (
        FixedField("patron_status", 14, blank_ok=True),
        FixedField("language", 3),
        TRANSACTION_DATE,
        _count("hold_items_count"),
        _count("overdue_items_count"),
        _count("charged_items_count"),
        _count("fine_items_count"),
        _count("recall_items_count"),
        _count("unavailable_holds_count"),
    ),
    "66": (
        FixedField("ok", 1),
        _count("renewed_count"),
        _count("unrenewed_count"),
        TRANSACTION_DATE,
    ),
    "94": (FixedField("ok", 1),),
    "96": (),
    "98": (
        FixedField("online_status", 1),
        FixedField("checkin_ok", 1),
        FixedField("checkout_ok", 1),
        FixedField("acs_renewal_policy", 1),
        FixedField("status_update_ok", 1),
        FixedField("offline_ok", 1),
        FixedField("timeout_period", 3),
        FixedField("retries_allowed", 3),
        _date("date_time_sync"),
        FixedField("protocol_version", 4),
    ),
}

# Identified fields that may occur more than once; the codec exposes them as lists.
REPEATABLE_IDS: frozenset[str] = frozenset({"AS", "AT", "AU", "AV", "BU", "CD", "BM", "BN", "AF", "AG"})

# Request command -> the response command that answers it.
REPLY_COMMAND: dict[str, str] = {
    "01": "24",
    "09": "10",
    "11": "12",
    "15": "16",
    "17": "18",
    "19": "20",
    "23": "24",
    "25": "26",
    "29": "30",
    "35": "36",
    "37": "38",
    "63": "64",
    "65": "66",
    "93": "94",
    "99": "98",
}

# Control messages that never carry a sequence number, only (optionally) a checksum.
RESEND_COMMANDS: frozenset[str] = frozenset({"96", "97"})

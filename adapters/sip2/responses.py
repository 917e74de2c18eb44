"""Typed views of the responses the portal reads (ACS -> SC).

Parsing is lenient: flags are true only for ``Y``/``1``, counts that are blank (unsupported)
or not numeric become None, and every typed response keeps the raw :class:`Message` in
``message`` for fields not modelled here (FOLIO FU/FV, Evergreen PB/PC/PI, Koha custom ids).
Only a message of the wrong command raises :class:`Sip2ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from adapters.sip2.codec import Message
from adapters.sip2.dates import parse_sip_date
from adapters.sip2.errors import Sip2ProtocolError

# BX positions in the 98 supported-messages field (README §2.5).
BX_POSITIONS: dict[str, int] = {
    "patron_status": 0,
    "checkout": 1,
    "checkin": 2,
    "block_patron": 3,
    "status": 4,
    "resend": 5,
    "login": 6,
    "patron_information": 7,
    "end_patron_session": 8,
    "fee_paid": 9,
    "item_information": 10,
    "item_status_update": 11,
    "patron_enable": 12,
    "hold": 13,
    "renew": 14,
    "renew_all": 15,
}

# Patron status flag names by position (README §2.5, "Patron status, 14 positions").
PATRON_STATUS_FLAGS: tuple[str, ...] = (
    "charge_privileges_denied",
    "renewal_privileges_denied",
    "recall_privileges_denied",
    "hold_privileges_denied",
    "card_reported_lost",
    "too_many_items_charged",
    "too_many_items_overdue",
    "too_many_renewals",
    "too_many_claims_of_items_returned",
    "too_many_items_lost",
    "excessive_outstanding_fines",
    "excessive_outstanding_fees",
    "recall_overdue",
    "too_many_items_billed",
)


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().upper() in ("Y", "1")


def _optional_flag(value: str | None) -> bool | None:
    """Y/N field that may be absent: None when the ACS did not say."""
    if value is None or not value.strip():
        return None
    return _flag(value)


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _require(message: Message, command: str) -> None:
    if message.command != command:
        raise Sip2ProtocolError(f"expected a {command} response, got {message.command}")


@dataclass(frozen=True)
class SupportedMessages:
    """The 98 BX field. Short or garbled fields count as "not supported"; FOLIO and
    SIP2.NET servers have been seen sending 18 positions instead of 16."""

    raw: str

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        position = BX_POSITIONS[name]
        return position < len(self.raw) and self.raw[position].upper() == "Y"


@dataclass(frozen=True)
class PatronStatusFlags:
    """The 14-char patron status; ``flags`` holds the names of the positions set to Y."""

    raw: str

    @property
    def flags(self) -> frozenset[str]:
        return frozenset(name for name, char in zip(PATRON_STATUS_FLAGS, self.raw, strict=False) if char.upper() == "Y")

    def __contains__(self, name: object) -> bool:
        return name in self.flags


@dataclass(frozen=True)
class LoginResponse:
    ok: bool
    message: Message


@dataclass(frozen=True)
class AcsStatus:
    online: bool
    checkin_ok: bool
    checkout_ok: bool
    renewal_policy: bool
    status_update_ok: bool
    offline_ok: bool
    timeout_period: str
    retries_allowed: str
    date_time_sync: str
    protocol_version: str
    institution_id: str | None
    library_name: str | None
    supported: SupportedMessages
    terminal_location: str | None
    screen_messages: list[str]
    message: Message


@dataclass(frozen=True)
class PatronStatus:
    """24 Patron Status. ``valid_patron``/``valid_patron_password`` are None when BL/CQ
    are absent, which must never be read as success."""

    status: PatronStatusFlags
    language: str
    transaction_date: str
    institution_id: str | None
    patron_id: str | None
    personal_name: str | None
    valid_patron: bool | None
    valid_patron_password: bool | None
    currency: str | None
    fee_amount: str | None
    screen_messages: list[str]
    message: Message


@dataclass(frozen=True)
class PatronInformation(PatronStatus):
    """64 Patron Information. Item lists hold whatever the ACS sends (Koha barcodes,
    Evergreen titles by default, fine descriptions), not necessarily barcodes."""

    hold_items_count: int | None
    overdue_items_count: int | None
    charged_items_count: int | None
    fine_items_count: int | None
    recall_items_count: int | None
    unavailable_holds_count: int | None
    hold_items_limit: int | None
    overdue_items_limit: int | None
    charged_items_limit: int | None
    fee_limit: str | None
    hold_items: list[str]
    overdue_items: list[str]
    charged_items: list[str]
    fine_items: list[str]
    recall_items: list[str]
    unavailable_hold_items: list[str]
    home_address: str | None
    email: str | None
    home_phone: str | None


@dataclass(frozen=True)
class ItemInformation:
    circulation_status: str
    security_marker: str
    fee_type: str
    transaction_date: str
    item_id: str | None
    title: str | None
    hold_queue_length: int | None
    due_date_raw: str | None
    due_date: date | None
    recall_date: str | None
    hold_pickup_date: str | None
    owner: str | None
    currency: str | None
    fee_amount: str | None
    media_type: str | None
    permanent_location: str | None
    current_location: str | None
    item_properties: str | None
    screen_messages: list[str]
    message: Message


@dataclass(frozen=True)
class RenewResult:
    ok: bool
    renewal_ok: bool
    magnetic_media: str
    desensitize: str
    transaction_date: str
    institution_id: str | None
    patron_id: str | None
    item_id: str | None
    title: str | None
    due_date_raw: str | None
    due_date: date | None
    fee_type: str | None
    currency: str | None
    fee_amount: str | None
    media_type: str | None
    transaction_id: str | None
    screen_messages: list[str]
    message: Message


@dataclass(frozen=True)
class RenewAllResult:
    ok: bool
    renewed_count: int | None
    unrenewed_count: int | None
    transaction_date: str
    institution_id: str | None
    renewed_items: list[str]
    unrenewed_items: list[str]
    screen_messages: list[str]
    message: Message


@dataclass(frozen=True)
class HoldResult:
    ok: bool
    available: bool
    transaction_date: str
    expiration_date: str | None
    queue_position: int | None
    pickup_location: str | None
    institution_id: str | None
    patron_id: str | None
    item_id: str | None
    title: str | None
    screen_messages: list[str]
    message: Message


@dataclass(frozen=True)
class EndSessionResult:
    ended: bool
    transaction_date: str
    institution_id: str | None
    patron_id: str | None
    screen_messages: list[str]
    message: Message


def parse_login_response(message: Message) -> LoginResponse:
    _require(message, "94")
    return LoginResponse(ok=_flag(message.fixed["ok"]), message=message)


def parse_acs_status(message: Message) -> AcsStatus:
    _require(message, "98")
    fixed = message.fixed
    return AcsStatus(
        online=_flag(fixed["online_status"]),
        checkin_ok=_flag(fixed["checkin_ok"]),
        checkout_ok=_flag(fixed["checkout_ok"]),
        renewal_policy=_flag(fixed["acs_renewal_policy"]),
        status_update_ok=_flag(fixed["status_update_ok"]),
        offline_ok=_flag(fixed["offline_ok"]),
        timeout_period=fixed["timeout_period"],
        retries_allowed=fixed["retries_allowed"],
        date_time_sync=fixed["date_time_sync"],
        protocol_version=fixed["protocol_version"],
        institution_id=message.get("AO"),
        library_name=message.get("AM"),
        supported=SupportedMessages(message.get("BX", "") or ""),
        terminal_location=message.get("AN"),
        screen_messages=message.get_all("AF"),
        message=message,
    )


def _patron_status_fields(message: Message) -> dict[str, object]:
    return {
        "status": PatronStatusFlags(message.fixed["patron_status"]),
        "language": message.fixed["language"],
        "transaction_date": message.fixed["transaction_date"],
        "institution_id": message.get("AO"),
        "patron_id": message.get("AA"),
        "personal_name": message.get("AE"),
        "valid_patron": _optional_flag(message.get("BL")),
        "valid_patron_password": _optional_flag(message.get("CQ")),
        "currency": message.get("BH"),
        "fee_amount": message.get("BV"),
        "screen_messages": message.get_all("AF"),
        "message": message,
    }


def parse_patron_status(message: Message) -> PatronStatus:
    _require(message, "24")
    return PatronStatus(**_patron_status_fields(message))  # type: ignore[arg-type]


def parse_patron_information(message: Message) -> PatronInformation:
    _require(message, "64")
    fixed = message.fixed
    return PatronInformation(
        **_patron_status_fields(message),  # type: ignore[arg-type]
        hold_items_count=_count(fixed["hold_items_count"]),
        overdue_items_count=_count(fixed["overdue_items_count"]),
        charged_items_count=_count(fixed["charged_items_count"]),
        fine_items_count=_count(fixed["fine_items_count"]),
        recall_items_count=_count(fixed["recall_items_count"]),
        unavailable_holds_count=_count(fixed["unavailable_holds_count"]),
        hold_items_limit=_count(message.get("BZ")),
        overdue_items_limit=_count(message.get("CA")),
        charged_items_limit=_count(message.get("CB")),
        fee_limit=message.get("CC"),
        hold_items=message.get_all("AS"),
        overdue_items=message.get_all("AT"),
        charged_items=message.get_all("AU"),
        fine_items=message.get_all("AV"),
        recall_items=message.get_all("BU"),
        unavailable_hold_items=message.get_all("CD"),
        home_address=message.get("BD"),
        email=message.get("BE"),
        home_phone=message.get("BF"),
    )


def parse_item_information(message: Message) -> ItemInformation:
    _require(message, "18")
    due = message.get("AH")
    return ItemInformation(
        circulation_status=message.fixed["circulation_status"],
        security_marker=message.fixed["security_marker"],
        fee_type=message.fixed["fee_type"],
        transaction_date=message.fixed["transaction_date"],
        item_id=message.get("AB"),
        title=message.get("AJ"),
        hold_queue_length=_count(message.get("CF")),
        due_date_raw=due,
        due_date=parse_sip_date(due),
        recall_date=message.get("CJ"),
        hold_pickup_date=message.get("CM"),
        owner=message.get("BG"),
        currency=message.get("BH"),
        fee_amount=message.get("BV"),
        media_type=message.get("CK"),
        permanent_location=message.get("AQ"),
        current_location=message.get("AP"),
        item_properties=message.get("CH"),
        screen_messages=message.get_all("AF"),
        message=message,
    )


def parse_renew_response(message: Message) -> RenewResult:
    _require(message, "30")
    due = message.get("AH")
    return RenewResult(
        ok=_flag(message.fixed["ok"]),
        renewal_ok=_flag(message.fixed["renewal_ok"]),
        magnetic_media=message.fixed["magnetic_media"],
        desensitize=message.fixed["desensitize"],
        transaction_date=message.fixed["transaction_date"],
        institution_id=message.get("AO"),
        patron_id=message.get("AA"),
        item_id=message.get("AB"),
        title=message.get("AJ"),
        due_date_raw=due,
        due_date=parse_sip_date(due),
        fee_type=message.get("BT"),
        currency=message.get("BH"),
        fee_amount=message.get("BV"),
        media_type=message.get("CK"),
        transaction_id=message.get("BK"),
        screen_messages=message.get_all("AF"),
        message=message,
    )


def parse_renew_all_response(message: Message) -> RenewAllResult:
    _require(message, "66")
    return RenewAllResult(
        ok=_flag(message.fixed["ok"]),
        renewed_count=_count(message.fixed["renewed_count"]),
        unrenewed_count=_count(message.fixed["unrenewed_count"]),
        transaction_date=message.fixed["transaction_date"],
        institution_id=message.get("AO"),
        renewed_items=message.get_all("BM"),
        unrenewed_items=message.get_all("BN"),
        screen_messages=message.get_all("AF"),
        message=message,
    )


def parse_hold_response(message: Message) -> HoldResult:
    _require(message, "16")
    return HoldResult(
        ok=_flag(message.fixed["ok"]),
        available=_flag(message.fixed["available"]),
        transaction_date=message.fixed["transaction_date"],
        expiration_date=message.get("BW"),
        queue_position=_count(message.get("BR")),
        pickup_location=message.get("BS"),
        institution_id=message.get("AO"),
        patron_id=message.get("AA"),
        item_id=message.get("AB"),
        title=message.get("AJ"),
        screen_messages=message.get_all("AF"),
        message=message,
    )


def parse_end_session_response(message: Message) -> EndSessionResult:
    _require(message, "36")
    return EndSessionResult(
        ended=_flag(message.fixed["end_session"]),
        transaction_date=message.fixed["transaction_date"],
        institution_id=message.get("AO"),
        patron_id=message.get("AA"),
        screen_messages=message.get_all("AF"),
        message=message,
    )


PARSERS = {
    "94": parse_login_response,
    "98": parse_acs_status,
    "24": parse_patron_status,
    "64": parse_patron_information,
    "18": parse_item_information,
    "30": parse_renew_response,
    "66": parse_renew_all_response,
    "16": parse_hold_response,
    "36": parse_end_session_response,
}


def parse_response(message: Message) -> object:
    """Dispatch on the command id to the typed parser above."""
    parser = PARSERS.get(message.command)
    if parser is None:
        raise Sip2ProtocolError(f"no typed parser for command {message.command}")
    return parser(message)

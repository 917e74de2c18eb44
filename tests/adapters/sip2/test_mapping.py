"""The pure parts of the SIP2 adapter: configuration, screen messages to reasons, flags to blocks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapters.models import BlockCode, Capability, PickupLocation, Reason, RenewalStatus
from adapters.sip2 import mapping
from adapters.sip2.codec import Message
from adapters.sip2.config import DEFAULTS, read_config
from adapters.sip2.profiles import PROFILES
from adapters.sip2.responses import parse_item_information, parse_patron_information

NOW = "20250825    143000"


def patron_info(status: str = " " * 14, *fields: tuple[str, str], counts: str = "0000" * 6) -> object:
    fixed = {"patron_status": status.ljust(14), "language": "000", "transaction_date": NOW}
    names = ("hold_items_count", "overdue_items_count", "charged_items_count", "fine_items_count",
             "recall_items_count", "unavailable_holds_count")
    fixed.update({name: counts[4 * i : 4 * i + 4] for i, name in enumerate(names)})
    return parse_patron_information(Message("64", fixed, (("AO", "LIB"), ("AA", "1001"), *fields)))


def item_info(status: str = "04", *fields: tuple[str, str]) -> object:
    fixed = {"circulation_status": status, "security_marker": "00", "fee_type": "01", "transaction_date": NOW}
    return parse_item_information(Message("18", fixed, tuple(fields)))


# --- configuration ------------------------------------------------------------------------------------


def test_config_values_from_env_arrive_as_text_or_json_and_are_coerced():
    settings, options = read_config({
        "SIP2_HOST": " ils.example.org ", "SIP2_PORT": "6002", "SIP2_TLS": "true", "SIP2_TLS_VERIFY": 0,
        "SIP2_ERROR_DETECTION": "off", "SIP2_POOL_SIZE": 6.0, "SIP2_READ_TIMEOUT": "2.5", "SIP2_PASSWORD": 1234,
        "SIP2_TERMINATOR": "crlf", "SIP2_ITEM_CACHE_SECONDS": "0", "DUE_SOON_DAYS": "5",
        "SIP2_PICKUP_LOCATIONS": "MAIN:Main library, EAST", "SIP2_DISABLED_FEATURES": ["place_hold"],
    })
    assert (settings.host, settings.port, settings.tls, settings.tls_verify) == ("ils.example.org", 6002, True, False)
    assert (settings.error_detection, settings.pool_size, settings.read_timeout) == (False, 6, 2.5)
    assert (settings.password, settings.terminator, settings.encoding) == ("1234", "\r\n", "utf-8")
    assert (options.item_cache_seconds, options.due_soon_days) == (0, 5)
    assert options.pickup_locations == (PickupLocation("MAIN", "Main library"), PickupLocation("EAST", "EAST"))
    assert options.disabled == {Capability.PLACE_HOLD}


def test_config_defaults_and_json_pickup_locations():
    settings, options = read_config({"SIP2_HOST": "ils", "SIP2_PICKUP_LOCATIONS": '[{"id": "B1", "name": "本館"}]'})
    assert (settings.port, settings.encoding, settings.terminator, settings.pool_size) == (6001, "utf-8", "\r", 4)
    assert settings.error_detection and not settings.tls and settings.user == ""
    assert options.pickup_locations == (PickupLocation("B1", "本館"),)
    assert options.item_cache_seconds == DEFAULTS["SIP2_ITEM_CACHE_SECONDS"]
    assert options.prefetch is True


def test_pickup_locations_may_be_named_in_other_languages():
    _, options = read_config({"SIP2_HOST": "ils", "SIP2_PICKUP_LOCATIONS":
                              '[{"id": "B1", "name": "本館", "name_en": "Main Library"}, {"id": "B2", "name": "北分館"}]'})
    main, north = options.pickup_locations
    assert (main.name_in("ja"), main.name_in("en"), north.name_in("en")) == ("本館", "Main Library", "北分館")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SIP2_HOST": ""}, "SIP2_HOST"),
        ({"SIP2_PORT": "sixty"}, "SIP2_PORT"),
        ({"SIP2_PORT": 70000}, "port out of range"),
        ({"SIP2_TLS": "maybe"}, "SIP2_TLS"),
        ({"SIP2_TERMINATOR": "LF"}, "SIP2_TERMINATOR"),
        ({"SIP2_ENCODING": "utf-16"}, "encoding"),
        ({"SIP2_PICKUP_LOCATIONS": "[not json"}, "SIP2_PICKUP_LOCATIONS"),
        ({"SIP2_DISABLED_FEATURES": "teleport"}, "SIP2_DISABLED_FEATURES"),
        ({"SIP2_USER": "a|b"}, "CN"),
    ],
)
def test_config_errors_name_the_setting(overrides, message):
    with pytest.raises(ValueError, match=message):
        read_config({"SIP2_HOST": "ils", **overrides})


# --- screen messages to reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Item has reached maximum renewals", Reason.TOO_MANY_RENEWALS),  # Koha
        ("MAX_RENEWALS_REACHED", Reason.TOO_MANY_RENEWALS),  # Evergreen
        ("Loan has reached its maximum number of renewals", Reason.TOO_MANY_RENEWALS),  # FOLIO
        ("Item unavailable due to outstanding holds", Reason.ON_HOLD),  # Koha
        ("COPY_NEEDED_FOR_HOLD", Reason.ON_HOLD),  # Evergreen
        ("items cannot be renewed when there is an active recall request", Reason.ON_HOLD),  # FOLIO
        ("too_soon", Reason.TOO_SOON),  # Koha, untranslated
        ("PATRON_EXCEEDS_OVERDUE_COUNT", Reason.PATRON_HAS_OVERDUE),
        ("Patron debarred", Reason.ACCOUNT_BLOCKED),
        ("PATRON_BARRED", Reason.ACCOUNT_BLOCKED),
        ("Patron has fines - You owe $12.00.", Reason.ACCOUNT_BLOCKED),
        ("Item not checked out to Ada Lovelace", Reason.NOT_FOUND),
        ("予約が入っているため延長できません", Reason.ON_HOLD),
        ("延滞中の資料があります", Reason.PATRON_HAS_OVERDUE),
        ("The ILS is having a bad day", Reason.OTHER),
        (None, Reason.OTHER),
    ],
)
def test_renewal_refusal_texts(text, reason):
    assert mapping.reason_from_text(text, mapping.RENEWAL_PATTERNS) is reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Patron already has a hold on this title", Reason.ALREADY_HELD),
        ("HOLD_EXISTS", Reason.ALREADY_HELD),
        ("Patron already has this title checked out", Reason.ALREADY_ON_LOAN),
        ("Too many holds", Reason.TOO_MANY_HOLDS),
        ("Invalid pickup location", Reason.INVALID_PICKUP),
        ("Excessive fees blocking placement of hold.", Reason.ACCOUNT_BLOCKED),  # Koha
        ("Item cannot be placed on hold", Reason.NOT_HOLDABLE),
        ("No such item.", Reason.NOT_FOUND),  # Koha
        ("Fee required to place hold.", Reason.OTHER),  # a fee to acknowledge: the words say more
    ],
)
def test_hold_refusal_texts(text, reason):
    assert mapping.reason_from_text(text, mapping.HOLD_PATTERNS) is reason


def test_cancel_refusal_texts():
    assert mapping.reason_from_text("Hold is in transit and cannot be cancelled",
                                    mapping.CANCEL_PATTERNS) is Reason.NOT_CANCELLABLE
    assert mapping.reason_from_text("No such hold", mapping.CANCEL_PATTERNS) is Reason.NOT_FOUND


def test_a_name_in_the_message_is_not_a_reason():
    # "Lowe" and "defines" must not read as "owe" and "fines".
    text = "Item not checked out to Ada Lowe, who defines things"
    assert mapping.reason_from_text(text, mapping.RENEWAL_PATTERNS) is Reason.NOT_FOUND


# --- patron status flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "messages", "codes"),
    [
        ("", (), ()),
        ("    Y", (), (BlockCode.CARD_LOST,)),
        ("YYYY", ("Patron expired on 01/03/2020",), (BlockCode.CARD_EXPIRED,)),
        # Koha's debarment: every privilege denied, no cause named: each thing it stops, not "restricted".
        ("YYYY", ("Greetings from Koha.",), (BlockCode.NO_BORROWING, BlockCode.NO_RENEWALS, BlockCode.NO_HOLDS)),
        # Evergreen's recall flag, alone: nothing the patron does is stopped (issue 13).
        ("  Y", (), ()),
        ("   Y", (), (BlockCode.NO_HOLDS,)),
        (" Y", (), (BlockCode.NO_RENEWALS,)),
        ("YY Y      Y", (), (BlockCode.FINES_OVER_LIMIT,)),
        (" Y    Y", (), (BlockCode.OVERDUE_LOANS,)),
        ("     Y", (), (BlockCode.TOO_MANY_LOANS,)),
        ("         Y", (), (BlockCode.OTHER,)),
    ],
)
def test_blocks_from_patron_status(status, messages, codes):
    info = patron_info(status, *(("AF", text) for text in messages))
    assert tuple(block.code for block in mapping.blocks_from_status(info)) == codes


def test_hold_privileges_denied_at_the_hold_limit_is_too_many_holds():
    at_limit = patron_info("   Y", ("BZ", "0010"), counts="0002" + "0000" * 4 + "0008")
    below = patron_info("   Y", ("BZ", "0010"), counts="0002" + "0000" * 5)
    assert [block.code for block in mapping.blocks_from_status(at_limit)] == [BlockCode.TOO_MANY_HOLDS]
    assert [block.code for block in mapping.blocks_from_status(below)] == [BlockCode.NO_HOLDS]


def test_renewal_forecast_only_from_what_the_acs_says():
    assert mapping.renewal_forecast(patron_info()).status is RenewalStatus.UNKNOWN
    overdue = mapping.renewal_forecast(patron_info(" Y    Y"))
    assert (overdue.status, overdue.reason) == (RenewalStatus.NOT_RENEWABLE, Reason.PATRON_HAS_OVERDUE)
    blocked = mapping.renewal_forecast(patron_info("YYYY", ("AF", "Patron card has expired")))
    assert (blocked.status, blocked.reason) == (RenewalStatus.NOT_RENEWABLE, Reason.ACCOUNT_BLOCKED)


def test_locked_is_read_from_the_screen_message_but_blocked_is_not_locked():
    assert mapping.is_locked(patron_info("", ("AF", "Account locked")))
    assert not mapping.is_locked(patron_info("", ("AF", "Patron blocked")))


def test_patron_key_is_the_card_number_and_email_only_when_it_looks_like_one():
    patron = mapping.patron_from_status("1001", patron_info("", ("AE", " Ada "), ("BE", "ada@example.org")))
    assert (patron.key, patron.display_name, patron.email, patron.must_change_password) == (
        "1001", "Ada", "ada@example.org", False)
    assert mapping.patron_from_status("1001", patron_info("", ("BE", "n/a"))).email is None
    assert mapping.patron_from_status("1001", patron_info()).display_name == "1001"


# --- items ----------------------------------------------------------------------------------------------


def test_loan_with_free_format_due_date_keeps_the_raw_text():
    today = date(2025, 8, 25)
    forecast = mapping.renewal_forecast(patron_info())
    parsed = mapping.loan_from_item("i1", item_info("04", ("AJ", "Title"), ("AH", "5/23/2025,23:59")),
                                    today=today, due_soon_days=3, listed_overdue=False, forecast=forecast,
                                    with_record=True)
    raw = mapping.loan_from_item("i2", item_info("04", ("AJ", "T"), ("AH", "next Tuesday")), today=today,
                                 due_soon_days=3, listed_overdue=True, forecast=forecast, with_record=True)
    assert (parsed.due_date, parsed.overdue, parsed.due_date_raw, parsed.record_id) == (
        date(2025, 5, 23), True, None, "i1")
    assert (raw.due_date, raw.overdue, raw.due_date_raw) == (None, True, "next Tuesday")


def test_a_list_value_the_acs_does_not_know_as_an_item_is_a_title():
    """Evergreen lists titles in 64 unless configured for barcodes; its 17 then knows no such item."""
    unknown = item_info("01", ("AB", "Moby Dick"), ("AJ", ""))
    loan = mapping.loan_from_item("Moby Dick", unknown, today=date(2025, 8, 25), due_soon_days=3,
                                  listed_overdue=False, forecast=mapping.renewal_forecast(patron_info()),
                                  with_record=True)
    assert (loan.title, loan.due_date, loan.record_id) == ("Moby Dick", None, None)


def test_holds_ready_in_transit_waiting():
    locations = [PickupLocation("B1", "Main")]
    generic = PROFILES["generic"]
    ready_listing, moving_listing, waiting_listing = mapping.hold_listings(["i1"], ["i2", "i3"], generic)
    ready = mapping.hold_from_item(ready_listing, item_info("08", ("AJ", "A"), ("CM", "20250901    235900"),
                                                            ("AP", "B1")),
                                   profile=generic, locations=locations, with_record=True)
    moving = mapping.hold_from_item(moving_listing, item_info("10", ("AJ", "B")), profile=generic,
                                    locations=locations, with_record=True)
    waiting = mapping.hold_from_item(waiting_listing, item_info("04", ("AJ", "C")), profile=generic,
                                     locations=locations, with_record=False)
    assert (ready.status.value, ready.pickup_deadline, ready.pickup_location) == (
        "ready", date(2025, 9, 1), locations[0])
    assert (moving.status.value, moving.cancellable) == ("in_transit", False)
    assert (waiting.status.value, waiting.cancellable, waiting.record_id) == ("waiting", True, None)
    assert sorted([waiting, moving, ready], key=mapping.hold_sort_key) == [ready, moving, waiting]


def test_unrenewed_values_with_and_without_a_reason():
    ids = ["item-1", "item-10"]
    assert mapping.split_unrenewed("item-10 too many renewals", ids) == ("item-10", "too many renewals")
    assert mapping.split_unrenewed("item-1", ids) == ("item-1", None)
    assert mapping.split_unrenewed("item-1: on hold", ids) == ("item-1", "on hold")
    assert mapping.split_unrenewed("something else", ids) == ("something else", None)


@pytest.mark.parametrize(
    ("text", "amount"), [("115.57", "115.57"), (" 2500 ", "2500"), ("1,200", "1200"), ("", "0"), ("-5", "0"),
                         ("n/a", "0"), ("JPY 300", "300")],
)
def test_fee_amounts(text, amount):
    assert mapping.money(text) == Decimal(amount)

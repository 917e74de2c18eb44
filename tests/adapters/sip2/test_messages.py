"""Typed request builders (against published frames) and typed response parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters.sip2 import builders
from adapters.sip2.codec import decode_message, encode_message
from adapters.sip2.dates import format_sip_datetime, parse_sip_date, parse_sip_datetime
from adapters.sip2.errors import Sip2ProtocolError, UnsafeFieldValue
from adapters.sip2.responses import (
    parse_acs_status,
    parse_end_session_response,
    parse_hold_response,
    parse_item_information,
    parse_login_response,
    parse_patron_information,
    parse_patron_status,
    parse_renew_all_response,
    parse_renew_response,
)

JSIP2_DATE = datetime(2021, 8, 14, 8, 34, 55)


def wire(message, sequence):
    return encode_message(message, "utf-8", sequence=sequence).decode("utf-8")


# Frames asserted by jsip2's tests and invenio-sip2's fixtures (tests/fixtures/sip2/vectors.txt),
# rebuilt with our builders byte for byte.
PUBLISHED_FRAMES = [
    (builders.login_request("user", "passwd", "location"), 0, "9300CNuser|COpasswd|CPlocation|AY0AZF2FB"),
    (builders.login_request("user_id", "passw0rd"), 1, "9300CNuser_id|COpassw0rd|AY1AZF594"),
    (builders.sc_status_request(max_print_width=80), 1, "9900802.00AY1AZFCA0"),
    (
        builders.patron_information_request(
            "institutionId",
            "patronIdentifier",
            "patronPassword",
            "terminalPassword",
            start_item=2,
            end_item=5,
            when=JSIP2_DATE,
        ),
        0,
        "6300020210814    083455          AOinstitutionId|AApatronIdentifier|ACterminalPassword|"
        "ADpatronPassword|BP2|BQ5|AY0AZD9E4",
    ),
    (
        builders.patron_information_request(
            "institutionId", "patronIdentifier", "", "", summary="charged", when=datetime(2015, 4, 16, 6, 47, 2)
        ),
        0,
        "6300020150416    064702  Y       AOinstitutionId|AApatronIdentifier|AC|AD|AY0AZE8CA",
    ),
    (
        builders.patron_status_request(
            "institutionId", "patronIdentifier", "patronPassword", "terminalPassword", when=JSIP2_DATE
        ),
        0,
        "2300020210814    083455AOinstitutionId|AApatronIdentifier|ACterminalPassword|ADpatronPassword|AY0AZDDAC",
    ),
    (
        builders.item_information_request("institutionId", "itemId", "terminalPassword", when=JSIP2_DATE),
        1,
        "1720210814    083455AOinstitutionId|ABitemId|ACterminalPassword|AY1AZE95A",
    ),
    (
        builders.renew_request(
            "",
            "patronId",
            item_id="itemId",
            title_id="titleId",
            patron_password="patronPassword",
            terminal_password="terminalPassword",
            fee_acknowledged=False,
            when=JSIP2_DATE,
        ),
        3,
        "29NN20210814    08345520210814    083455AO|AApatronId|ADpatronPassword|ABitemId|AJtitleId|"
        "ACterminalPassword|BON|AY3AZDA8D",
    ),
    (
        builders.renew_all_request(
            "institutionId", "patronId", "patronPassword", "terminalPassword", fee_acknowledged=True, when=JSIP2_DATE
        ),
        0,
        "6520210814    083455AOinstitutionId|AApatronId|ADpatronPassword|ACterminalPassword|BOY|AY0AZE026",
    ),
    (
        builders.hold_request(
            "+",
            "",
            "patronId",
            item_id="itemId",
            title_id="titleId",
            patron_password="patronPassword",
            fee_acknowledged=False,
            when=JSIP2_DATE,
        ),
        3,
        "15+20210814    083455AO|AApatronId|ADpatronPassword|ABitemId|AJtitleId|BON|AY3AZE5FD",
    ),
    (
        builders.end_patron_session_request(
            "institutionId", "patronId", "patronPasswd", "terminalPassword", when=JSIP2_DATE
        ),
        0,
        "3520210814    083455AOinstitutionId|AApatronId|ACterminalPassword|ADpatronPasswd|AY0AZE270",
    ),
    (builders.resend_request(), None, "97AZFEF5"),
]


@pytest.mark.parametrize(
    ("message", "sequence", "expected"), PUBLISHED_FRAMES, ids=[f[2][:2] for f in PUBLISHED_FRAMES]
)
def test_builders_reproduce_published_frames(message, sequence, expected):
    assert wire(message, sequence) == expected


def test_hold_with_expiry_pickup_and_type_follows_spec_order():
    message = builders.hold_request(
        "+",
        "UWOLS",
        "djfiander",
        item_id="1565921879",
        pickup_location="Taylor",
        hold_type="2",
        expiration=datetime(2006, 8, 15, 11, 1, 58),
        when=datetime(2006, 4, 15, 11, 1, 58),
    )
    # Evergreen SIPServer t/07hold.t, with its template variables filled in.
    expected = "15+20060415    110158BW20060815    110158|BSTaylor|BY2|AOUWOLS|AAdjfiander|AB1565921879|"
    assert encode_message(message, "ascii", error_detection=False).decode() == expected


def test_renew_sends_transaction_date_as_nb_due_date():
    message = builders.renew_request("LIB", "1001", item_id="i1")
    assert message.fixed["nb_due_date"] == message.fixed["transaction_date"]
    assert message.fixed["nb_due_date"].strip()


def test_sc_status_has_no_delimiter_after_the_fixed_part():
    assert encode_message(builders.sc_status_request(), "ascii", error_detection=False) == b"9900002.00"


def test_patron_status_always_sends_terminal_and_patron_password():
    frame = encode_message(builders.patron_status_request("LIB", "1001"), "ascii", error_detection=False)
    assert frame.endswith(b"AOLIB|AA1001|AC|AD|")


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda: builders.patron_information_request("L", "1", start_item=0), "1-based"),
        (lambda: builders.patron_information_request("L", "1", start_item=5, end_item=2), "before"),
        (lambda: builders.patron_information_request("L", "1", language="jp"), "language"),
        (lambda: builders.renew_request("L", "1"), "item_id or title_id"),
        (lambda: builders.hold_request("+", "L", "1"), "item_id or title_id"),
        (lambda: builders.hold_request("x", "L", "1", item_id="i"), "hold mode"),  # type: ignore[arg-type]
        (lambda: builders.hold_request("+", "L", "1", item_id="i", hold_type="9"), "hold type"),  # type: ignore[arg-type]
    ],
)
def test_builders_refuse_malformed_arguments(call, problem):
    with pytest.raises(ValueError, match=problem):
        call()


@pytest.mark.parametrize(
    "build",
    [
        lambda v: builders.patron_information_request("LIB", v),
        lambda v: builders.patron_information_request("LIB", "1001", patron_password=v),
        lambda v: builders.patron_status_request("LIB", "1001", v),
        lambda v: builders.renew_request("LIB", "1001", item_id=v),
        lambda v: builders.hold_request("+", "LIB", "1001", item_id="i", pickup_location=v),
        lambda v: builders.item_information_request("LIB", v),
        lambda v: builders.end_patron_session_request("LIB", "1001", v),
        lambda v: builders.login_request("portal", v),
    ],
)
@pytest.mark.parametrize("value", ["1001|AD0000", "1001\rAD", "1001\n", "\x00"])
def test_builders_refuse_unsafe_values_before_building(build, value):
    with pytest.raises(UnsafeFieldValue):
        build(value)


# -- typed responses -----------------------------------------------------------------------


def decode(text: str):
    return decode_message(text.encode("utf-8"), "utf-8")


def test_patron_information_from_evergreen():
    info = parse_patron_information(
        decode(
            "64  Y           00020100623    141130000000000000000000000000AA999999|AEDavid J. Fiander|BHUSD|"
            "BV0.00|BD2 Meadowvale Dr. St Thomas, ON Canada 90210|BEdjfiander@somemail.com|BF(519) 555 1234|"
            "AQBR1|BLY|CQN|PB19640925|PCPatrons|PIUnfiltered|AFOK|AOBR1|"
        )
    )
    assert info.status.flags == {"recall_privileges_denied"}
    assert "card_reported_lost" not in info.status
    assert (info.valid_patron, info.valid_patron_password) == (True, False)
    assert info.charged_items_count == 0 and info.charged_items == []
    assert info.email == "djfiander@somemail.com"
    assert info.message.get("PB") == "19640925"  # unknown ids survive


def test_patron_information_item_lists_counts_and_blank_counts():
    info = parse_patron_information(
        decode(
            "64YYYY          014"
            + "20250825    143000"
            + "0001    000200000000    "
            + "AOLIB|AA1|AEName|BZ0005|CB0010|ASh1|AUc1|AUc2|AVf1|ATo1|BUr1|CDu1|BLY|"
        )
    )
    assert info.status.flags == {
        "charge_privileges_denied",
        "renewal_privileges_denied",
        "recall_privileges_denied",
        "hold_privileges_denied",
    }
    assert (info.hold_items_count, info.overdue_items_count, info.charged_items_count) == (1, None, 2)
    assert info.unavailable_holds_count is None  # FOLIO sends blanks
    assert info.language == "014"
    assert (info.hold_items_limit, info.charged_items_limit, info.overdue_items_limit) == (5, 10, None)
    assert (info.hold_items, info.charged_items, info.fine_items) == (["h1"], ["c1", "c2"], ["f1"])
    assert (info.overdue_items, info.recall_items, info.unavailable_hold_items) == (["o1"], ["r1"], ["u1"])
    assert info.valid_patron_password is None  # absent CQ is not a yes


def test_unknown_patron_from_evergreen():
    status = parse_patron_status(decode("24YYYY          00120100507    013934AE|AAbad_barcode|BLN|AOUWOLS|"))
    assert status.valid_patron is False
    assert status.personal_name == ""
    assert "charge_privileges_denied" in status.status


def test_acs_status_supported_messages():
    status = parse_acs_status(decode("98YYYYNN60000320100510    1717202.00AOCONS|BXYYYYYYYYYNYNNNYN|"))
    assert status.online and status.renewal_policy and not status.offline_ok
    assert "patron_information" in status.supported
    assert "item_status_update" not in status.supported
    assert "renew" in status.supported  # Evergreen: renew yes, hold and renew all no
    assert "hold" not in status.supported and "renew_all" not in status.supported
    short = parse_acs_status(decode("98YYYYNN60000320100510    1717202.00AOCONS|BXYYYY|"))
    assert "hold" not in short.supported


def test_item_information_with_free_format_due_date():
    item = parse_item_information(
        decode("1804000120250825    143000CF2|AH5/23/2008,23:59|AB1565921879|AJPerl 5 desktop reference|CK001|")
    )
    assert (item.circulation_status, item.hold_queue_length, item.media_type) == ("04", 2, "001")
    assert (item.due_date_raw, item.due_date) == ("5/23/2008,23:59", date(2008, 5, 23))


def test_renew_failure_from_php_sip2_example():
    result = parse_renew_response(
        decode(
            "300NUU20080228    222232AOWOHLERS|AAX00000241|ABM02400028262|AJFolksongs of Britain and Ireland|"
            "AH5/23/2008,23:59|CH|AFOverride required to exceed renewal limit.|AY1AZCDA5"
        )
    )
    assert not result.ok and not result.renewal_ok
    assert result.screen_messages == ["Override required to exceed renewal limit."]
    assert result.due_date == date(2008, 5, 23)


def test_renew_all_hold_end_session_and_login():
    renew_all = parse_renew_all_response(decode("6610002000120250825    143000AOLIB|BMa|BMb|BNc too many|"))
    assert (renew_all.ok, renew_all.renewed_count, renew_all.unrenewed_count) == (True, 2, 1)
    assert (renew_all.renewed_items, renew_all.unrenewed_items) == (["a", "b"], ["c too many"])
    hold = parse_hold_response(decode("161N20250825    143000BW20251001    000000|BR3|BSMain|AOLIB|AA1|ABi|"))
    assert (hold.ok, hold.available, hold.queue_position, hold.pickup_location) == (True, False, 3, "Main")
    ended = parse_end_session_response(decode("36Y20100507    161213AOCONS|AA999999|AFThank you!|"))
    assert ended.ended and ended.screen_messages == ["Thank you!"]
    assert parse_login_response(decode("941")).ok
    assert not parse_login_response(decode("940")).ok


def test_a_reply_of_the_wrong_type_is_a_protocol_error():
    with pytest.raises(Sip2ProtocolError, match="expected a 64"):
        parse_patron_information(decode("941"))


# -- dates -------------------------------------------------------------------------------


def test_format_sip_datetime_local_and_utc():
    assert format_sip_datetime(datetime(2025, 8, 25, 14, 30)) == "20250825    143000"
    assert format_sip_datetime(datetime(2025, 8, 25, 14, 30, tzinfo=UTC)) == "20250825   Z143000"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20261208    023547", date(2026, 12, 8)),  # Evergreen
        ("20261208    235900", date(2026, 12, 8)),  # Koha date-only due dates
        ("20261208   Z023547", date(2026, 12, 8)),
        ("20080228 145537", date(2008, 2, 28)),
        ("20261208", date(2026, 12, 8)),
        ("2026-12-08", date(2026, 12, 8)),
        ("2026-12-08T23:59:00", date(2026, 12, 8)),
        ("2026/12/08", date(2026, 12, 8)),
        ("5/23/2008,23:59", date(2008, 5, 23)),  # php-sip2's real ACS
        ("05/06/2008", date(2008, 5, 6)),  # US month first
        ("23/05/2008", date(2008, 5, 23)),  # cannot be a month: day first
        ("23.05.2008", date(2008, 5, 23)),
        ("000000000000000000", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("tomorrow", None),
        ("5/23/08", None),
        ("20261332    000000", None),
    ],
)
def test_parse_sip_date_best_effort(raw, expected):
    assert parse_sip_date(raw) == expected


def test_parse_sip_datetime_keeps_zone_meaning():
    assert parse_sip_datetime("20250825    143000") == datetime(2025, 8, 25, 14, 30)
    assert parse_sip_datetime("20250825   Z143000") == datetime(2025, 8, 25, 14, 30, tzinfo=UTC)
    assert parse_sip_datetime("000000000000000000") is None
    assert parse_sip_datetime("20250825") is None

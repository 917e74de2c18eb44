"""adapters/demo/sip2_common.py: the patron checks both SIP2 servers over the demo ILS make."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.demo.sip2_common import (
    PasswordCheck,
    check_password,
    find_patron,
    list_position,
    patron_for_request,
    pickup_locations_setting,
    sip_date,
    status_flags,
)
from tests.adapters.demo.conftest import UNKNOWN_CARD, credentials


@pytest.mark.parametrize(
    ("case", "password", "expected"),
    [
        ("regular", None, PasswordCheck(valid=None, locked=False)),  # no AD: the reply has no CQ
        ("regular", "", PasswordCheck(valid=False, locked=False)),
        ("regular", "not-the-password", PasswordCheck(valid=False, locked=False)),
        ("regular", "right", PasswordCheck(valid=True, locked=False)),
        ("locked", "right", PasswordCheck(valid=True, locked=True)),
    ],
)
def test_check_password(demo, case, password, expected):
    card, right = credentials(case)
    assert check_password(demo, card, right if password == "right" else password) == expected


def test_patron_for_request_refuses_only_a_wrong_password(demo):
    card, password = credentials("regular")
    assert patron_for_request(demo, f" {card} ", password)[0].card_number == card
    assert patron_for_request(demo, card, None)[0].card_number == card  # no AD: not checked
    assert patron_for_request(demo, card, "wrong") == (None, "Invalid patron password")
    assert patron_for_request(demo, UNKNOWN_CARD, password) == (None, "Invalid patron")
    assert patron_for_request(demo, None, None) == (None, "Invalid patron")
    locked, locked_password = credentials("locked")
    assert patron_for_request(demo, locked, locked_password)[1] is None  # the demo's rules refuse what follows


def test_status_flags_of_an_expired_card_and_a_clear_one(demo):
    assert status_flags(find_patron(demo, credentials("regular")[0])) == (" " * 14, [])
    flags, messages = status_flags(find_patron(demo, credentials("blocked")[0]))
    assert flags == "YYYY" + " " * 10 and messages == ["Patron card has expired"]
    assert find_patron(demo, UNKNOWN_CARD) is None


def test_list_position_and_sip_date():
    assert [list_position(value, 7) for value in (None, "", " 3 ", "0", "x1")] == [7, 7, 3, 1, 7]
    assert sip_date(date(2025, 9, 1)) == "20250901    235900"
    assert sip_date(date(2025, 9, 1), "093000") == "20250901    093000"
    assert sip_date(None) is None


def test_the_pickup_setting_the_servers_print_is_read_back_with_both_names(demo):
    from adapters.sip2.config import parse_pickup_locations

    locations = parse_pickup_locations(pickup_locations_setting(demo))
    assert [location.location_id for location in locations] == list(demo.branch_names())
    assert [location.name_in("en") for location in locations] == list(demo.branch_names("en").values())
    assert [location.name for location in locations] == list(demo.branch_names("ja").values())

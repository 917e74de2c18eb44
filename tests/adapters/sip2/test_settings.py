"""Sip2Settings validation: a misconfigured ILS fails at start-up, not on a patron's click."""

from __future__ import annotations

import ssl

import pytest

from adapters.models import Capability
from adapters.sip2.config import read_config
from adapters.sip2.errors import UnsafeFieldValue
from adapters.sip2.settings import Sip2Settings


def test_defaults_follow_the_spec():
    settings = Sip2Settings(host="ils.example.org", port=6001)
    assert (settings.encoding, settings.terminator, settings.error_detection) == ("cp850", "\r", True)
    assert settings.ssl_context() is None


def test_secrets_stay_out_of_repr():
    settings = Sip2Settings(host="h", port=1, user="portal", password="hunter2", terminal_password="term-pw")
    assert "hunter2" not in repr(settings) and "term-pw" not in repr(settings)
    assert "portal" in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"encoding": "utf-16"}, "ASCII"),
        ({"encoding": "klingon"}, "encoding"),
        ({"terminator": "\n"}, "terminator"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"pool_size": 0}, "pool_size"),
        ({"resend_limit": -1}, "resend_limit"),
        ({"max_message_size": 100}, "max_message_size"),
    ],
)
def test_bad_settings_are_refused(overrides, problem):
    with pytest.raises(ValueError, match=problem):
        Sip2Settings(**{"host": "h", "port": 1, **overrides})


@pytest.mark.parametrize("field", ["user", "password", "institution", "location", "terminal_password"])
def test_credentials_that_would_corrupt_frames_are_refused(field):
    with pytest.raises(UnsafeFieldValue):
        Sip2Settings(host="h", port=1, **{field: "a|b"})


def test_tls_context_verifies_unless_told_not_to():
    verifying = Sip2Settings(host="h", port=1, tls=True).ssl_context()
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    trusting = Sip2Settings(host="h", port=1, tls=True, tls_verify=False).ssl_context()
    assert trusting.verify_mode == ssl.CERT_NONE and not trusting.check_hostname


# --- server profiles (SIP2_PROFILE) and the settings that override their values ---------------------------


def test_no_profile_keeps_the_former_defaults():
    settings, options = read_config({"SIP2_HOST": "ils"})
    assert (settings.encoding, settings.terminator, settings.error_detection) == ("utf-8", "\r", True)
    assert options.profile.name == "generic" and options.disabled == frozenset()


def test_a_profile_sets_its_server_defaults_and_each_setting_overrides_one():
    settings, options = read_config({"SIP2_HOST": "ils", "SIP2_PROFILE": "Evergreen"})
    assert (settings.encoding, options.profile.hold_items, options.profile.hold_ids) == ("ascii", "all", "title")
    assert options.disabled == {Capability.PLACE_HOLD}
    settings, options = read_config({
        "SIP2_HOST": "ils", "SIP2_PROFILE": "evergreen", "SIP2_ENCODING": "utf-8", "SIP2_HOLD_IDS": "barcode",
        "SIP2_LOAN_IDS": "barcode", "SIP2_HOLD_ITEMS": "available", "SIP2_IGNORED_FLAGS": "none",
        "SIP2_DISABLED_FEATURES": "renew_all", "SIP2_UNAVAILABLE_HOLDS": "false", "SIP2_TERMINATOR": "crlf",
        "SIP2_ERROR_DETECTION": "false"})
    profile = options.profile
    assert (settings.encoding, settings.terminator, settings.error_detection) == ("utf-8", "\r\n", False)
    assert (profile.hold_ids, profile.loan_ids, profile.hold_items, profile.unavailable_holds) == (
        "barcode", "barcode", "available", False)
    assert profile.ignored_flags == frozenset() and options.disabled == {Capability.RENEW_ALL}
    _, koha = read_config({"SIP2_HOST": "ils", "SIP2_PROFILE": "koha"})
    assert koha.profile.terminator == "CRLF"


@pytest.mark.parametrize(
    ("setting", "value"),
    [("SIP2_PROFILE", "sirsi"), ("SIP2_HOLD_ITEMS", "some"), ("SIP2_HOLD_IDS", "isbn"), ("SIP2_LOAN_IDS", "uuid"),
     ("SIP2_IGNORED_FLAGS", "recall"), ("SIP2_UNAVAILABLE_HOLDS", "maybe")],
)
def test_a_wrong_profile_value_names_its_setting(setting, value):
    with pytest.raises(ValueError, match=setting):
        read_config({"SIP2_HOST": "ils", setting: value})

"""Sip2Settings validation: a misconfigured ILS fails at start-up, not on a patron's click."""

from __future__ import annotations

import ssl

import pytest

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

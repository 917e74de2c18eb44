"""Koha 22.11 has no ``POST /auth/password/validation``: the adapter checks a patron's password by
Koha's HTTP Basic authentication as the patron, on ``GET /patrons/{patron_id}`` (Koha answers 403
"Invalid password" to wrong credentials, 403 "Password has expired", and to right ones the route's
permission refusal, or 200 for a staff patron). Every request and answer is checked against Koha's
contract, as everywhere in these tests; the contract suite on 22.11 is in test_contract.py."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from adapters.errors import AccountLocked, AuthenticationFailed, IlsUnavailable
from adapters.koha.client import KohaFeatures
from adapters.models import Capability
from tests.adapters.koha.conftest import credentials
from tests.adapters.koha.fake_koha import koha_error

API = "/api/v1"

pytestmark = pytest.mark.parametrize("koha_version", ["22.11"])


def basic_user(request: httpx.Request) -> tuple[str, str] | None:
    """The (userid, password) of a request sent with HTTP Basic, else None."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    userid, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    return userid, password


def as_patron(koha) -> list[tuple[str, str, int, tuple[str, str]]]:
    """(method, path, status, (userid, password)) of every request sent with a patron's credentials."""
    return [(call.request.method, call.request.url.path, call.response.status_code, basic_user(call.request))
            for call in koha.router.calls if basic_user(call.request) is not None]


def test_the_routes_of_2211_are_found_and_a_password_is_checked_as_the_patron(adapter, koha, fake):
    card, password = credentials("regular")
    patron = adapter.authenticate(card, password)
    assert adapter.features == KohaFeatures(False, False, False, True, source="GET /api/v1/")
    assert not koha.requests("POST", f"{API}/auth/password/validation")
    userid = fake.patrons[int(patron.key)]["userid"]
    assert as_patron(koha) == [("GET", f"{API}/patrons/{patron.key}", 403, (userid, password))]
    # Koha authenticated the patron, then refused the staff route: that refusal is the proof.
    (call,) = [call for call in koha.router.calls if basic_user(call.request)]
    assert call.response.json()["required_permissions"] == {"borrowers": "edit_borrowers"}
    # Everything else goes as the API client, with its token.
    others = [call.request for call in koha.router.calls
              if call.request.url.path not in (f"{API}/", f"{API}/oauth/token") and not basic_user(call.request)]
    assert others and all(r.headers["authorization"].startswith("Bearer ") for r in others)
    assert not adapter.supports(Capability.CATALOG_SEARCH)  # GET /biblios came in 23.05


def test_a_wrong_password_fails_like_an_unknown_card(adapter, koha, fake):
    card, password = credentials("regular")
    errors = []
    for attempt in ((card, password + "x"), ("1999999999", password)):
        with pytest.raises(AuthenticationFailed) as failed:
            adapter.authenticate(*attempt)
        errors.append(str(failed.value))
    assert errors[0] == errors[1]
    assert [status for _, _, status, _ in as_patron(koha)] == [403]  # the unknown card never got that far
    # Koha's Basic authentication does not count failed attempts (checkpw_internal)
    assert fake.patron_by_card(card)["login_attempts"] == 0


def test_an_expired_password_logs_in_and_must_be_changed(adapter, koha):
    card, password = credentials("first-login")
    patron = adapter.authenticate(card, password)
    assert patron.must_change_password
    assert as_patron(koha)[0][2] == 403  # "Password has expired"
    adapter.change_password(patron.key, password, "Sato2025new")
    again = adapter.authenticate(card, "Sato2025new")
    assert again.key == patron.key and not again.must_change_password


def test_a_locked_card_is_refused_without_sending_its_password(adapter, koha):
    # Koha's Basic authentication would let a locked account in: the portal refuses it itself.
    with pytest.raises(AccountLocked):
        adapter.authenticate(*credentials("locked"))
    assert as_patron(koha) == []


def test_too_many_failed_logins_lock_as_failed_login_attempts_says(adapter, koha, fake):
    card, password = credentials("regular")
    fake.patron_by_card(card)["login_attempts"] = 5  # counted by the OPAC's logins; FailedLoginAttempts is 5
    with pytest.raises(AccountLocked):
        adapter.authenticate(card, password)
    assert as_patron(koha) == []


def test_basic_authentication_off_is_unavailable_and_says_which_syspref(adapter, fake, caplog):
    fake.prefs["RESTBasicAuth"] = False
    with caplog.at_level(logging.ERROR), pytest.raises(IlsUnavailable):
        adapter.authenticate(*credentials("regular"))
    assert "RESTBasicAuth" in caplog.text


def test_a_staff_patron_who_may_read_patrons_gets_200_and_logs_in(adapter, koha, fake):
    card, password = credentials("english")
    fake.patron_by_card(card)["_permissions"] = {"borrowers": "*"}
    patron = adapter.authenticate(card, password)
    assert [status for _, _, status, _ in as_patron(koha)] == [200]
    assert patron.card_number == card


@pytest.mark.parametrize("answer", [
    koha_error(401, "Authentication failure."),
    koha_error(403, "Something Koha has not said before"),
    koha_error(404, "Patron not found"),
])
def test_any_other_refusal_fails_closed(adapter, koha, answer):
    card, password = credentials("regular")
    patron_id = adapter.find_patron(card).key
    koha.fail("GET", f"{API}/patrons/{patron_id}", answer)
    with pytest.raises(AuthenticationFailed):
        adapter.authenticate(card, password)


def test_a_200_with_another_record_is_not_a_login(adapter, koha, fake):
    card, password = credentials("regular")
    patron_id = adapter.find_patron(card).key
    other = next(p for p in fake.patrons.values() if str(p["patron_id"]) != patron_id)
    koha.fail("GET", f"{API}/patrons/{patron_id}", httpx.Response(200, json=fake.patron_json(other)))
    with pytest.raises(IlsUnavailable):
        adapter.authenticate(card, password)


def test_koha_version_in_config_needs_no_discovery(make_adapter, koha):
    adapter = make_adapter({"KOHA_VERSION": "22.11"})
    assert adapter.authenticate(*credentials("regular"))
    assert not koha.requests("GET", f"{API}/")
    assert not koha.requests("POST", f"{API}/auth/password/validation")


def test_when_the_contract_cannot_be_read_a_404_of_the_route_switches_to_basic(make_adapter, koha):
    adapter = make_adapter()
    koha.fail("GET", f"{API}/", koha_error(503, "Under maintenance"))
    with koha.contract.expecting_violation():  # 503 to GET /api/v1/: off the contract on purpose
        assert adapter.features.password_validation  # assumed: 23.11's routes
    # The fake plays 22.11: POST /auth/password/validation is 404. The route is not in 22.11's
    # contract, but it is in the bundle the checker holds, which declares no 404: expected.
    with koha.contract.expecting_violation():
        patron = adapter.authenticate(*credentials("regular"))
    assert koha.requests("POST", f"{API}/auth/password/validation") == [
        ("POST", f"{API}/auth/password/validation")]
    adapter.authenticate(*credentials("english"))  # straight to Basic now
    assert len(koha.requests("POST", f"{API}/auth/password/validation")) == 1
    assert len(as_patron(koha)) == 2 and patron.key

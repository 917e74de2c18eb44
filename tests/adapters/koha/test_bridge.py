"""The openapi-core bridge itself: it must catch a request or an answer that drifts from Koha's
contract, or the checks in every other test prove nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.adapters.koha.openapi_bridge import SPEC_PATH, ContractChecker, ContractViolation, operation_for

BASE = "https://koha.test/api/v1"


@pytest.fixture(scope="module")
def checker() -> ContractChecker:
    return ContractChecker()


def test_the_contract_is_the_shared_bundle():
    assert SPEC_PATH.is_file() and SPEC_PATH.name == "koha-openapi.bundled.oas31.yaml"
    assert SPEC_PATH.parent.name == "koha" and SPEC_PATH.parent.parent.name == "shared"


@pytest.mark.parametrize("request_", [
    httpx.Request("GET", f"{BASE}/patrons?cardnumber=1&_match=exact", headers={"x-koha-embed": "account_balance"}),
    httpx.Request("POST", f"{BASE}/holds", json={"patron_id": 1, "biblio_id": 3, "pickup_library_id": "MAIN"}),
    httpx.Request("POST", f"{BASE}/auth/password/validation", json={"userid": "regular", "password": "x"}),
    httpx.Request("POST", f"{BASE}/oauth/token", data={"grant_type": "client_credentials", "client_id": "a"}),
    httpx.Request("GET", f"{BASE}/biblios?q=%7B%7D&_page=2&_per_page=20", headers={"Accept": "application/json"}),
    httpx.Request("GET", f"{BASE}/items/12"),
    httpx.Request("GET", f"{BASE}/"),
])
def test_requests_within_the_contract_pass(checker, request_):
    checker.check_request(request_)


@pytest.mark.parametrize(("request_", "why"), [
    (httpx.Request("GET", f"{BASE}/patrons?cardnum=1"), "undeclared query parameter"),
    (httpx.Request("GET", f"{BASE}/patrons?_match=fuzzy"), "request breaks"),
    (httpx.Request("GET", f"{BASE}/patrons", headers={"x-koha-embed": "loans"}), "request breaks"),
    (httpx.Request("POST", f"{BASE}/holds", json={"patron_id": "1", "pickup_library_id": "MAIN"}), "request breaks"),
    (httpx.Request("POST", f"{BASE}/holds", json={"patron_id": 1}), "request breaks"),
    (httpx.Request("POST", f"{BASE}/auth/password/validation", json={"identifier": "2000000001", "password": "x"}),
     "request breaks"),  # the 24.05 form is not in this contract: the adapter sends userid
    (httpx.Request("GET", f"{BASE}/checkouts/L1/allows_renewal"), "request breaks"),
    (httpx.Request("GET", f"{BASE}/patrons/1/loans"), "no such operation"),
    (httpx.Request("DELETE", f"{BASE}/patrons/1/holds"), "no such operation"),
])
def test_requests_off_the_contract_are_caught(checker, request_, why):
    with pytest.raises(ContractViolation, match=why):
        checker.check_request(request_)


def patron(**extra):
    return {"patron_id": 1, "surname": "山田", "library_id": "MAIN", "category_id": "PT", **extra}


@pytest.mark.parametrize(("request_", "response"), [
    (httpx.Request("GET", f"{BASE}/patrons"), httpx.Response(200, json=[patron(nickname="x")])),  # not in Koha
    (httpx.Request("GET", f"{BASE}/patrons"), httpx.Response(200, json=[{"patron_id": 1, "surname": "x"}])),
    (httpx.Request("GET", f"{BASE}/patrons/1"), httpx.Response(200, json=patron(restricted="no"))),
    (httpx.Request("GET", f"{BASE}/checkouts/1/allows_renewal"),
     httpx.Response(200, json={"allows_renewal": "yes"})),
    (httpx.Request("GET", f"{BASE}/checkouts?patron_id=1"),
     httpx.Response(200, json=[{"checkout_id": 1, "patron_id": 1, "due_date": "next week"}])),
    (httpx.Request("GET", f"{BASE}/patrons/1/holds"),
     httpx.Response(200, json=[{"hold_id": 1, "patron_id": 1, "biblio_id": 2, "item_id": 7}])),  # a string in Koha
    (httpx.Request("POST", f"{BASE}/checkouts/1/renewal"), httpx.Response(409, json={"error": "x"})),  # undeclared
    (httpx.Request("GET", f"{BASE}/items/1"), httpx.Response(200, json={"item_id": 1, "title": "x"})),
])
def test_answers_off_the_contract_are_caught(checker, request_, response):
    with pytest.raises(ContractViolation, match="answer breaks the contract"):
        checker.check_response(request_, response)


def test_biblio_search_comes_from_kohas_own_file():
    template, operation = operation_for("GET", "/api/v1/biblios")
    assert template == "/biblios" and operation["operationId"] == "listBiblio"
    assert operation["x-koha-authorization"] == {"permissions": {"catalogue": "1"}}


def test_a_test_may_expect_a_violation_and_must_get_one(checker):
    with checker.expecting_violation() as seen:
        checker.check_response(httpx.Request("GET", f"{BASE}/patrons/1"), httpx.Response(200, content=b"<html>"))
    assert seen
    with pytest.raises(AssertionError, match="expected to break"), checker.expecting_violation():
        checker.check_response(httpx.Request("GET", f"{BASE}/patrons/1"), httpx.Response(200, json=patron()))

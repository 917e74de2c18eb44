"""The openapi-core bridge itself: it must catch a request or an answer that drifts from the contract
of the Koha release line in play, or the checks in every other test prove nothing. And the contracts
are the vendored ones, inside the repository: a missing one fails, never skips."""

from __future__ import annotations

import httpx
import pytest

from adapters.demo.koha_server import contract
from tests.adapters.koha.openapi_bridge import ContractChecker, ContractViolation, koha_spec, operation_for

BASE = "https://koha.test/api/v1"


REPO = contract.FIXTURES.parents[2]


@pytest.fixture(scope="module")
def checker() -> ContractChecker:
    return ContractChecker("24.05")


@pytest.mark.parametrize("line", contract.VENDORED)
def test_each_line_is_its_vendored_contract_inside_the_repository(line):
    folder = contract.FIXTURES / line
    assert folder.resolve().is_relative_to(REPO.resolve()) and (folder / "PROVENANCE.tsv").is_file()
    assert (folder / f"koha-{line}.oas31.yaml").is_file()
    spec = koha_spec(line)
    assert spec["info"]["x-shiori-release-line"] == line and len(spec["paths"]) >= 34


def test_a_missing_contract_fails_loudly(monkeypatch, tmp_path):
    monkeypatch.setattr(contract, "FIXTURES", tmp_path)
    with pytest.raises(contract.MissingContract, match="koha-24.05.oas31.yaml"):
        contract.release_spec.__wrapped__("24.05")
    with pytest.raises(ValueError, match="no Koha contract"):
        contract.release_line("21.05")


def test_22_11_is_23_11_without_the_routes_22_11_lacked():
    assert operation_for("POST", "/api/v1/auth/password/validation", "23.11")
    assert operation_for("POST", "/api/v1/auth/password/validation", "22.11") is None
    assert operation_for("GET", "/api/v1/biblios", "22.11") is None
    assert operation_for("GET", "/api/v1/checkouts", "22.11") == operation_for("GET", "/api/v1/checkouts", "23.11")


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
    (httpx.Request("GET", f"{BASE}/patrons/1/checkouts", headers={"x-koha-embed": "item.biblio"}),
     "request breaks"),  # issue 13: 24.05 declares issuer, item, library, patron, renewals
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
    with pytest.raises(ContractViolation, match="answer breaks Koha 24.05.s contract"):
        checker.check_response(request_, response)


@pytest.mark.parametrize(("line", "request_", "allowed"), [
    ("24.05", httpx.Request("GET", f"{BASE}/patrons/1/checkouts", headers={"x-koha-embed": "item"}), True),
    ("24.11", httpx.Request("GET", f"{BASE}/patrons/1/checkouts", headers={"x-koha-embed": "item.biblio"}), True),
    ("23.11", httpx.Request("GET", f"{BASE}/patrons/1/checkouts"), False),  # the route came in 24.05
    ("23.11", httpx.Request("GET", f"{BASE}/checkouts?patron_id=1", headers={"x-koha-embed": "item"}), False),
    ("24.05", httpx.Request("POST", f"{BASE}/auth/password/validation",
                            json={"identifier": "2000000001", "password": "x"}), True),
    ("23.11", httpx.Request("POST", f"{BASE}/auth/password/validation",
                            json={"identifier": "2000000001", "password": "x"}), False),  # userid only
    ("25.11", httpx.Request("POST", f"{BASE}/holds", json={"patron_id": 1, "biblio_id": 3, "pickup_library_id": "M",
                                                           "item_type": "BK"}), False),  # renamed item_type_id
])
def test_each_line_is_checked_against_its_own_contract(line, request_, allowed):
    checker = ContractChecker(line)
    if allowed:
        checker.check_request(request_)
    else:
        with pytest.raises(ContractViolation, match=line):
            checker.check_request(request_)


@pytest.mark.parametrize(("line", "answer", "allowed"), [
    ("24.05", {"checkout_id": 1, "patron_id": 1, "item_id": 7, "external_id": "BC1"}, False),  # no barcode in 24.05
    ("24.11", {"checkout_id": 1, "patron_id": 1, "item_id": 7, "external_id": "BC1"}, True),
    ("24.11", {"checkout_id": 1, "patron_id": 1, "item_id": 7, "booking_id": None}, False),  # 25.11's
    ("25.11", {"checkout_id": 1, "patron_id": 1, "item_id": 7, "booking_id": None}, True),
])
def test_each_line_checks_answers_against_its_own_shapes(line, answer, allowed):
    request, response = httpx.Request("GET", f"{BASE}/patrons/1/checkouts"), httpx.Response(200, json=[answer])
    checker = ContractChecker(line)
    if allowed:
        checker.check_response(request, response)
    else:
        with pytest.raises(ContractViolation, match="answer breaks"):
            checker.check_response(request, response)


@pytest.mark.parametrize("line", ["23.11", "24.05", "24.11", "25.05", "25.11"])
def test_biblio_search_comes_from_kohas_own_files(line):
    template, operation = operation_for("GET", "/api/v1/biblios", line)
    assert template == "/biblios" and operation["operationId"] == "listBiblio"
    assert operation["x-koha-authorization"] == {"permissions": {"catalogue": "1"}}


def test_a_test_may_expect_a_violation_and_must_get_one(checker):
    with checker.expecting_violation() as seen:
        checker.check_response(httpx.Request("GET", f"{BASE}/patrons/1"), httpx.Response(200, content=b"<html>"))
    assert seen
    with pytest.raises(AssertionError, match="expected to break"), checker.expecting_violation():
        checker.check_response(httpx.Request("GET", f"{BASE}/patrons/1"), httpx.Response(200, json=patron()))

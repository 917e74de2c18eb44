"""Issue 13, items 5 and 6: right on every Koha release line, by what each release's contract says.

5. A live Koha 24.05 refuses ``x-koha-embed: item.biblio`` on ``GET /patrons/{id}/checkouts`` (its
   enum is ``issuer, item, library, patron, renewals``) with a 400, which made the loans page, renew
   and renew-all "unavailable". The adapter now sends only what the served contract declares, and
   shows barcodes on every release (24.05's and 23.11's checkouts have no ``external_id``).
6. The fake Koha answered in shapes no release has (on 24.05: ``preferred_name``, ``booking_id``,
   ``item_id`` a string, 204 from password validation). It now serves one release's shapes, from
   that release's vendored contract, and refuses what that release refuses.

Both sets of tests fail on the code before this change (checked by restoring it; see the report).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from adapters.demo.koha_server import CLIENT_ID, CLIENT_SECRET, STAFF_PASSWORD, STAFF_USER, FakeKoha, KohaContract
from tests.adapters.koha.conftest import credentials
from tests.adapters.koha.openapi_bridge import ContractChecker

API = "/api/v1"


def embeds_sent(koha, template_prefix: str) -> list[str]:
    return [call.request.headers.get("x-koha-embed", "") for call in koha.router.calls
            if call.request.method == "GET" and call.request.url.path.startswith(API + template_prefix)
            and call.request.url.path.endswith("/checkouts")]


# --- 5: the adapter on every release -----------------------------------------------------------


def test_loans_show_barcode_and_title_on_every_release(adapter, koha, fake, login):
    patron = login("regular")
    loans = adapter.loans(patron.key)
    expected = {}
    for checkout in fake.checkouts.values():
        if checkout["patron_id"] == int(patron.key):
            item = fake.items[checkout["item_id"]]
            expected[str(checkout["checkout_id"])] = (item["external_id"], fake.biblios[item["biblio_id"]]["title"])
    assert {loan.loan_id: (loan.item_id, loan.title) for loan in loans} == expected
    assert koha.contract.violations == []


def test_only_the_embeds_the_release_declares_are_sent(adapter, koha, fake, login):
    adapter.loans(login("regular").key)
    sent = embeds_sent(koha, "/patrons/") + embeds_sent(koha, "/checkouts")
    expected = {(22, 11): "", (23, 11): "", (24, 5): "item"}.get(fake.version, "item.biblio")
    assert sent == [expected]


def test_renew_and_renew_all_work_on_every_release(adapter, fake, login):
    patron = login("regular")
    renewable = [loan for loan in adapter.loans(patron.key) if loan.forecast.status.value == "renewable"]
    assert renewable
    one = adapter.renew(patron.key, [renewable[0].loan_id])
    assert one.renewed_count == 1
    every = adapter.renew_all(patron.key)
    assert len(every.outcomes) == len(adapter.loans(patron.key))


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_a_24_05_that_refuses_item_biblio_is_not_asked_for_it(make_adapter, koha):
    """KOHA_VERSION=24.05 (no contract read): the adapter knows 24.05's enum too."""
    adapter = make_adapter({"KOHA_VERSION": "24.05"})
    patron = adapter.authenticate(*credentials("regular"))
    assert all(loan.title and loan.item_id.startswith("I") for loan in adapter.loans(patron.key))
    assert embeds_sent(koha, "/patrons/") == ["item"]


# --- 6: the fake Koha answers as the release it plays --------------------------------------------


def staff_headers(fake: FakeKoha, **extra: str) -> dict[str, str]:
    token = json.loads(fake.handle("POST", f"{API}/oauth/token", body=(
        f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}").encode()).body)
    return {"Authorization": f"Bearer {token['access_token']}", **extra}


def get(fake: FakeKoha, path: str, checker: ContractChecker | None = None, **headers: str):
    """GET ``path`` from the fake as the API client; the answer checked against ``checker``'s release."""
    path, _, query = path.partition("?")
    sent = staff_headers(fake, **headers)
    answer = fake.handle("GET", API + path, query, headers=sent)
    if checker is not None:
        request = httpx.Request("GET", f"https://koha.test{API}{path}?{query}", headers=sent)
        checker.check_response(request, httpx.Response(answer.status, headers=answer.headers, content=answer.body))
    return answer.status, json.loads(answer.body or b"null")


@pytest.mark.parametrize("koha_version", ["24.05"])
def test_the_fake_24_05_refuses_item_biblio_as_koha_does(fake):
    status, body = get(fake, "/patrons/1/checkouts", **{"x-koha-embed": "item.biblio"})
    assert status == 400
    assert body["errors"] == [{"path": "/x-koha-embed/0",
                               "message": "Not in enum list: issuer, item, library, patron, renewals."}]
    status, body = get(fake, "/patrons/1/checkouts", **{"x-koha-embed": "item"})
    assert status == 200 and "external_id" not in body[0] and body[0]["item"]["external_id"]


@pytest.mark.parametrize(("line", "patron_has", "checkout_has", "hold_item_id", "validation"), [
    ("23.11", set(), set(), str, 204),
    ("24.05", set(), set(), str, 201),
    ("24.11", {"preferred_name"}, {"external_id"}, int, 201),
    ("25.05", {"preferred_name"}, {"external_id"}, int, 201),
    ("25.11", {"preferred_name"}, {"external_id", "booking_id"}, int, 201),
])
def test_the_fake_answers_in_the_shapes_of_the_release_it_plays(line, patron_has, checkout_has, hold_item_id,
                                                                validation):
    fake = FakeKoha(version=line)
    checker = ContractChecker(line)
    _, patrons = get(fake, "/patrons?cardnumber=2000000004&_match=exact", checker)
    assert {"preferred_name"} & set(patrons[0]) == patron_has
    _, checkouts = get(fake, f"/patrons/{patrons[0]['patron_id']}/checkouts" if line >= "24.05"
                       else f"/checkouts?patron_id={patrons[0]['patron_id']}", checker)
    assert {"external_id", "booking_id"} & set(checkouts[0]) == checkout_has
    _, holds = get(fake, f"/patrons/{patrons[0]['patron_id']}/holds", checker)
    placed = [hold for hold in holds if hold["item_id"] is not None]
    assert placed and all(isinstance(hold["item_id"], hold_item_id) for hold in placed)
    card, password = credentials("regular")
    userid = fake.patron_by_card(card)["userid"]
    answer = fake.handle("POST", f"{API}/auth/password/validation", headers=staff_headers(
        fake, **{"Content-Type": "application/json"}), body=json.dumps({"userid": userid, "password": password}).encode())
    assert answer.status == validation
    if validation == 201:
        assert json.loads(answer.body) == {"cardnumber": card, "patron_id": fake.patron_by_card(card)["patron_id"],
                                           "userid": userid}
    contract = KohaContract(line)
    for definition, rows in (("patron", patrons), ("checkout", checkouts), ("hold", holds)):
        declared = set(contract.schemas[definition]["properties"])
        assert all(set(row) <= declared for row in rows), definition
    assert checker.violations == [] and len(checker.checked) == 3


@pytest.mark.parametrize("line", ["23.11", "24.05", "24.11", "25.05", "25.11"])
def test_the_fake_serves_its_release_contract_and_refuses_what_it_does_not_declare(line):
    fake = FakeKoha(version=line)
    served = json.loads(fake.handle("GET", f"{API}/").body)
    contract = KohaContract(line)
    assert set(served["paths"]) == set(contract.spec["paths"])
    status, body = get(fake, "/patrons?nickname=x")
    assert status == 400 and body["errors"][0]["path"] == "/query/nickname"
    hold = fake.handle("POST", f"{API}/holds", headers=staff_headers(
        fake, **{"Content-Type": "application/json"}), body=json.dumps(
        {"patron_id": 1, "biblio_id": 1, "pickup_library_id": "MAIN", "colour": "red"}).encode())
    assert hold.status == 400  # additionalProperties: false, as Koha's validation says
    headers = {"Authorization": "Basic " + base64.b64encode(f"{STAFF_USER}:{STAFF_PASSWORD}".encode()).decode()}
    assert fake.handle("GET", f"{API}/patrons/1/checkouts", headers=headers).status == (200 if line >= "24.05" else 404)

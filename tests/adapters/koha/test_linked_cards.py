"""Linked cards on Koha, through the portal's pages (the fake Koha behind respx, every request and
answer checked against Koha's contract).

What acting for a linked card needs on Koha: its patron id, which the linking check
(``POST /auth/password/validation``, or Basic authentication as the patron on 22.11) gives once;
after that the portal reads and acts with its own staff API client, as it does for the patron's own
card, and every checkout and hold id is still checked to be that patron's (adapters/base.py)."""

from __future__ import annotations

from adapters.demo.seed import BY_CASE
from adapters.models import RenewalStatus
from tests.adapters.koha.test_pages import app, ils, login_as, patron_key, text  # noqa: F401 (fixtures)

PARENT, CHILD = BY_CASE["regular"], BY_CASE["renewable"]


def test_a_parent_acts_for_a_linked_card_on_koha(auth, client, login_as, ils, fake, koha):  # noqa: F811
    login_as("regular")
    response = auth.post_form("/settings/links", "/settings/links", {"card_number": CHILD.card, "password": CHILD.password})
    assert response.status_code == 302
    child = patron_key(fake, "renewable")
    assert CHILD.name in text(client.get("/"))
    loans = ils.loans(child)
    page = text(client.get("/loans?whose=1"))
    assert all(loan.title in page for loan in loans)
    renewable = next(loan for loan in loans if loan.forecast.status is RenewalStatus.RENEWABLE)
    auth.post_form("/loans?whose=1", "/loans/renew", {"whose": "1", "loan": renewable.loan_id})
    assert {loan.loan_id: loan for loan in ils.loans(child)}[renewable.loan_id].due_date > renewable.due_date

    # The parent's own checkout, sent as the child's: refused before any renewal reaches Koha.
    own = ils.loans(patron_key(fake, "regular"))[0]
    renewals_before = [path for _, path in koha.requests("POST") if "/renewal" in path]
    assert renewals_before  # the child's renewal went out
    auth.post_form("/loans?whose=1", "/loans/renew", {"whose": "1", "loan": own.loan_id})
    assert [path for _, path in koha.requests("POST") if "/renewal" in path] == renewals_before
    assert "outcome--refused" in text(client.get("/loans?whose=1"))

    # A wrong password for the child's card links nothing.
    response = auth.post_form("/settings/links", "/settings/links", {"card_number": BY_CASE["hold-ready"].card,
                                                                      "password": "wrongpass1"})
    assert response.status_code == 200
    assert BY_CASE["hold-ready"].name not in text(client.get("/"))

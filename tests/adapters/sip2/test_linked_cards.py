"""Linked cards over SIP2, through the portal's pages against the demo ILS's SIP2 server.

What acting for a linked card needs over SIP2: nothing but its card number. Shiori's SIP2 adapter
already sends every message after the login's 63 without the patron's password (AD), for the
patron's own card too, so the linked card's password crosses the wire once, in the linking
check's 63, and never again; the server must accept messages without AD, as it must for Shiori's
own logins (see adapters/sip2/README.md: FOLIO's patronPasswordVerificationRequired).
"""

from __future__ import annotations

import pytest

from adapters.demo.seed import BY_CASE
from tests.adapters.sip2.conftest import close_portal, english_client, page, sip2_config
from tests.conftest import AuthActions

PARENT, CHILD = BY_CASE["regular"], BY_CASE["renewable"]


@pytest.fixture
def sip2_app(app_config, demo_db, demo_sip2, demo):
    from app import create_app

    app_config.update({"ADAPTER": "sip2", "DEMO_DATABASE": str(demo_db), **sip2_config(demo_sip2.port, demo)})
    app = create_app(app_config)
    yield app
    close_portal(app)


@pytest.fixture
def heard(demo_sip2, monkeypatch):
    """Every patron message the SIP2 server answers: (command, card AA, whether a password AD came)."""
    messages: list[tuple[str, str | None, bool]] = []
    respond = demo_sip2.acs.respond

    def listening(request):
        messages.append((request.command, request.get("AA"), bool(request.get("AD"))))
        return respond(request)

    monkeypatch.setattr(demo_sip2.acs, "respond", listening)
    return messages


def test_a_parent_acts_for_a_linked_card_over_sip2(sip2_app, demo, heard):
    client = english_client(sip2_app)
    auth = AuthActions(client)
    assert auth.login(PARENT.card, PARENT.password).status_code == 302
    response = auth.post_form("/settings/links", "/settings/links", {"card_number": CHILD.card, "password": CHILD.password})
    assert response.status_code == 302
    linking = [message for message in heard if message[1] == CHILD.card]
    assert linking and linking[0] == ("63", CHILD.card, True)  # the one check with the password
    heard.clear()

    menu = page(client.get("/"))
    assert CHILD.name in menu and f"{len(demo.loans(CHILD.key))} books borrowed" in menu
    loans = page(client.get("/loans?whose=1"))
    assert all(loan.title in loans for loan in demo.loans(CHILD.key))
    renewable = next(loan for loan in demo.loans(CHILD.key) if loan.forecast.status.value == "renewable")
    auth.post_form("/loans?whose=1", "/loans/renew", {"whose": "1", "loan": renewable.item_id})
    assert "Renewed. New due date" in page(client.get("/loans?whose=1"))
    assert {loan.item_id: loan for loan in demo.loans(CHILD.key)}[renewable.item_id].due_date > renewable.due_date

    # The parent's own loan, sent as the child's: refused, and never sent to the ACS as the child's.
    own = demo.loans(PARENT.key)[0]
    auth.post_form("/loans?whose=1", "/loans/renew", {"whose": "1", "loan": own.item_id})
    assert {loan.item_id: loan for loan in demo.loans(PARENT.key)}[own.item_id].due_date == own.due_date
    renewals = [message for message in heard if message[0] == "29"]
    assert len(renewals) == 1  # only the child's own loan went out as a renewal
    assert not any(has_password for _command, card, has_password in heard if card == CHILD.card)

"""Linked cards through the pages: linking in Settings, acting for the card, its holder's view."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.models import HoldStatus, Reason, RenewalStatus
from extensions import db
from store.links import CardLink, links_of


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def links(app):
    """``links(owner_key)``: the owner's links, read in an app context."""

    def read(owner_key: str) -> list[CardLink]:
        with app.app_context():
            return links_of(owner_key)

    return read


@pytest.fixture
def link(auth, login_as, patron, links):
    """Log in as the parent ("regular") and link the child's card ("renewable"); returns the link id."""

    def make(parent: str = "regular", child: str = "renewable") -> int:
        login_as(parent)
        kid = patron(child)
        response = auth.post_form("/settings/links", "/settings/links",
                                  {"card_number": kid.card, "password": kid.password})
        assert response.status_code == 302, text(response)
        return links(patron(parent).key)[-1].id

    return make


def test_linking_checks_the_password_once_and_keeps_nothing_of_it(app, auth, client, link, patron, tmp_path):
    link_id = link()
    kid = patron("renewable")
    with app.app_context():
        stored = db.session.get(CardLink, link_id)
        assert (stored.owner_key, stored.linked_key, stored.linked_card) == ("P001", kid.key, kid.card)
        assert stored.linked_name == kid.name
    db_bytes = Path(tmp_path / "prefs.sqlite3").read_bytes() + b"".join(
        path.read_bytes() for path in tmp_path.glob("prefs.sqlite3-*"))
    assert kid.password.encode() not in db_bytes
    assert kid.name in text(client.get("/"))  # the menu shows the linked card under its holder's name


def test_a_wrong_password_links_nothing(app, auth, login_as, patron):
    login_as("regular")
    kid = patron("renewable")
    response = auth.post_form("/settings/links", "/settings/links", {"card_number": kid.card, "password": "wrong-one1"})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in text(response)
    with app.app_context():
        assert links_of("P001") == []


def test_ones_own_card_cannot_be_linked(app, auth, login_as, patron):
    me = login_as("regular")
    response = auth.post_form("/settings/links", "/settings/links", {"card_number": me.card, "password": me.password})
    assert response.status_code == 200
    with app.app_context():
        assert links_of(me.key) == []


def test_linking_shares_the_logins_lockout_per_card(app_config, patron):
    """Five wrong passwords for a card through the linking form lock that card out of the login too."""
    from app import create_app
    from tests.conftest import AuthActions

    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="100 per minute", LOGIN_LOCKOUT="3 per 30 minutes")
    app = create_app(app_config)
    client = app.test_client()
    auth = AuthActions(client)
    parent, kid = patron("regular"), patron("renewable")
    assert auth.login(parent.card, parent.password).status_code == 302
    for _ in range(3):
        response = auth.post_form("/settings/links", "/settings/links", {"card_number": kid.card, "password": "nope12345"})
        assert response.status_code == 200
    response = auth.post_form("/settings/links", "/settings/links", {"card_number": kid.card, "password": kid.password})
    assert response.status_code == 429
    auth.logout()
    assert auth.login(kid.card, kid.password).status_code == 429
    app.extensions["shiori.adapter"].close()


def test_the_parent_renews_the_childs_loan(auth, client, link, adapter, patron):
    link_id = link()
    kid = patron("renewable")
    page = text(client.get(f"/loans?whose={link_id}"))
    loans = adapter.loans(kid.key)
    assert all(loan.title in page for loan in loans)
    renewable = next(loan for loan in loans if loan.forecast.status is RenewalStatus.RENEWABLE)
    response = auth.post_form(f"/loans?whose={link_id}", "/loans/renew", {"whose": str(link_id), "loan": renewable.loan_id})
    assert response.location == f"/loans?whose={link_id}"
    after = {loan.loan_id: loan for loan in adapter.loans(kid.key)}
    assert after[renewable.loan_id].due_date > renewable.due_date


def test_an_id_from_the_browser_is_checked_against_the_card_it_is_sent_for(auth, client, link, adapter, patron):
    """The parent's own loan sent as the child's is refused, and the parent's loan is untouched."""
    link_id = link()
    own = next(loan for loan in adapter.loans("P001") if loan.forecast.status is RenewalStatus.RENEWABLE)
    auth.post_form(f"/loans?whose={link_id}", "/loans/renew", {"whose": str(link_id), "loan": own.loan_id})
    assert {loan.loan_id: loan for loan in adapter.loans("P001")}[own.loan_id].due_date == own.due_date
    page = text(client.get(f"/loans?whose={link_id}"))
    assert "outcome--refused" in page


def test_another_patrons_link_id_is_not_found(auth, client, link, login_as, patron):
    link_id = link()  # regular -> renewable
    auth.logout()
    login_as("hold-ready")
    assert client.get(f"/loans?whose={link_id}").status_code == 404
    assert client.get(f"/holds?whose={link_id}").status_code == 404
    assert client.get(f"/card?whose={link_id}").status_code == 404
    response = auth.post_form("/loans", "/loans/renew", {"whose": str(link_id), "action": "all"})
    assert response.status_code == 404
    assert client.get("/loans?whose=nonsense").status_code == 404


def test_the_parent_places_cancels_and_pauses_holds_for_the_child(auth, client, link, adapter, patron):
    link_id = link()
    kid = patron("renewable")
    before = {hold.hold_id for hold in adapter.holds(kid.key)}
    page = text(client.get(f"/holds/new?record=R0200&whose={link_id}"))
    assert kid.name in page
    location = adapter.pickup_locations(kid.key, "R0200")[0].location_id
    response = auth.post_form(f"/holds/new?record=R0200&whose={link_id}", "/holds/new",
                              {"record": "R0200", "pickup_location": location, "whose": str(link_id)})
    assert response.location == f"/holds?whose={link_id}"
    new = [hold for hold in adapter.holds(kid.key) if hold.hold_id not in before]
    assert len(new) == 1
    assert all(hold.record_id != "R0200" for hold in adapter.holds("P001"))
    if adapter.supports("suspend_hold") and new[0].status is HoldStatus.WAITING:
        auth.post_form(f"/holds?whose={link_id}", "/holds/suspend", {"whose": str(link_id), "suspend": new[0].hold_id})
        assert {h.hold_id: h for h in adapter.holds(kid.key)}[new[0].hold_id].status is HoldStatus.SUSPENDED
    auth.post_form(f"/holds?whose={link_id}", "/holds/cancel", {"whose": str(link_id), "hold": new[0].hold_id})
    assert new[0].hold_id not in {hold.hold_id for hold in adapter.holds(kid.key)}


def test_every_card_on_one_page_names_whose_each_row_is(auth, client, link, adapter, patron):
    link_id = link()
    kid = patron("renewable")
    page = text(client.get("/loans?whose=all"))
    assert page.count(kid.name) >= len(adapter.loans(kid.key))
    assert page.count(patron("regular").name) >= len(adapter.loans("P001"))
    renewable = next(loan for loan in adapter.loans(kid.key) if loan.forecast.status is RenewalStatus.RENEWABLE)
    foreign = next(loan for loan in adapter.loans("P003"))  # someone else's loan, named as the child's
    response = auth.post_form("/loans?whose=all", "/linked/renew",
                              {"loan": [f"{link_id}:{renewable.loan_id}", f"{link_id}:{foreign.loan_id}"]})
    assert response.location == "/loans?whose=all"
    assert {loan.loan_id: loan for loan in adapter.loans(kid.key)}[renewable.loan_id].due_date > renewable.due_date
    assert {loan.loan_id: loan for loan in adapter.loans("P003")}[foreign.loan_id].due_date == foreign.due_date
    assert "outcome--refused" in text(client.get("/loans?whose=all"))
    holds_page = text(client.get("/holds?whose=all"))
    assert all(hold.title in holds_page for hold in adapter.holds(kid.key))


def test_the_holder_sees_who_linked_the_card_and_removes_it(auth, client, link, links, login_as, patron, app):
    link()
    auth.logout()
    kid = login_as("renewable")
    settings = text(client.get("/settings"))
    assert patron("regular").name in settings
    assert patron("regular").name not in text(client.get("/"))  # one-way: the child does not see the parent's card
    link_id = links("P001")[0].id
    auth.post_form("/settings", f"/settings/links/by/{link_id}/remove", {})
    with app.app_context():
        assert links_of("P001") == []
    assert kid.key


def test_the_holders_password_change_removes_every_link(auth, client, link, login_as, patron, app):
    link()
    auth.logout()
    link("hold-ready", "renewable")
    auth.logout()
    kid = login_as("renewable")
    auth.post_form("/settings/password", "/settings/password",
                   {"current": kid.password, "new": "newpass2026", "confirm": "newpass2026"})
    with app.app_context():
        assert links_of("P001") == [] and links_of("P004") == []


def test_the_owner_unlinks_and_chooses_the_mail(auth, client, link, app):
    link_id = link()
    auth.post_form("/settings", f"/settings/links/{link_id}/notices", {"notify": "on"})
    with app.app_context():
        assert db.session.get(CardLink, link_id).notify_owner is True
    auth.post_form("/settings", f"/settings/links/{link_id}/remove", {})
    with app.app_context():
        assert links_of("P001") == []


def test_the_most_cards_one_login_may_link(app_config, patron):
    from app import create_app
    from tests.conftest import AuthActions

    app_config["LINKED_CARDS_MAX"] = 1
    app = create_app(app_config)
    auth = AuthActions(app.test_client())
    parent = patron("regular")
    auth.login(parent.card, parent.password)
    for case in ("renewable", "hold-ready"):
        kid = patron(case)
        auth.post_form("/settings/links", "/settings/links", {"card_number": kid.card, "password": kid.password})
    with app.app_context():
        assert [link.linked_key for link in links_of(parent.key)] == [patron("renewable").key]
    app.extensions["shiori.adapter"].close()


def test_a_library_can_switch_linking_off(app_config, patron):
    from app import create_app
    from tests.conftest import AuthActions

    app_config["LINKED_CARDS_ENABLED"] = False
    app = create_app(app_config)
    client = app.test_client()
    auth = AuthActions(client)
    parent, kid = patron("regular"), patron("renewable")
    auth.login(parent.card, parent.password)
    assert 'href="/settings/links"' not in text(client.get("/settings"))
    auth.post_form("/settings", "/settings/links", {"card_number": kid.card, "password": kid.password})
    with app.app_context():
        assert links_of(parent.key) == []
    assert client.get("/loans?whose=all").status_code == 404
    app.extensions["shiori.adapter"].close()


def test_reason_for_a_linked_renewal_refusal_is_the_cards_own(auth, client, link, adapter, patron):
    link_id = link()
    reserved = next(loan for loan in adapter.loans(patron("renewable").key) if loan.forecast.reason is Reason.ON_HOLD)
    auth.post_form(f"/loans?whose={link_id}", "/loans/renew", {"whose": str(link_id), "loan": reserved.loan_id})
    assert "outcome--refused" in text(client.get(f"/loans?whose={link_id}"))


def test_a_password_reset_of_the_linked_card_removes_every_link(app, auth, client, link, links, patron):
    """The reset link (as if followed from the holder's mail) sets a new password: the links go."""
    from notifications.tokens import issue_reset_token

    link()
    auth.logout()
    kid = patron("renewable")
    with app.app_context():
        token = issue_reset_token(kid.key)
    path = f"/password/reset/{token}"
    response = auth.post_form(path, path, {"new": "resetpass2026", "confirm": "resetpass2026"})
    assert response.status_code == 302, text(response)
    assert links("P001") == []


def test_a_linked_card_the_ils_cannot_read_leaves_the_menu_calm(client, link, adapter, patron, monkeypatch):
    from adapters.errors import IlsUnavailable

    link()
    kid = patron("renewable")
    own_loans = adapter.loans

    def loans(patron_key):
        if patron_key == kid.key:
            raise IlsUnavailable("down for this card")
        return own_loans(patron_key)

    monkeypatch.setattr(adapter, "loans", loans)
    response = client.get("/")
    assert response.status_code == 200
    page = text(response)
    assert kid.name in page and 'class="linked-card"' in page
    assert "/loans?whose=" not in page  # no counts for the card that could not be read

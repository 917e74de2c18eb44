"""The API client may change any patron's loans and holds, so an id from a browser that is not the
logged-in patron's own must never reach Koha: proven on respx's record of every request sent."""

from __future__ import annotations

import json

import pytest

from adapters.errors import Refused
from adapters.models import HoldRequest, Reason


def touched(koha, object_id: str) -> list[tuple[str, str]]:
    """Every request whose path names ``object_id`` as a checkout or a hold."""
    return [(method, path) for method, path in koha.requests()
            if f"/checkouts/{object_id}" in path or f"/holds/{object_id}" in path]


@pytest.fixture
def victim(adapter, login):
    patron = login("english")
    return patron, adapter.loans(patron.key), adapter.holds(patron.key)


def test_another_patrons_loan_is_never_renewed_nor_asked_about(adapter, koha, login, victim):
    _, loans, _ = victim
    patron = login("regular")
    koha.reset_calls()
    foreign = [loan.loan_id for loan in loans]
    result = adapter.renew(patron.key, foreign)
    assert [(o.loan_id, o.renewed, o.reason) for o in result.outcomes] == [
        (loan_id, False, Reason.NOT_FOUND) for loan_id in foreign]
    for loan_id in foreign:
        assert touched(koha, loan_id) == []
    assert not koha.requests("POST")


def test_own_and_foreign_ids_mixed_only_the_own_reach_koha(adapter, koha, login, victim):
    _, loans, _ = victim
    patron = login("regular")
    own = adapter.loans(patron.key)
    koha.reset_calls()
    adapter.renew(patron.key, [own[0].loan_id, loans[0].loan_id])
    assert koha.requests("POST") == [("POST", f"/api/v1/checkouts/{own[0].loan_id}/renewal")]


def test_another_patrons_hold_is_never_cancelled(adapter, koha, login, victim):
    _, _, holds = victim
    patron = login("regular")
    koha.reset_calls()
    outcomes = adapter.cancel_holds(patron.key, [hold.hold_id for hold in holds])
    assert all((o.cancelled, o.reason) == (False, Reason.NOT_FOUND) for o in outcomes)
    assert not koha.requests("DELETE")
    for hold in holds:
        assert touched(koha, hold.hold_id) == []


@pytest.mark.parametrize("action", ["suspend", "resume", "pickup"])
def test_another_patrons_hold_is_never_suspended_resumed_or_moved(adapter, koha, login, victim, action):
    other, _, holds = victim
    patron = login("regular")
    koha.reset_calls()
    calls = {
        "suspend": lambda hold_id: adapter.suspend_hold(patron.key, hold_id),
        "resume": lambda hold_id: adapter.resume_hold(patron.key, hold_id),
        "pickup": lambda hold_id: adapter.change_pickup_location(patron.key, hold_id, "NORTH"),
    }
    for hold in holds:
        with pytest.raises(Refused) as refused:
            calls[action](hold.hold_id)
        assert refused.value.reason is Reason.NOT_FOUND
        assert touched(koha, hold.hold_id) == []
    assert adapter.holds(other.key) == holds


def test_own_hold_can_be_suspended_resumed_and_moved(adapter, login):
    patron = login("regular")
    hold = next(hold for hold in adapter.holds(patron.key) if hold.cancellable)
    assert adapter.suspend_hold(patron.key, hold.hold_id).status.value == "suspended"
    assert adapter.resume_hold(patron.key, hold.hold_id).status.value == "waiting"
    moved = adapter.change_pickup_location(patron.key, hold.hold_id, "SOUTH")
    assert moved.pickup_location is not None and moved.pickup_location.location_id == "SOUTH"


def test_a_hold_is_placed_for_the_logged_in_patron_only(adapter, koha, login, contract_ids):
    patron = login("regular")
    koha.reset_calls()
    adapter.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], "MAIN"))
    (call,) = [call for call in koha.router.calls if call.request.method == "POST"]
    assert json.loads(call.request.content)["patron_id"] == int(patron.key)
    pickup = [path for method, path in koha.requests("GET") if "pickup_locations" in path]
    assert pickup and all(call.request.url.params["patron_id"] == patron.key for call in koha.router.calls
                          if "pickup_locations" in call.request.url.path)


def test_ids_that_are_not_kohas_are_not_sent(adapter, koha, login):
    patron = login("regular")
    koha.reset_calls()
    outcomes = adapter.cancel_holds(patron.key, ["1 OR 1=1", "../patrons/2", "H1"])
    assert all(outcome.reason is Reason.NOT_FOUND for outcome in outcomes)
    assert not koha.requests("DELETE")

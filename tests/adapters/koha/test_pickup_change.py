"""Moving several of a patron's holds to another pickup library over PUT /holds/{id}/pickup_location,
offered only where the contract Koha serves has that route."""

from __future__ import annotations

import json

from adapters.koha.client import KohaFeatures
from adapters.models import Capability, HoldStatus, Reason


def test_several_holds_move_and_a_foreign_or_found_one_is_never_sent(adapter, koha, login, fake):
    other = login("many-loans")
    foreign = adapter.holds(other.key)[0]
    patron = login("hold-ready")
    holds = adapter.holds(patron.key)
    assert adapter.supports(Capability.CHANGE_PICKUP)
    koha.reset_calls()
    outcomes = adapter.change_pickup(patron.key, [hold.hold_id for hold in holds] + [foreign.hold_id], "SAKURA")
    by_id = {outcome.hold_id: outcome for outcome in outcomes}
    puts = koha.requests("PUT")
    movable = [hold for hold in holds if hold.status in (HoldStatus.WAITING, HoldStatus.SUSPENDED)]
    assert sorted(path for _, path in puts) == sorted(f"/api/v1/holds/{hold.hold_id}/pickup_location" for hold in movable
                                                      if hold.pickup_location.location_id != "SAKURA")
    for call in koha.router.calls:
        if call.request.method == "PUT":
            assert json.loads(call.request.content) == {"pickup_library_id": "SAKURA"}
    assert all(by_id[hold.hold_id].changed for hold in movable)
    assert all(by_id[hold.hold_id].reason is Reason.HOLD_FOUND for hold in holds if hold not in movable)
    assert by_id[foreign.hold_id].reason is Reason.NOT_FOUND
    after = {hold.hold_id: hold.pickup_location.location_id for hold in adapter.holds(patron.key)}
    assert all(after[hold.hold_id] == "SAKURA" for hold in movable)
    assert adapter.holds(other.key)[0] == foreign


def test_a_library_koha_refuses_is_an_invalid_pickup(adapter, login):
    patron = login("many-loans")
    hold = adapter.holds(patron.key)[0]
    (outcome,) = adapter.change_pickup(patron.key, [hold.hold_id], "NOWHERE")
    assert not outcome.changed and outcome.reason is Reason.INVALID_PICKUP


def test_the_capability_follows_the_served_contract():
    route = "/api/v1/holds/{hold_id}/pickup_location"
    served = {"basePath": "/api/v1", "paths": {route: {"put": {}}, "/api/v1/biblios": {"get": {}}}}
    assert KohaFeatures.from_spec(served).hold_pickup_change
    del served["paths"][route]
    assert not KohaFeatures.from_spec(served).hold_pickup_change
    assert KohaFeatures.from_version((22, 11)).hold_pickup_change  # every release Shiori supports has it

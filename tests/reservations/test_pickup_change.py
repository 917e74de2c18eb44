"""Changing the pickup location of placed holds: on the demo ILS, over SIP2 (15 "*", behind
SIP2_HOLD_PICKUP_CHANGE) against the demo SIP2 server, and through the holds page."""

from __future__ import annotations

import pytest

from adapters.demo.seed import BY_CASE
from adapters.errors import NotSupported, Refused
from adapters.models import Capability, HoldStatus, Reason
from adapters.sip2 import Sip2Adapter
from tests.adapters.sip2.conftest import sip2_config

HOLD_READY = BY_CASE["hold-ready"]
MANY = BY_CASE["many-loans"]


def pickup_of(adapter, patron_key: str) -> dict[str, str]:
    return {hold.hold_id: hold.pickup_location.location_id for hold in adapter.holds(patron_key)}


def test_demo_moves_waiting_holds_and_refuses_found_ones_with_the_reason(demo):
    holds = demo.holds(HOLD_READY.key)
    by_status = {hold.status: hold for hold in holds}
    waiting = by_status[HoldStatus.WAITING]
    foreign = demo.holds(MANY.key)[0]
    ids = [hold.hold_id for hold in holds] + [foreign.hold_id]
    outcomes = {o.hold_id: o for o in demo.change_pickup(HOLD_READY.key, ids, "SAKURA")}
    assert outcomes[waiting.hold_id].changed
    assert outcomes[by_status[HoldStatus.READY].hold_id].reason is Reason.HOLD_FOUND
    assert outcomes[by_status[HoldStatus.IN_TRANSIT].hold_id].reason is Reason.HOLD_FOUND
    assert outcomes[foreign.hold_id].reason is Reason.NOT_FOUND
    assert [o.hold_id for o in demo.change_pickup(HOLD_READY.key, ids, "SAKURA")] == ids  # one outcome each, in order
    after = pickup_of(demo, HOLD_READY.key)
    assert after[waiting.hold_id] == "SAKURA"
    assert after[by_status[HoldStatus.READY].hold_id] == by_status[HoldStatus.READY].pickup_location.location_id
    assert pickup_of(demo, MANY.key)[foreign.hold_id] == foreign.pickup_location.location_id  # never touched


def test_demo_refuses_an_unknown_branch(demo):
    hold = next(h for h in demo.holds(MANY.key) if h.pickup_location.location_id != "NOWHERE")
    (outcome,) = demo.change_pickup(MANY.key, [hold.hold_id], "NOWHERE")
    assert not outcome.changed and outcome.reason is Reason.INVALID_PICKUP
    assert pickup_of(demo, MANY.key)[hold.hold_id] == hold.pickup_location.location_id


def test_sip2_without_the_setting_does_not_offer_it(demo_sip2, demo):
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo))
    try:
        assert not adapter.supports(Capability.CHANGE_PICKUP)
        with pytest.raises(NotSupported):
            adapter.change_pickup(MANY.card, ["x"], "MAIN")
    finally:
        adapter.close()


def test_sip2_moves_several_holds_with_15_star(demo_sip2, demo):
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo, SIP2_HOLD_PICKUP_CHANGE=True))
    try:
        assert adapter.supports(Capability.CHANGE_PICKUP)
        holds = adapter.holds(MANY.card)[:3]
        target = "SAKURA"  # a waiting hold's pickup location is not told over SIP2: the demo shows it
        outcomes = adapter.change_pickup(MANY.card, [hold.hold_id for hold in holds] + ["I0001-1"], target)
        assert [o.changed for o in outcomes] == [True, True, True, False]
        assert outcomes[-1].reason is Reason.NOT_FOUND  # not the patron's: never sent
        moved = {hold.title: hold.pickup_location.location_id for hold in demo.holds(MANY.key)}
        assert all(moved[hold.title] == target for hold in holds)
        (refused,) = adapter.change_pickup(MANY.card, [holds[0].hold_id], "NOWHERE")
        assert refused.reason is Reason.INVALID_PICKUP
    finally:
        adapter.close()


def test_the_demo_sip2_server_answers_15_star_as_koha_does(demo_sip2, demo):
    """A hold the ACS no longer has: "No such outstanding hold." (Koha's alter_hold), read as NOT_FOUND."""
    adapter = Sip2Adapter.from_config(sip2_config(demo_sip2.port, demo, SIP2_HOLD_PICKUP_CHANGE=True))
    try:
        hold = adapter.holds(MANY.card)[0]
        demo.cancel_holds(MANY.key, [h.hold_id for h in demo.holds(MANY.key) if h.title == hold.title])
        with pytest.raises(Refused) as refused:
            adapter._change_pickup(MANY.card, hold, "MAIN")
        assert refused.value.reason is Reason.NOT_FOUND
    finally:
        adapter.close()


# --- the holds page --------------------------------------------------------------------------------


def test_the_holds_page_changes_all_and_reports_each_hold(auth, client, app):
    from tests.conftest import csrf_token

    auth.login(HOLD_READY.card, HOLD_READY.password)
    page = client.get("/holds").get_data(as_text=True)
    assert "受取館の変更" in page and 'name="pickup_location"' in page
    adapter = app.extensions["shiori.adapter"]
    before = adapter.holds(HOLD_READY.key)
    response = client.post("/holds/pickup", data={"csrf_token": csrf_token(page), "scope": "all",
                                                   "pickup_location": "SAKURA"})
    assert response.status_code == 302 and response.location == "/holds"
    page = client.get("/holds").get_data(as_text=True)
    assert "受取館変更の結果" in page
    assert "1件の予約の受取館を変更しました。" in page and "2件の予約は受取館を変更できませんでした。" in page
    assert "資料がすでに配送中か取置中のため、変更できません。" in page
    after = {hold.hold_id: hold.pickup_location.location_id for hold in adapter.holds(HOLD_READY.key)}
    for hold in before:
        expected = "SAKURA" if hold.status is HoldStatus.WAITING else hold.pickup_location.location_id
        assert after[hold.hold_id] == expected


def test_the_holds_page_refuses_a_foreign_hold_and_an_unknown_branch(auth, client, app):
    from tests.conftest import csrf_token

    adapter = app.extensions["shiori.adapter"]
    foreign = adapter.holds(MANY.key)[0]
    auth.login(HOLD_READY.card, HOLD_READY.password)
    token = csrf_token(client.get("/holds").get_data(as_text=True))
    client.post("/holds/pickup", data={"csrf_token": token, "hold": foreign.hold_id, "pickup_location": "SAKURA"})
    assert "あなたの貸出・予約の中に見つかりませんでした。" in client.get("/holds").get_data(as_text=True)
    assert adapter.holds(MANY.key)[0].pickup_location == foreign.pickup_location
    own = next(h for h in adapter.holds(HOLD_READY.key) if h.status is HoldStatus.WAITING)
    client.post("/holds/pickup", data={"csrf_token": token, "hold": own.hold_id, "pickup_location": "NOWHERE"})
    assert "受取館を選んでください。" in client.get("/holds").get_data(as_text=True)
    unchanged = next(h for h in adapter.holds(HOLD_READY.key) if h.hold_id == own.hold_id)
    assert unchanged.pickup_location == own.pickup_location


def test_the_holds_page_says_when_pickup_changes_are_not_possible(auth, client, app):
    demo_ils = app.extensions["shiori.adapter"].inner
    demo_ils.capabilities = demo_ils.capabilities - {Capability.CHANGE_PICKUP}
    auth.login(HOLD_READY.card, HOLD_READY.password)
    page = client.get("/holds").get_data(as_text=True)
    assert "予約後の受取館の変更をオンラインで受け付けていません" in page
    assert 'name="pickup_location"' not in page


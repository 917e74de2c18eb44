"""Suspending and resuming a hold (``IlsAdapter.suspend_hold``/``resume_hold`` -> the Koha adapter's
``_suspend_hold``/``_resume_hold``): ``POST``/``DELETE /holds/{id}/suspension``, after the base class
has checked the hold is the patron's own. Ownership across patrons is in test_ownership.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from adapters.errors import InvalidInput, Refused
from adapters.models import Capability, HoldStatus, Reason
from tests.adapters.koha.fake_koha import koha_error

API = "/api/v1"


def suspension_calls(koha) -> list[tuple[str, str]]:
    return [(method, path) for method, path in koha.requests() if path.endswith("/suspension")]


@pytest.fixture
def queued(adapter, login):
    """The regular patron and one of their holds still in the queue."""
    patron = login("regular")
    return patron, next(hold for hold in adapter.holds(patron.key) if hold.status is HoldStatus.WAITING)


def test_suspend_hold_is_declared(adapter):
    assert adapter.supports(Capability.SUSPEND_HOLD)


def test_suspend_until_a_date_and_resume(adapter, koha, fake, queued):
    patron, hold = queued
    until = fake.today + timedelta(days=14)
    koha.reset_calls()
    paused = adapter.suspend_hold(patron.key, hold.hold_id, until)
    assert (paused.hold_id, paused.status, paused.suspended_until) == (hold.hold_id, HoldStatus.SUSPENDED, until)
    (call,) = [call for call in koha.router.calls if call.request.url.path.endswith("/suspension")]
    assert (call.request.method, call.request.url.path) == ("POST", f"{API}/holds/{hold.hold_id}/suspension")
    assert json.loads(call.request.content) == {"end_date": until.isoformat()}
    assert fake.holds[int(hold.hold_id)]["suspended"] is True
    resumed = adapter.resume_hold(patron.key, hold.hold_id)
    assert (resumed.status, resumed.suspended_until) == (HoldStatus.WAITING, None)
    assert suspension_calls(koha)[-1] == ("DELETE", f"{API}/holds/{hold.hold_id}/suspension")


def test_suspend_without_an_end_date_sends_an_empty_body(adapter, koha, queued):
    patron, hold = queued
    koha.reset_calls()
    paused = adapter.suspend_hold(patron.key, hold.hold_id)
    assert paused.status is HoldStatus.SUSPENDED and paused.suspended_until is None
    (call,) = [call for call in koha.router.calls if call.request.url.path.endswith("/suspension")]
    assert json.loads(call.request.content) == {}


def test_a_hold_with_a_copy_set_aside_is_not_suspended_nor_is_koha_asked(adapter, koha, login):
    patron = login("hold-ready")
    ready = next(hold for hold in adapter.holds(patron.key) if hold.status is HoldStatus.READY)
    koha.reset_calls()
    with pytest.raises(Refused) as refused:
        adapter.suspend_hold(patron.key, ready.hold_id)
    assert refused.value.reason is Reason.NOT_CANCELLABLE
    assert suspension_calls(koha) == []


def test_an_end_date_not_in_the_future_is_invalid_and_not_sent(adapter, koha, fake, queued):
    patron, hold = queued
    koha.reset_calls()
    with pytest.raises(InvalidInput):
        adapter.suspend_hold(patron.key, hold.hold_id, fake.today)
    assert suspension_calls(koha) == []


def test_resuming_a_hold_that_is_not_suspended_asks_nothing(adapter, koha, queued):
    patron, hold = queued
    koha.reset_calls()
    assert adapter.resume_hold(patron.key, hold.hold_id) == hold
    assert suspension_calls(koha) == []


def test_kohas_refusal_is_refused(adapter, koha, queued):
    patron, hold = queued
    koha.fail("POST", f"{API}/holds/{hold.hold_id}/suspension", koha_error(400, "Found holds cannot be suspended"))
    with pytest.raises(Refused) as refused:
        adapter.suspend_hold(patron.key, hold.hold_id)
    assert refused.value.reason is Reason.OTHER


def test_a_hold_gone_meanwhile_is_not_found(adapter, koha, queued):
    patron, hold = queued
    koha.fail("DELETE", f"{API}/holds/{hold.hold_id}/suspension", koha_error(404, "Hold not found"))
    adapter.suspend_hold(patron.key, hold.hold_id)
    with pytest.raises(Refused) as refused:
        adapter.resume_hold(patron.key, hold.hold_id)
    assert refused.value.reason is Reason.NOT_FOUND


@pytest.mark.parametrize("hold_id", ["1 OR 1=1", "../patrons/2", "H1", "", "999999"])
def test_ids_that_are_not_the_patrons_never_reach_koha(adapter, koha, login, hold_id):
    patron = login("regular")
    koha.reset_calls()
    for action in (adapter.suspend_hold, adapter.resume_hold):
        with pytest.raises(Refused) as refused:
            action(patron.key, hold_id)
        assert refused.value.reason is Reason.NOT_FOUND
    assert suspension_calls(koha) == []
    assert not koha.requests("POST") and not koha.requests("DELETE")

"""The circuit breaker and maintenance windows in front of any adapter."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from adapters.errors import AuthenticationFailed, IlsUnavailable, NotSupported
from adapters.models import Capability
from adapters.resilience import CircuitBreaker, CircuitOpen, GuardedAdapter
from app import create_app
from config.loader import ConfigError
from config.maintenance import MaintenanceSchedule
from tests.conftest import AuthActions


class FlakyIls:
    """Stands in for an adapter: fails while ``down`` is set, counts the calls that reached it."""

    capabilities = frozenset(Capability)

    def __init__(self):
        self.down = True
        self.calls = 0

    def loans(self, patron_key):
        self.calls += 1
        if self.down:
            raise IlsUnavailable("connection refused")
        return []

    def authenticate(self, card, password):
        self.calls += 1
        raise AuthenticationFailed()

    def renew_all(self, patron_key):
        self.calls += 1
        return "renewed"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def guarded():
    clock = Clock()
    ils = FlakyIls()
    adapter = GuardedAdapter(ils, CircuitBreaker(threshold=3, reset_seconds=30, clock=clock))
    return adapter, ils, clock


def test_the_circuit_opens_after_repeated_failures_and_answers_at_once(guarded):
    adapter, ils, clock = guarded
    for _ in range(3):
        with pytest.raises(IlsUnavailable):
            adapter.loans("P1")
    assert ils.calls == 3 and adapter.breaker.is_open
    for _ in range(5):
        with pytest.raises(CircuitOpen):
            adapter.loans("P1")
    assert ils.calls == 3  # the ILS was not called again


def test_one_probe_after_the_pause_closes_the_circuit_when_the_ils_is_back(guarded):
    adapter, ils, clock = guarded
    for _ in range(3):
        with pytest.raises(IlsUnavailable):
            adapter.loans("P1")
    clock.now += 31
    ils.down = False
    assert adapter.loans("P1") == []
    assert not adapter.breaker.is_open


def test_a_failed_probe_keeps_it_open(guarded):
    adapter, ils, clock = guarded
    for _ in range(3):
        with pytest.raises(IlsUnavailable):
            adapter.loans("P1")
    clock.now += 31
    with pytest.raises(IlsUnavailable):
        adapter.loans("P1")  # the probe reaches the ILS and fails
    assert ils.calls == 4
    with pytest.raises(CircuitOpen):
        adapter.loans("P1")
    assert ils.calls == 4


def test_a_refusal_is_an_answer_not_a_failure(guarded):
    adapter, ils, clock = guarded
    for _ in range(10):
        with pytest.raises(AuthenticationFailed):
            adapter.authenticate("1", "x")
    assert not adapter.breaker.is_open


def test_the_observer_sees_every_call_with_its_outcome(guarded):
    adapter, ils, clock = guarded
    seen = []
    adapter.observer = lambda operation, seconds, outcome: seen.append((operation, outcome))
    with pytest.raises(IlsUnavailable):
        adapter.loans("P1")
    with pytest.raises(AuthenticationFailed):
        adapter.authenticate("1", "x")
    assert seen == [("loans", "unavailable"), ("authenticate", "AuthenticationFailed")]


ZONE = ZoneInfo("Asia/Tokyo")
WINDOW = {"start": "2026-12-28T17:00", "end": "2027-01-04T09:00", "disable": ["renewals"],
          "message": {"ja": "年末年始は延長を休止しています。", "en": "Renewals are paused over the new year."}}


def schedule_at(moment: datetime) -> MaintenanceSchedule:
    config = {"BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo", "MAINTENANCE_WINDOWS": [WINDOW]}
    return MaintenanceSchedule.from_config(config, clock=lambda: moment)


def test_a_maintenance_window_switches_renewals_off_only_while_it_lasts():
    inside = schedule_at(datetime(2026, 12, 30, 12, 0, tzinfo=ZONE))
    before = schedule_at(datetime(2026, 12, 28, 16, 59, tzinfo=ZONE))
    assert inside.disabled_now() == {Capability.RENEW, Capability.RENEW_ALL}
    assert before.disabled_now() == frozenset()
    adapter = GuardedAdapter(FlakyIls(), disabled_now=inside.disabled_now)
    assert not adapter.supports(Capability.RENEW) and adapter.supports(Capability.PLACE_HOLD)
    with pytest.raises(NotSupported):
        adapter.renew_all("P1")
    assert adapter.inner.calls == 0
    assert inside.messages("en") == ["Renewals are paused over the new year."]


@pytest.mark.parametrize("entry", [{"start": "x", "end": "y", "disable": []}, {**WINDOW, "disable": ["flying"]},
                                   {**WINDOW, "end": "2026-12-01T00:00"}])
def test_a_malformed_window_stops_start_up(app_config, entry):
    app_config["MAINTENANCE_WINDOWS"] = [entry]
    with pytest.raises(ConfigError):
        create_app(app_config)


def test_during_maintenance_the_pages_say_so_and_offer_no_renewal(app_config):
    now = datetime.now(ZONE)
    app_config["MAINTENANCE_WINDOWS"] = [
        {**WINDOW, "start": (now.replace(year=now.year - 1)).strftime("%Y-%m-%dT%H:%M"),
         "end": (now.replace(year=now.year + 1)).strftime("%Y-%m-%dT%H:%M")}
    ]
    app = create_app(app_config)
    client = app.test_client()
    actions = AuthActions(client)
    actions.login("2000000001", "yamada2024")
    page = client.get("/loans").get_data(as_text=True)
    assert "年末年始は延長を休止しています。" in page
    assert 'value="selected"' not in page and 'name="loan"' not in page
    before = app.extensions["shiori.adapter"].loans("P001")
    response = actions.post_form("/loans", "/loans/renew", {"action": "all"})
    assert response.status_code == 501
    assert app.extensions["shiori.adapter"].loans("P001") == before

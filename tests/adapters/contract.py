"""The adapter contract as tests: what every ILS adapter promises the portal, whatever the ILS.

Use it from ``tests/adapters/<name>/test_contract.py``::

    from tests.adapters.contract import AdapterContract

    class TestContract(AdapterContract):
        pass

and provide these fixtures in that folder's ``conftest.py`` (each test gets fresh state):

``adapter``
    The adapter under test, on a library whose state no other test has changed.
``contract_patrons``
    ``{case: (card_number, password)}`` for these cases:

    - ``regular``: has loans, at least one renewable now and at least one that is not
      (too soon, or refused for a reason); has no hold on ``holdable_record``.
    - ``hold-ready``: has holds, at least one READY for pickup.
    - ``first-login``: must change the initial password.
    - ``blocked``: logs in but is blocked (e.g. expired card); has at least one loan.
    - ``other``: a second patron with loans and holds, for the ownership checks.
``contract_ids``
    ``{"holdable_record": ..., "holdable_item": ..., "unknown_record": ..., "unknown_card": ..., "query": ...}``:
    a record with every copy on loan and no holds queued, whose copy ``holdable_item`` is on loan;
    a record id and a card number the ILS does not know; a search that finds ``holdable_record``.
``ils_control``
    The library's side, which differs per ILS: ``checkin(item_id)`` returns a copy at its home branch.

A test of an optional operation is skipped only when the adapter does not declare its capability.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from adapters.base import IlsAdapter
from adapters.errors import AuthenticationFailed, NotSupported, RecordNotFound, Refused
from adapters.models import (
    AccountBlock,
    AccountSummary,
    CancelOutcome,
    Capability,
    Hold,
    HoldRequest,
    HoldStatus,
    Loan,
    Patron,
    PickupLocation,
    Reason,
    Record,
    RenewalForecast,
    RenewalOutcome,
    RenewalResult,
    RenewalStatus,
    SearchResult,
)

HOLD_ORDER = {HoldStatus.READY: 0, HoldStatus.IN_TRANSIT: 1, HoldStatus.WAITING: 2, HoldStatus.SUSPENDED: 2,
              HoldStatus.UNKNOWN: 2}
CASES = ("regular", "hold-ready", "first-login", "blocked", "other")


def needs(adapter: IlsAdapter, *capabilities: Capability) -> None:
    missing = [capability.value for capability in capabilities if not adapter.supports(capability)]
    if missing:
        pytest.skip(f"{adapter.name} does not declare {', '.join(missing)}")


def _due_key(loan: Loan) -> tuple[bool, date]:
    return (loan.due_date is None, loan.due_date or date.max)


class AdapterContract:
    """Every test of the contract; subclass it where the fixtures above are defined."""

    @pytest.fixture
    def login(self, adapter: IlsAdapter, contract_patrons) -> Callable[[str], Patron]:
        def login(case: str) -> Patron:
            card, password = contract_patrons[case]
            return adapter.authenticate(card, password)

        return login

    # --- the adapter itself ---------------------------------------------------------------

    def test_declares_name_and_capabilities(self, adapter):
        assert isinstance(adapter, IlsAdapter)
        assert isinstance(adapter.name, str) and adapter.name
        assert all(isinstance(capability, Capability) for capability in adapter.capabilities)
        assert Capability.LOANS in adapter.capabilities
        assert isinstance(adapter.today(), date)
        adapter.check_ready()

    def test_undeclared_capabilities_raise_not_supported(self, adapter, login, contract_ids):
        patron = login("regular")
        request = HoldRequest(contract_ids["holdable_record"], "x")
        calls = {
            Capability.RENEW: lambda: adapter.renew(patron.key, []),
            Capability.RENEW_ALL: lambda: adapter.renew_all(patron.key),
            Capability.HOLDS: lambda: adapter.holds(patron.key),
            Capability.PLACE_HOLD: lambda: adapter.place_hold(patron.key, request),
            Capability.CANCEL_HOLD: lambda: adapter.cancel_holds(patron.key, []),
            Capability.CATALOG_SEARCH: lambda: adapter.search("a"),
            Capability.RECORD_DETAILS: lambda: adapter.record(contract_ids["holdable_record"]),
        }
        for capability, call in calls.items():
            if not adapter.supports(capability):
                with pytest.raises(NotSupported):
                    call()

    # --- logging in -----------------------------------------------------------------------

    def test_every_case_authenticates(self, login):
        patrons = {case: login(case) for case in CASES}
        for patron in patrons.values():
            assert isinstance(patron, Patron)
            assert isinstance(patron.key, str) and patron.key
            assert patron.card_number and patron.display_name
            assert isinstance(patron.blocks, tuple)
            assert all(isinstance(block, AccountBlock) for block in patron.blocks)
        assert len({patron.key for patron in patrons.values()}) == len(CASES)

    def test_wrong_credentials_fail_alike(self, adapter, contract_patrons, contract_ids):
        card, password = contract_patrons["regular"]
        failures = []
        for attempt in ((card, password + "x"), (card, ""), (contract_ids["unknown_card"], password)):
            with pytest.raises(AuthenticationFailed) as caught:
                adapter.authenticate(*attempt)
            failures.append(caught.value)
        assert len({(type(exc), str(exc)) for exc in failures}) == 1, "the error must not say which was wrong"
        assert card not in str(failures[0]) and password not in str(failures[0])

    def test_patron_is_looked_up_by_key(self, adapter, login):
        patron = login("other")
        again = adapter.patron(patron.key)
        assert (again.key, again.card_number, again.display_name) == (patron.key, patron.card_number,
                                                                       patron.display_name)
        adapter.end_session(patron.key)

    def test_first_login_must_change_password(self, adapter, login):
        if not adapter.supports(Capability.CHANGE_PASSWORD):
            # An ILS the portal cannot change passwords in (SIP2) cannot say a change is due either;
            # and it must not: the patron would be held on a page that cannot be completed.
            assert not any(login(case).must_change_password for case in ("first-login", "regular"))
            return
        assert login("first-login").must_change_password is True
        assert login("regular").must_change_password is False

    def test_change_password(self, adapter, login, contract_patrons):
        needs(adapter, Capability.CHANGE_PASSWORD)
        card, initial = contract_patrons["first-login"]
        patron = login("first-login")
        with pytest.raises(AuthenticationFailed):
            adapter.change_password(patron.key, initial + "wrong", "Contract2024x")
        adapter.change_password(patron.key, initial, "Contract2024x")
        changed = adapter.authenticate(card, "Contract2024x")
        assert changed.key == patron.key and changed.must_change_password is False
        with pytest.raises(AuthenticationFailed):
            adapter.authenticate(card, initial)

    def test_find_patron_and_set_password(self, adapter, login, contract_patrons, contract_ids):
        needs(adapter, Capability.SET_PASSWORD)
        card, _ = contract_patrons["other"]
        patron = login("other")
        found = adapter.find_patron(card)
        assert found is not None and found.key == patron.key
        assert adapter.find_patron(contract_ids["unknown_card"]) is None
        adapter.set_password(patron.key, "Reset2024xyz")
        assert adapter.authenticate(card, "Reset2024xyz").key == patron.key

    def test_blocked_patron_sees_blocks(self, login):
        assert login("blocked").blocks

    def test_account_summary_agrees_with_lists(self, adapter, login):
        for case in ("regular", "hold-ready"):
            patron = login(case)
            summary = adapter.account_summary(patron.key)
            assert isinstance(summary, AccountSummary)
            loans = adapter.loans(patron.key)
            assert (summary.loans, summary.overdue) == (len(loans), sum(loan.overdue for loan in loans))
            if adapter.supports(Capability.HOLDS):
                holds = adapter.holds(patron.key)
                ready = sum(hold.status is HoldStatus.READY for hold in holds)
                assert (summary.holds, summary.holds_ready) == (len(holds), ready)
            assert isinstance(summary.fines, Decimal) and summary.fines >= 0

    # --- loans and renewals ---------------------------------------------------------------

    def test_loans_are_well_formed(self, adapter, login):
        today = adapter.today()
        for case in ("regular", "other"):
            loans = adapter.loans(login(case).key)
            assert loans, f"the {case} patron needs loans"
            assert all(isinstance(loan, Loan) for loan in loans)
            assert len({loan.loan_id for loan in loans}) == len(loans)
            assert loans == sorted(loans, key=_due_key), "soonest due first"
            for loan in loans:
                assert loan.title and loan.item_id
                assert isinstance(loan.forecast, RenewalForecast)
                if loan.due_date is not None:
                    assert loan.overdue is (loan.due_date < today)
                if loan.forecast.status is RenewalStatus.NOT_YET:
                    assert loan.forecast.available_from is not None and loan.forecast.available_from > today

    def test_renew_a_renewable_loan(self, adapter, login):
        needs(adapter, Capability.RENEW)
        patron = login("regular")
        loans = adapter.loans(patron.key)
        candidates = [loan for loan in loans if loan.forecast.status is RenewalStatus.RENEWABLE] or [
            loan for loan in loans if loan.forecast.status is RenewalStatus.UNKNOWN  # the ILS cannot say before
        ]
        assert candidates, "the regular patron needs a loan renewable now"
        loan = candidates[0]
        result = adapter.renew(patron.key, [loan.loan_id])
        assert isinstance(result, RenewalResult)
        (outcome,) = result.outcomes
        assert isinstance(outcome, RenewalOutcome)
        assert (outcome.loan_id, outcome.renewed, outcome.reason) == (loan.loan_id, True, None)
        assert result.renewed_count == 1
        after = {current.loan_id: current for current in adapter.loans(patron.key)}[loan.loan_id]
        if outcome.new_due_date is not None:
            assert after.due_date == outcome.new_due_date
        assert after.due_date is None or loan.due_date is None or after.due_date >= loan.due_date

    def test_refused_renewals_say_why(self, adapter, login):
        needs(adapter, Capability.RENEW)
        patron = login("regular")
        loans = adapter.loans(patron.key)
        known = [loan for loan in loans if loan.forecast.status in (RenewalStatus.NOT_YET, RenewalStatus.NOT_RENEWABLE)]
        targets = known or [loan for loan in loans if loan.forecast.status is RenewalStatus.UNKNOWN]
        result = adapter.renew(patron.key, [loan.loan_id for loan in targets])
        refused = [outcome for outcome in result.outcomes if not outcome.renewed]
        assert refused, "the regular patron needs a loan that cannot be renewed now"
        assert all(isinstance(outcome.reason, Reason) for outcome in refused)
        outcomes = {outcome.loan_id: outcome for outcome in result.outcomes}
        for loan in known:  # a forecast must agree with what renewing then does
            outcome = outcomes[loan.loan_id]
            assert outcome.renewed is False
            if loan.forecast.status is RenewalStatus.NOT_YET:
                assert outcome.reason is Reason.TOO_SOON
            elif loan.forecast.reason is not None:
                assert outcome.reason is loan.forecast.reason

    def test_renew_answers_once_per_requested_id_and_guards_ownership(self, adapter, login):
        needs(adapter, Capability.RENEW)
        patron, other = login("regular"), login("other")
        own = [loan.loan_id for loan in adapter.loans(patron.key)]
        others_before = adapter.loans(other.key)
        foreign = others_before[0].loan_id
        result = adapter.renew(patron.key, [*own, foreign, "no-such-loan", own[0]])
        ids = [outcome.loan_id for outcome in result.outcomes]
        assert sorted(ids) == sorted({*own, foreign, "no-such-loan"})
        for outcome in result.outcomes:
            if outcome.loan_id in (foreign, "no-such-loan"):
                assert (outcome.renewed, outcome.reason) == (False, Reason.NOT_FOUND)
        assert adapter.loans(other.key) == others_before

    def test_renew_all_covers_every_loan(self, adapter, login):
        needs(adapter, Capability.RENEW_ALL)
        patron = login("regular")
        loans = adapter.loans(patron.key)
        result = adapter.renew_all(patron.key)
        assert sorted(outcome.loan_id for outcome in result.outcomes) == sorted(loan.loan_id for loan in loans)
        assert result.renewed_count >= 1
        assert all(outcome.renewed or isinstance(outcome.reason, Reason) for outcome in result.outcomes)

    def test_blocked_patron_cannot_renew(self, adapter, login):
        needs(adapter, Capability.RENEW)
        patron = login("blocked")
        loans = adapter.loans(patron.key)
        assert loans, "the blocked patron needs a loan"
        result = adapter.renew(patron.key, [loan.loan_id for loan in loans])
        assert len(result.outcomes) == len(loans)
        assert not any(outcome.renewed for outcome in result.outcomes)
        assert result.blocks or all(outcome.reason is Reason.ACCOUNT_BLOCKED for outcome in result.outcomes)

    # --- holds ----------------------------------------------------------------------------

    def test_holds_are_well_formed_and_ordered(self, adapter, login):
        needs(adapter, Capability.HOLDS)
        holds = adapter.holds(login("hold-ready").key)
        assert all(isinstance(hold, Hold) for hold in holds)
        assert len({hold.hold_id for hold in holds}) == len(holds)
        ranks = [HOLD_ORDER[hold.status] for hold in holds]
        assert ranks == sorted(ranks), "ready first, then in transit, then waiting"
        ready = [hold for hold in holds if hold.status is HoldStatus.READY]
        assert ready, "the hold-ready patron needs a hold ready for pickup"
        assert all(hold.pickup_deadline is not None for hold in ready)
        for hold in holds:
            assert hold.title
            assert hold.queue_position is None or hold.queue_position >= 1

    def test_pickup_locations(self, adapter, login):
        needs(adapter, Capability.PLACE_HOLD)
        locations = adapter.pickup_locations(login("regular").key)
        assert locations and all(isinstance(location, PickupLocation) for location in locations)
        assert all(location.location_id and location.name for location in locations)
        assert len({location.location_id for location in locations}) == len(locations)

    def test_place_and_cancel_a_hold(self, adapter, login, contract_ids):
        needs(adapter, Capability.HOLDS, Capability.PLACE_HOLD, Capability.CANCEL_HOLD)
        patron = login("regular")
        record_id = contract_ids["holdable_record"]
        pickup = adapter.pickup_locations(patron.key, record_id)[0]
        hold = adapter.place_hold(patron.key, HoldRequest(record_id, pickup.location_id))
        assert isinstance(hold, Hold) and hold.record_id in (None, record_id)
        assert hold.status is HoldStatus.WAITING and hold.cancellable
        assert hold.hold_id in {current.hold_id for current in adapter.holds(patron.key)}
        with pytest.raises(Refused) as again:
            adapter.place_hold(patron.key, HoldRequest(record_id, pickup.location_id))
        assert again.value.reason is Reason.ALREADY_HELD
        (outcome,) = adapter.cancel_holds(patron.key, [hold.hold_id])
        assert isinstance(outcome, CancelOutcome)
        assert (outcome.hold_id, outcome.cancelled) == (hold.hold_id, True)
        assert hold.hold_id not in {current.hold_id for current in adapter.holds(patron.key)}

    def test_hold_refusals(self, adapter, login, contract_ids):
        needs(adapter, Capability.PLACE_HOLD)
        patron = login("regular")
        pickup = adapter.pickup_locations(patron.key)[0].location_id
        with pytest.raises(RecordNotFound):
            adapter.place_hold(patron.key, HoldRequest(contract_ids["unknown_record"], pickup))
        with pytest.raises(Refused) as invalid:
            adapter.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], "no-such-branch"))
        assert invalid.value.reason is Reason.INVALID_PICKUP
        on_loan = next(loan.record_id for loan in adapter.loans(patron.key) if loan.record_id)
        with pytest.raises(Refused) as loaned:
            adapter.place_hold(patron.key, HoldRequest(on_loan, pickup))
        assert loaned.value.reason is Reason.ALREADY_ON_LOAN

    def test_blocked_patron_cannot_place_a_hold(self, adapter, login, contract_ids):
        needs(adapter, Capability.PLACE_HOLD)
        patron = login("blocked")
        pickup = adapter.pickup_locations(patron.key)[0].location_id
        with pytest.raises(Refused) as refused:
            adapter.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], pickup))
        assert refused.value.reason is Reason.ACCOUNT_BLOCKED

    def test_cancel_guards_ownership(self, adapter, login):
        needs(adapter, Capability.HOLDS, Capability.CANCEL_HOLD)
        patron, other = login("regular"), login("other")
        others_before = adapter.holds(other.key)
        assert others_before, "the other patron needs a hold"
        foreign = others_before[0].hold_id
        outcomes = adapter.cancel_holds(patron.key, [foreign, "no-such-hold", foreign])
        assert [(o.hold_id, o.cancelled, o.reason) for o in outcomes] == [
            (foreign, False, Reason.NOT_FOUND), ("no-such-hold", False, Reason.NOT_FOUND)]
        assert adapter.holds(other.key) == others_before

    def test_cancel_honours_the_cancellable_flag(self, adapter, login):
        needs(adapter, Capability.HOLDS, Capability.CANCEL_HOLD)
        patron = login("hold-ready")
        holds = adapter.holds(patron.key)
        outcomes = adapter.cancel_holds(patron.key, [hold.hold_id for hold in holds])
        assert [outcome.hold_id for outcome in outcomes] == [hold.hold_id for hold in holds]
        for hold, outcome in zip(holds, outcomes, strict=True):
            assert outcome.cancelled is hold.cancellable
            assert outcome.cancelled or isinstance(outcome.reason, Reason)
        assert {hold.hold_id for hold in adapter.holds(patron.key)} == {h.hold_id for h in holds if not h.cancellable}

    def test_a_returned_copy_goes_to_the_first_hold(self, adapter, login, contract_ids, ils_control):
        needs(adapter, Capability.HOLDS, Capability.PLACE_HOLD)
        patron = login("regular")
        pickup = adapter.pickup_locations(patron.key)[0].location_id
        hold = adapter.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], pickup))
        assert hold.status is HoldStatus.WAITING and hold.queue_position in (None, 1)
        ils_control.checkin(contract_ids["holdable_item"])
        after = {current.hold_id: current for current in adapter.holds(patron.key)}[hold.hold_id]
        assert after.status in (HoldStatus.READY, HoldStatus.IN_TRANSIT)
        if after.status is HoldStatus.READY:
            assert after.pickup_deadline is not None and after.pickup_deadline >= adapter.today()

    def test_suspend_passes_a_hold_over_until_resumed(self, adapter, login, contract_ids, ils_control):
        needs(adapter, Capability.HOLDS, Capability.PLACE_HOLD, Capability.SUSPEND_HOLD)
        patron = login("regular")
        pickup = adapter.pickup_locations(patron.key)[0].location_id
        hold = adapter.place_hold(patron.key, HoldRequest(contract_ids["holdable_record"], pickup))
        paused = adapter.suspend_hold(patron.key, hold.hold_id)
        assert (paused.hold_id, paused.status) == (hold.hold_id, HoldStatus.SUSPENDED)
        assert {h.hold_id: h for h in adapter.holds(patron.key)}[hold.hold_id].status is HoldStatus.SUSPENDED
        resumed = adapter.resume_hold(patron.key, hold.hold_id)
        assert resumed.status is HoldStatus.WAITING
        adapter.suspend_hold(patron.key, hold.hold_id)
        ils_control.checkin(contract_ids["holdable_item"])  # a suspended hold is not filled
        assert {h.hold_id: h for h in adapter.holds(patron.key)}[hold.hold_id].status is HoldStatus.SUSPENDED

    def test_suspend_and_resume_guard_ownership(self, adapter, login):
        needs(adapter, Capability.HOLDS, Capability.SUSPEND_HOLD)
        patron, other = login("regular"), login("other")
        others_before = adapter.holds(other.key)
        for action in (adapter.suspend_hold, adapter.resume_hold):
            for hold_id in [others_before[0].hold_id, "no-such-hold"]:
                with pytest.raises(Refused) as refused:
                    action(patron.key, hold_id)
                assert refused.value.reason is Reason.NOT_FOUND
        assert adapter.holds(other.key) == others_before

    # --- catalogue ------------------------------------------------------------------------

    def test_search_finds_the_record_and_pages(self, adapter, contract_ids):
        needs(adapter, Capability.CATALOG_SEARCH)
        result = adapter.search(contract_ids["query"], page=1, per_page=50)
        assert isinstance(result, SearchResult) and (result.page, result.per_page) == (1, 50)
        assert all(isinstance(record, Record) for record in result.records)
        assert contract_ids["holdable_record"] in {record.record_id for record in result.records}
        assert result.total >= len(result.records) >= 1
        first, second = adapter.search("a", page=1, per_page=1), adapter.search("a", page=2, per_page=1)
        assert len(first.records) <= 1 and first.total == second.total
        if first.total >= 2:
            assert first.records[0].record_id != second.records[0].record_id

    def test_record_details(self, adapter, contract_ids):
        needs(adapter, Capability.RECORD_DETAILS)
        record = adapter.record(contract_ids["holdable_record"])
        assert isinstance(record, Record) and record.record_id == contract_ids["holdable_record"] and record.title
        if record.copies is not None and record.available is not None:
            assert 0 <= record.available <= record.copies
        with pytest.raises(RecordNotFound):
            adapter.record(contract_ids["unknown_record"])

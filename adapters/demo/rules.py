"""The demo ILS's circulation rules, as pure functions of dates and counts (easy to test alone).

They follow common Japanese public-library practice: one renewal per loan, none while another
patron waits for the book or while the patron has anything overdue, and only in the last days
before the due date; a renewal runs from the day it is made, not from the old due date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from adapters.models import BlockCode, Reason, RenewalForecast, RenewalStatus

#: blocks that stop renewals and new holds altogether (Reason.ACCOUNT_BLOCKED)
RESTRICTING_BLOCKS = frozenset(
    {BlockCode.CARD_EXPIRED, BlockCode.CARD_LOST, BlockCode.FINES_OVER_LIMIT, BlockCode.RESTRICTED}
)
#: blocks that stop renewals (an overdue loan stops them with Reason.PATRON_HAS_OVERDUE, not holds)
RENEWAL_BLOCKS = RESTRICTING_BLOCKS | {BlockCode.OVERDUE_LOANS}


@dataclass(frozen=True)
class DemoRules:
    """The DEMO_* settings (plus DUE_SOON_DAYS), with the defaults of ``config/defaults.py``."""

    renewal_window_days: int = 7
    renewal_period_days: int = 14
    max_renewals: int = 1
    max_holds: int = 10
    loan_period_days: int = 14
    hold_shelf_days: int = 7
    due_soon_days: int = 3
    fine_limit: Decimal = Decimal(1000)  # JPY; owing more than this blocks the account

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DemoRules:
        def number(key: str, default: int) -> int:
            value = config.get(key)
            return default if value is None or value == "" else int(value)

        base = cls()
        return cls(
            renewal_window_days=number("DEMO_RENEWAL_WINDOW_DAYS", base.renewal_window_days),
            renewal_period_days=number("DEMO_RENEWAL_PERIOD_DAYS", base.renewal_period_days),
            max_renewals=number("DEMO_MAX_RENEWALS", base.max_renewals),
            max_holds=number("DEMO_MAX_HOLDS", base.max_holds),
            loan_period_days=number("DEMO_LOAN_PERIOD_DAYS", base.loan_period_days),
            hold_shelf_days=number("DEMO_HOLD_SHELF_DAYS", base.hold_shelf_days),
            due_soon_days=number("DUE_SOON_DAYS", base.due_soon_days),
            fine_limit=Decimal(str(config.get("DEMO_FINE_LIMIT") or base.fine_limit)),
        )

    # --- loans ----------------------------------------------------------------------------

    def is_overdue(self, due: date, today: date) -> bool:
        return due < today

    def is_due_soon(self, due: date, today: date) -> bool:
        return today <= due <= today + timedelta(days=self.due_soon_days)

    def renewal_opens(self, due: date) -> date:
        return due - timedelta(days=self.renewal_window_days)

    def renewal_forecast(
        self,
        *,
        today: date,
        due: date,
        renewals_used: int,
        patron_has_overdue: bool,
        others_waiting: bool,
        account_blocked: bool = False,
    ) -> RenewalForecast:
        """Whether a renewal tried today would succeed; the first rule that refuses wins."""
        reason = self.renewal_refusal(
            renewals_used=renewals_used,
            patron_has_overdue=patron_has_overdue,
            others_waiting=others_waiting,
            account_blocked=account_blocked,
        )
        if reason is not None:
            return RenewalForecast(RenewalStatus.NOT_RENEWABLE, reason=reason)
        if today < self.renewal_opens(due):
            opens = self.renewal_opens(due)
            return RenewalForecast(RenewalStatus.NOT_YET, available_from=opens, reason=Reason.TOO_SOON)
        return RenewalForecast(RenewalStatus.RENEWABLE)

    def renewal_refusal(
        self, *, renewals_used: int, patron_has_overdue: bool, others_waiting: bool, account_blocked: bool = False
    ) -> Reason | None:
        """The lasting reasons a loan cannot be renewed (the date window aside)."""
        if account_blocked:
            return Reason.ACCOUNT_BLOCKED
        if patron_has_overdue:
            return Reason.PATRON_HAS_OVERDUE
        if renewals_used >= self.max_renewals:
            return Reason.TOO_MANY_RENEWALS
        if others_waiting:
            return Reason.ON_HOLD
        return None

    def renewed_due_date(self, due: date, today: date) -> date:
        """A renewal runs ``renewal_period_days`` from today; it never shortens the loan."""
        return max(due, today + timedelta(days=self.renewal_period_days))

    # --- holds ----------------------------------------------------------------------------

    def hold_refusal(
        self,
        *,
        account_blocked: bool,
        pickup_valid: bool,
        already_on_loan: bool,
        already_held: bool,
        holds_count: int,
    ) -> Reason | None:
        """Why a new hold would be refused, or None. The record's existence is checked before."""
        if account_blocked:
            return Reason.ACCOUNT_BLOCKED
        if not pickup_valid:
            return Reason.INVALID_PICKUP
        if already_on_loan:
            return Reason.ALREADY_ON_LOAN
        if already_held:
            return Reason.ALREADY_HELD
        if holds_count >= self.max_holds:
            return Reason.TOO_MANY_HOLDS
        return None

    def pickup_deadline(self, ready_on: date) -> date:
        return ready_on + timedelta(days=self.hold_shelf_days)

    # --- the account ----------------------------------------------------------------------

    def blocks(
        self,
        *,
        today: date,
        card_expires: date | None,
        card_lost: bool,
        restricted: bool,
        fines: Decimal,
        overdue_loans: int,
        holds_count: int,
    ) -> tuple[BlockCode, ...]:
        """The account-level blocks, most serious first."""
        codes = []
        if card_lost:
            codes.append(BlockCode.CARD_LOST)
        if card_expires is not None and card_expires < today:
            codes.append(BlockCode.CARD_EXPIRED)
        if restricted:
            codes.append(BlockCode.RESTRICTED)
        if fines > self.fine_limit:
            codes.append(BlockCode.FINES_OVER_LIMIT)
        if overdue_loans:
            codes.append(BlockCode.OVERDUE_LOANS)
        if holds_count >= self.max_holds:
            codes.append(BlockCode.TOO_MANY_HOLDS)
        return tuple(codes)

    @staticmethod
    def restricts(codes: tuple[BlockCode, ...]) -> bool:
        """Whether these blocks refuse renewals and holds with ACCOUNT_BLOCKED."""
        return any(code in RESTRICTING_BLOCKS for code in codes)

"""The patron's account: their record and blocks, and the menu's counts and fines, from a 64.

A 64 read in the last few seconds is used again (the login's, for the menu that follows it; the
loans page's, for the patron it shows beside them). Account blocks come from the patron status
flags; fines from the fee amount (BV). SIP2 cannot store an email address: that capability is
never declared.
"""

from __future__ import annotations

from adapters.errors import InvalidInput
from adapters.models import AccountSummary, HoldStatus, Patron
from adapters.sip2 import mapping
from adapters.sip2.core import Sip2Core
from adapters.sip2.profiles import ALL
from adapters.sip2.responses import PatronInformation
from adapters.validation import normalize_card_number


class AccountMixin(Sip2Core):
    """``patron``, ``find_patron`` and ``account_summary``."""

    def _status(self, patron_key: str, action: str) -> tuple[PatronInformation, bool]:
        """The patron's 64 read in the last few seconds, else a fresh one; and whether it is fresh."""
        with self._lock:
            recent = self._recent.get(patron_key)
        if recent is not None and recent.valid_patron is not False:
            return recent, False
        with self._edge(action, patron_key):
            return self._known_patron(patron_key), True

    def patron(self, patron_key: str) -> Patron:
        """From a 64 read in the last few seconds (the loans page reads the loans, then the patron)."""
        return mapping.patron_from_status(patron_key, self._status(patron_key, "patron")[0],
                                          self.options.profile.ignored_flags)

    def find_patron(self, card_number: str) -> Patron | None:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            return None
        with self._edge("find patron", card):
            info = self._patron_information(card)
        found = info.valid_patron if info.valid_patron is not None else bool((info.personal_name or "").strip())
        return mapping.patron_from_status(card, info, self.options.profile.ignored_flags) if found else None

    def hold_limit(self, patron_key: str) -> int | None:
        """BZ (hold items limit) of the patron's 64, where the ACS sends it (the reservation basket's size)."""
        info, _fresh = self._status(patron_key, "hold limit")
        return info.hold_items_limit

    def account_summary(self, patron_key: str) -> AccountSummary:
        """One 63 (or the one read in the last few seconds: the login's, for the menu that follows
        it): counts from its fixed fields, fines from BV. A count the ACS leaves blank (FOLIO's
        unavailable holds) is counted from the list instead."""
        info, fresh = self._status(patron_key, "account summary")
        if fresh:
            self._prefetch_loans(patron_key)  # the menu is where a patron goes next to the loans
        loans, overdue = info.charged_items_count, info.overdue_items_count
        if loans is None or overdue is None:
            current = self.loans(patron_key)
            loans, overdue = len(current), sum(loan.overdue for loan in current)
        profile = self.options.profile
        listed, unavailable = info.hold_items_count, info.unavailable_holds_count
        if listed is None or unavailable is None or not profile.unavailable_holds:
            holds = self.holds(patron_key)  # the counts cannot tell: FOLIO's blank CD count, its closed requests
            ready, total = sum(hold.status is HoldStatus.READY for hold in holds), len(holds)
        elif profile.hold_items == ALL:  # AS counts every open hold, CD those not yet available (Evergreen)
            ready, total = max(listed - unavailable, 0), listed
        else:
            ready, total = listed, listed + unavailable
        return mapping.account_summary(info, loans=loans, overdue=overdue, holds=total, ready=ready,
                                       ignored=profile.ignored_flags)

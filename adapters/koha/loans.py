"""The patron's loans with their titles and renewal forecasts, and renewing them.

Koha's OPAC refuses renewals to a blocked account (expired card, restriction, lost card, charges
over the limit); the staff routes do not, so a blocked patron's loans are shown as not renewable
and their renewals refused here, without asking Koha. Otherwise Koha decides: its forecast
(``GET /checkouts/{id}/allows_renewal``) is shown beside each loan, and its refusal of a renewal
is reported per loan with Koha's reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from adapters.errors import IlsUnavailable
from adapters.koha import mapping
from adapters.koha.client import KohaApiError, KohaPermissionError, KohaRouteMissing
from adapters.koha.common import koha_is_down, log
from adapters.koha.core import KohaCore
from adapters.models import BlockCode, Loan, Reason, RenewalForecast, RenewalOutcome, RenewalResult, RenewalStatus

#: blocks shown with a renewal result (those that stop renewals, or explain Koha's "overdue")
RENEWAL_BLOCKS = mapping.RESTRICTING_BLOCKS | {BlockCode.OVERDUE_LOANS}


class LoansMixin(KohaCore):
    """``loans`` and the base class's ``renew`` (through ``_renew``, given only the patron's own loans)."""

    def loans(self, patron_key: str) -> list[Loan]:
        """One request for the checkouts (titles embedded on 24.05+); then, in parallel, the titles Koha
        did not embed (``TitleCache``) and one renewal forecast per loan."""
        row = self._patron_json(patron_key)
        today = self.today()
        blocked = mapping.restricts(self._blocks(row, today))
        checkouts = self._checkouts(row["patron_id"], embed=True)
        found = list(self._map(self._checkout_item, checkouts))
        checkouts = [{**checkout, "item": item} if item is not None else checkout
                     for checkout, (item, _) in zip(checkouts, found, strict=True)]
        biblios = [biblio for _, biblio in found]
        if blocked:  # Koha's OPAC refuses renewals to a blocked account; so do we, without asking
            forecasts = [(RenewalForecast(RenewalStatus.NOT_RENEWABLE, reason=Reason.ACCOUNT_BLOCKED), None)
                         for _ in checkouts]
        else:
            forecasts = list(self._map(lambda checkout: self._forecast(checkout, today), checkouts))
        loans = [
            mapping.loan_from_checkout(checkout, biblio=biblio, forecast=forecast, today=today, tz=self.tz,
                                       due_soon_days=self.settings.due_soon_days, renewals_allowed=allowed)
            for checkout, biblio, (forecast, allowed) in zip(checkouts, biblios, forecasts, strict=True)
        ]
        return sorted(loans, key=mapping.loan_sort_key)

    def _checkout_item(self, checkout: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The loan's item (its barcode) and title; (None, None) if Koha could not say (the loan is
        still worth showing, under its item id)."""
        try:
            return self._checkout_item_or_fail(checkout)
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:
            log.warning("no item or title for checkout %s: %s", checkout.get("checkout_id"), exc)
            return None, None

    def _checkout_item_or_fail(self, checkout: Mapping[str, Any]) -> tuple[dict[str, Any] | None,
                                                                           dict[str, Any] | None]:
        """The item embedded in the checkout (24.05+), else ``GET /items/{id}`` (cached); the title
        embedded in it (24.11+), else by the item's biblio id (cached)."""
        item = checkout.get("item")
        if not isinstance(item, Mapping):
            item = self.titles.item(checkout.get("item_id"))
        if item is None:
            return None, None
        biblio = item.get("biblio")
        if isinstance(biblio, Mapping) and biblio.get("biblio_id") is not None:
            self.titles.remember(biblio)
            return dict(item), dict(biblio)
        return dict(item), self.titles.biblio_or_none(item.get("biblio_id"))  # else shown under its barcode

    def _forecast(self, checkout: Mapping[str, Any], today: date) -> tuple[RenewalForecast, int | None]:
        """Koha's renewal forecast for one checkout, and how many renewals it allows in all (if Koha says)."""
        try:
            answer = self.client.get(f"/checkouts/{checkout['checkout_id']}/allows_renewal")
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:  # one loan's forecast is not worth the whole page
            log.warning("no renewal forecast for checkout %s: %s", checkout.get("checkout_id"), exc)
            return RenewalForecast(RenewalStatus.UNKNOWN), None
        data = answer.data if isinstance(answer.data, dict) else {}
        due = mapping.local_date(checkout.get("due_date"), self.tz)
        forecast = mapping.renewal_forecast(data, due=due, today=today,
                                            window_days=self.settings.renewal_window_days)
        allowed = data.get("max_renewals")
        return forecast, allowed if isinstance(allowed, int) else None

    def _renew(self, patron_key: str, loans: Sequence[Loan]) -> RenewalResult:
        """One renewal after another; once Koha is down, the rest are UNAVAILABLE without a request each."""
        row = self._patron_json(patron_key)
        blocks = self._blocks(row, self.today())
        shown = tuple(block for block in blocks if block.code in RENEWAL_BLOCKS)
        if mapping.restricts(blocks):
            return RenewalResult(tuple(RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.ACCOUNT_BLOCKED)
                                       for loan in loans), blocks=shown)
        outcomes: list[RenewalOutcome] = []
        unreachable = False
        for loan in loans:
            if unreachable:
                outcomes.append(RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.UNAVAILABLE))
                continue
            outcome, unreachable = self._renew_one(loan)
            outcomes.append(outcome)
        return RenewalResult(tuple(outcomes), blocks=shown)

    def _renew_one(self, loan: Loan) -> tuple[RenewalOutcome, bool]:
        """One renewal; True with it if Koha is down, so that the rest are not tried one by one."""
        try:
            answer = self.client.request("POST", f"/checkouts/{loan.loan_id}/renewal", ok=(200, 201))
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            if exc.status == 401:
                raise
            if exc.status == 403:
                code = mapping.renewal_error_code(exc.error)
                log.info("Koha refused to renew checkout %s: %s", loan.loan_id, code or exc.error)
                reason = mapping.renewal_reason(code)
            elif exc.status == 404:
                reason = Reason.NOT_FOUND
            else:
                log.warning("Koha answered %s to renewing checkout %s: %s", exc.status, loan.loan_id, exc.error)
                reason = Reason.OTHER
            return RenewalOutcome(loan.loan_id, False, loan.title, reason=reason), False
        except IlsUnavailable as exc:
            log.warning("renewing checkout %s failed: %s", loan.loan_id, exc)
            return RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.UNAVAILABLE), koha_is_down(exc)
        data = answer.data if isinstance(answer.data, dict) else {}
        return RenewalOutcome(loan.loan_id, True, loan.title,
                              new_due_date=mapping.local_date(data.get("due_date"), self.tz)), False

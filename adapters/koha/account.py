"""The patron's account: their record, the menu's counts, charges, and the email address in Koha."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapters.errors import InvalidInput, Refused
from adapters.koha import mapping
from adapters.koha.client import KohaApiError, KohaPermissionError, KohaRouteMissing
from adapters.koha.core import KohaCore
from adapters.models import AccountSummary, Patron, Reason
from adapters.validation import check_safe_text, normalize_card_number


class AccountMixin(KohaCore):
    """``patron``, ``find_patron``, ``account_summary``, ``fines`` and ``set_patron_email``."""

    def patron(self, patron_key: str) -> Patron:
        return self._to_patron(self._patron_json(patron_key))

    def find_patron(self, card_number: str) -> Patron | None:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            return None
        row = self._patron_by_card(card)
        return None if row is None else self._to_patron(row)

    def set_patron_email(self, patron_key: str, email: str | None) -> None:
        """PUT /patrons/{id} with the fields Koha's contract requires and the new address: Koha sets
        only the fields sent (``set_from_api``), so nothing else of the record changes."""
        row = self._patron_json(patron_key)
        if email is not None:
            check_safe_text(email, 254)
        body = {"surname": row.get("surname"), "library_id": row["library_id"], "category_id": row["category_id"],
                "email": email or None}
        try:
            self.client.request("PUT", f"/patrons/{row['patron_id']}", json=body, ok=(200, 204))
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            if exc.status in (400, 409):
                raise Refused(Reason.OTHER, exc.error or None) from exc
            raise

    def account_summary(self, patron_key: str) -> AccountSummary:
        """The menu's counts from the record, checkouts and holds alone (no titles, no forecasts); the
        charges from the record's embedded balance, else GET /patrons/{id}/account."""
        row = self._patron_json(patron_key)
        today = self.today()
        checkouts = self._checkouts(row["patron_id"], embed=False)
        dues = [mapping.local_date(checkout.get("due_date"), self.tz) for checkout in checkouts]
        holds = self._hold_rows(str(row["patron_id"]))
        balance = row.get("account_balance")
        fines = mapping.money(balance) if balance is not None else self._balance(str(row["patron_id"]))
        return AccountSummary(
            loans=len(checkouts),
            overdue=sum(1 for due in dues if due is not None and due < today),
            holds=len(holds),
            holds_ready=sum(1 for hold in holds if hold.get("status") == "W"),
            fines=max(fines, Decimal(0)),
            currency=self.settings.currency,
            blocks=self._blocks(row, today),
        )

    def _balance(self, key: str) -> Decimal:
        answer = self.client.get(f"/patrons/{key}/account")
        return mapping.money((answer.data or {}).get("balance"))

    def fines(self, patron_key: str) -> list[mapping.Charge]:
        """The patron's outstanding charges (GET /patrons/{id}/account), newest first."""
        row = self._patron_json(patron_key)
        answer = self.client.get(f"/patrons/{row['patron_id']}/account")
        lines = ((answer.data or {}).get("outstanding_debits") or {}).get("lines") or []
        charges = [mapping.charge_from_line(line, self.tz) for line in lines]
        return sorted(charges, key=lambda charge: charge.date or date.min, reverse=True)

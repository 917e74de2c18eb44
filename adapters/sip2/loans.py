"""The patron's loans with their titles and due dates, and renewing them.

Loans are the 64's charged (AU) and overdue (AT) lists, paged with BP/BQ, then one 17 Item
Information per item for title and due date: cached (``SIP2_ITEM_CACHE_SECONDS``) and fetched in
parallel over the connection pool. A loan's id is its item id. The login's 63 asks for the charged
list too (same message, no extra round trip), and those items are looked up in the background
(``SIP2_PREFETCH``), so the loans page a patron opens next finds them cached; the menu (once the
cache has expired) and the loans page itself start the 17s for the items last listed, the loans
page alongside its own 63s. A list that the patron's last 64 counted empty (most have nothing
overdue) is asked for only if the fresh counts say it has filled.

A renewal is a 29 per loan, or one 65 for all; SIP2 has no reason codes, so a refusal's reason is
read from the ACS's message. A renewal whose answer was lost is not sent again: the loans are read
again to see whether it was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from adapters.errors import IlsUnavailable
from adapters.models import Capability, Loan, Reason, RenewalOutcome, RenewalResult
from adapters.sip2 import builders, mapping
from adapters.sip2.core import OUTCOME_UNKNOWN, Sip2Core, log
from adapters.sip2.errors import Sip2Error
from adapters.sip2.profiles import BARCODE
from adapters.sip2.responses import parse_renew_all_response, parse_renew_response
from adapters.validation import mask_card_number


class LoansMixin(Sip2Core):
    """``loans``, ``renew_all``, and the base class's ``renew`` (through ``_renew``, given only the
    patron's own loans)."""

    def loans(self, patron_key: str) -> list[Loan]:
        with self._edge("loans", patron_key):
            self._prefetch_loans(patron_key)  # most loans are the same as last time: overlap their 17s
            lists = self._item_lists(patron_key, ("charged", "overdue"))
            (info, charged), (_, overdue) = lists["charged"], lists["overdue"]
            listed = list(dict.fromkeys(charged + overdue))
            if self.options.profile.loan_ids != BARCODE:  # titles: two copies of one title are two loans
                listed = charged + [value for value in overdue if value not in charged]
            items = self.items.lookup(self._remember_loans(patron_key, listed))
        today = self._acs_date(info) or self.today()
        forecast = mapping.renewal_forecast(info, self.options.profile.ignored_flags)
        late = set(overdue)
        loans = [
            mapping.loan_from_item(
                item_id, items.get(item_id), today=today, due_soon_days=self.options.due_soon_days,
                listed_overdue=item_id in late, forecast=forecast,
                with_record=self.supports(Capability.RECORD_DETAILS),
            )
            for item_id in listed
        ]
        loans = mapping.number_repeats(loans)
        return sorted(loans, key=lambda loan: (loan.due_date is None, loan.due_date or date.max))

    def _renew(self, patron_key: str, loans: Sequence[Loan]) -> RenewalResult:
        """One 29 per loan, in parallel. A renewal whose answer was lost is looked up afterwards."""

        def renew_one(loan: Loan) -> object:
            return parse_renew_response(self._request(lambda institution: builders.renew_request(
                institution, patron_key, item_id=loan.item_id, terminal_password=self._terminal_password)))

        answers = self._send_each("renew", patron_key, loans, renew_one, [loan.item_id for loan in loans])
        unknown = [loan for loan, answer in zip(loans, answers, strict=True) if isinstance(answer, OUTCOME_UNKNOWN)]
        after = self._loans_after(patron_key) if unknown else {}
        outcomes = []
        for loan, answer in zip(loans, answers, strict=True):
            if isinstance(answer, OUTCOME_UNKNOWN):
                outcomes.append(_outcome_from_reread(loan, after.get(loan.loan_id)))
            elif isinstance(answer, Sip2Error):
                log.warning("SIP2 renew (card %s): %s", mask_card_number(patron_key), answer)
                outcomes.append(RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.UNAVAILABLE))
            elif answer.ok and answer.renewal_ok:
                outcomes.append(RenewalOutcome(loan.loan_id, True, answer.title or loan.title,
                                               new_due_date=answer.due_date))
            else:
                outcomes.append(_refusal(loan, mapping.screen_message(answer.screen_messages)))
        return RenewalResult(outcomes=tuple(outcomes))

    def renew_all(self, patron_key: str) -> RenewalResult:
        """A 65, then the loans read again for the new due dates (66 has none). An ACS without 65
        (invenio-sip2) gets one 29 per loan instead."""
        self.require(Capability.RENEW_ALL)
        loans = self.loans(patron_key)
        if not loans:
            return RenewalResult(())
        if not self._acs_supports("renew_all"):
            return self._renew(patron_key, loans)
        answer = None
        try:
            with self._edge("renew all", patron_key):
                try:
                    answer = parse_renew_all_response(self._request(lambda institution: builders.renew_all_request(
                        institution, patron_key, terminal_password=self._terminal_password)))
                except OUTCOME_UNKNOWN as exc:
                    log.warning("SIP2 renew all (card %s): %s; reading the loans again",
                                mask_card_number(patron_key), exc)
        finally:
            self.items.invalidate(loan.item_id for loan in loans)
            self._forget_status(patron_key)
        after = self._loans_after(patron_key)
        if answer is None:
            return RenewalResult(tuple(_outcome_from_reread(loan, after.get(loan.loan_id)) for loan in loans))
        if not answer.ok:
            text = mapping.screen_message(answer.screen_messages)
            return RenewalResult(tuple(_refusal(loan, text, default=Reason.OTHER) for loan in loans))
        if self.options.profile.loan_ids != BARCODE:
            return _renewed_by_count(loans, answer)
        ids = [loan.item_id for loan in loans]
        renewed = {mapping.split_unrenewed(value, ids)[0] for value in answer.renewed_items}
        unrenewed = dict(mapping.split_unrenewed(value, ids) for value in answer.unrenewed_items)
        general = mapping.screen_message(answer.screen_messages)
        outcomes = []
        for loan in loans:
            current = after.get(loan.loan_id)
            if loan.item_id in renewed:
                outcomes.append(RenewalOutcome(loan.loan_id, True, loan.title,
                                               new_due_date=current.due_date if current else None))
            elif loan.item_id in unrenewed:
                outcomes.append(_refusal(loan, unrenewed[loan.item_id] or general))
            else:
                outcomes.append(_outcome_from_reread(loan, current))
        return RenewalResult(tuple(outcomes))

    def _loans_after(self, patron_key: str) -> dict[str, Loan]:
        """The loans read afresh after a renewal whose outcome must be checked; empty if that fails."""
        try:
            return {loan.loan_id: loan for loan in self.loans(patron_key)}
        except IlsUnavailable:
            return {}


def _renewed_by_count(loans: Sequence[Loan], answer) -> RenewalResult:
    """Renew all where the loans are listed by title (Evergreen's default): its 66 names barcodes,
    which no title matches, so only its counts tell. All renewed, or none, is certain; a mix is
    reported as such, never guessed per loan."""
    renewed = answer.renewed_count if answer.renewed_count is not None else len(answer.renewed_items)
    refused = answer.unrenewed_count if answer.unrenewed_count is not None else len(answer.unrenewed_items)
    general = mapping.screen_message([*answer.screen_messages, *answer.unrenewed_items])
    if refused == 0 and renewed >= len(loans):
        return RenewalResult(tuple(RenewalOutcome(loan.loan_id, True, loan.title) for loan in loans))
    if renewed == 0:
        return RenewalResult(tuple(_refusal(loan, general) for loan in loans))
    text = f"{renewed} of {renewed + refused} loans were renewed; the library system does not say which."
    return RenewalResult(tuple(RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.OTHER, message=text)
                               for loan in loans))


def _refusal(loan: Loan, text: str | None, default: Reason = Reason.OTHER) -> RenewalOutcome:
    """A refused renewal: the ACS's words become a Reason where recognised, else stay the message."""
    reason = mapping.reason_from_text(text, mapping.RENEWAL_PATTERNS) if text else default
    return RenewalOutcome(loan.loan_id, False, loan.title, reason=reason,
                          message=text if reason is Reason.OTHER else None)


def _outcome_from_reread(loan: Loan, current: Loan | None) -> RenewalOutcome:
    """After a lost answer: renewed if the due date moved on, else not (the ILS did not answer)."""
    if current is not None and current.due_date and loan.due_date and current.due_date > loan.due_date:
        return RenewalOutcome(loan.loan_id, True, loan.title, new_due_date=current.due_date)
    return RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.UNAVAILABLE)

"""``Sip2Adapter``: the portal's contract over 3M SIP2, for any ILS with a SIP2 server.

What SIP2 gives and how it is used (protocol facts: shared/sip2/README.md):

* Login is a 63 Patron Information with the password (AD); only ``BL=Y`` and ``CQ=Y`` pass.
  ``Patron.key`` is the card number (AA), the only patron id SIP2 has.
* Loans are the 64's charged (AU) and overdue (AT) lists, paged with BP/BQ, then one 17 Item
  Information per item for title and due date: cached (``SIP2_ITEM_CACHE_SECONDS``) and fetched
  in parallel over the connection pool. A loan's id is its item id. The login's 63 asks for the
  charged list too (same message, no extra round trip), and those items are looked up in the
  background (``SIP2_PREFETCH``), so the loans page a patron opens next finds them cached; the
  menu (once the cache has expired) and the loans page itself start the 17s for the items last
  listed, the loans page alongside its own 63s. A list that the patron's last 64 counted empty
  (most have nothing overdue) is asked for only if the fresh counts say it has filled.
* Holds are the 64's hold items (AS: ready for pickup) and unavailable holds (CD: waiting or in
  transit, told apart by the 17's circulation status). A hold's id is the id the ACS lists for it.
* A "record" is one item: ``record(item_id)`` is a 17, and a hold is placed with 15 ``+`` on an
  item id with hold type 2 (any copy of the title), so the ILS places a title-level hold.
* SIP2 cannot change passwords, store an email address or search the catalogue: those
  capabilities are never declared, and the 98's supported-messages flags (BX) narrow the rest
  on the first connection. Nothing connects before the first request: the portal starts while
  the ILS is down.

Every ``Sip2Error`` becomes a contract error here (``IlsUnavailable``; an unsafe value becomes
``InvalidInput``). Logs carry masked card numbers and never a password.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, ClassVar

from cachetools import TTLCache

from adapters.base import IlsAdapter
from adapters.errors import AccountLocked, AuthenticationFailed, IlsUnavailable, InvalidInput, RecordNotFound, Refused
from adapters.models import (
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
    RenewalOutcome,
    RenewalResult,
)
from adapters.sip2 import builders, mapping
from adapters.sip2.codec import Message, check_field_value
from adapters.sip2.config import IMPLEMENTED, AdapterOptions, read_config
from adapters.sip2.errors import (
    Sip2Error,
    Sip2LoginRefused,
    Sip2OutcomeUnknown,
    Sip2ProtocolError,
    Sip2Timeout,
    Sip2Unavailable,
    UnsafeFieldValue,
)
from adapters.sip2.items import ItemLookup, ParallelRunner
from adapters.sip2.pool import Sip2ConnectionPool
from adapters.sip2.responses import (
    AcsStatus,
    ItemInformation,
    PatronInformation,
    parse_acs_status,
    parse_hold_response,
    parse_item_information,
    parse_patron_information,
    parse_renew_all_response,
    parse_renew_response,
)
from adapters.sip2.settings import Sip2Settings
from adapters.validation import mask_card_number, normalize_card_number

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "wrong card number or password"
PAGE_SIZE = 50  # items asked for per 63 (BP/BQ)
MAX_PAGES = 100
# 64 list per summary category: (list attribute, count attribute).
LISTS = {
    "charged": ("charged_items", "charged_items_count"),
    "overdue": ("overdue_items", "overdue_items_count"),
    "hold": ("hold_items", "hold_items_count"),
    "unavailable_holds": ("unavailable_hold_items", "unavailable_holds_count"),
}
# Sip2Errors after which a state-changing request may or may not have been carried out.
OUTCOME_UNKNOWN = (Sip2OutcomeUnknown, Sip2Timeout)
RECENT_STATUS_SECONDS = 5
MAX_PATRONS_REMEMBERED = 4096
# How long a patron's listed loans are remembered as a hint of what to look up early: a session's length.
LISTED_LOANS_SECONDS = 3600


class Sip2Adapter(IlsAdapter):
    name: ClassVar[str] = "sip2"
    capabilities = IMPLEMENTED

    def __init__(self, settings: Sip2Settings, options: AdapterOptions | None = None) -> None:
        self.settings = settings
        self.options = options or AdapterOptions()
        self.capabilities = IMPLEMENTED - self.options.disabled
        self._pool = Sip2ConnectionPool(settings)
        self._runner = ParallelRunner(settings.pool_size)
        self.items = ItemLookup(self._fetch_item, self._runner, ttl=self.options.item_cache_seconds)
        self._acs: AcsStatus | None = None
        self._day_offset = 0
        self._lock = threading.Lock()
        # The last 64 per patron, for a patron() right after loans() in the same page view.
        self._recent: TTLCache[str, PatronInformation] = TTLCache(MAX_PATRONS_REMEMBERED, RECENT_STATUS_SECONDS)
        # The last 64 per patron for longer, for its counts: which lists are likely empty.
        self._last_status: TTLCache[str, PatronInformation] = TTLCache(
            MAX_PATRONS_REMEMBERED, max(self.options.item_cache_seconds, RECENT_STATUS_SECONDS))
        # The items last listed as a patron's loans (at login or on the loans page), to look up early.
        self._listed_loans: TTLCache[str, tuple[str, ...]] = TTLCache(MAX_PATRONS_REMEMBERED, LISTED_LOANS_SECONDS)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Sip2Adapter:
        return cls(*read_config(config))

    def observe_cache(self, callback) -> None:
        self.items.on_lookup = lambda hit: callback("sip2_items", hit)

    # --- plumbing -------------------------------------------------------------------------

    def _request(self, build: Callable[[str], Message]) -> Message:
        """One request on a pooled connection; ``build`` gets the institution id (AO)."""
        with self._pool.connection() as conn:
            if conn.acs_status is not None and conn.acs_status is not self._acs:
                self._learn(conn.acs_status)
            return conn.transact(build(self.institution))

    def _learn(self, status: AcsStatus) -> None:
        """Narrow the capabilities to what the ACS's 98 announces in BX (if it sends BX at all)."""
        with self._lock:
            self._acs = status
            if not status.supported.raw.strip():
                return
            supported = status.supported
            capabilities = set(IMPLEMENTED - self.options.disabled)
            if "renew" not in supported:
                capabilities.discard(Capability.RENEW)
            if "renew" not in supported and "renew_all" not in supported:
                capabilities.discard(Capability.RENEW_ALL)
            if "hold" not in supported:
                capabilities -= {Capability.PLACE_HOLD, Capability.CANCEL_HOLD}
            if "item_information" not in supported:
                capabilities.discard(Capability.RECORD_DETAILS)
            self.capabilities = frozenset(capabilities)

    def _acs_supports(self, message: str) -> bool:
        status = self._acs
        return status is None or not status.supported.raw.strip() or message in status.supported

    @property
    def institution(self) -> str:
        """AO: configured, else what the ACS announced in its 98."""
        return self.settings.institution or (self._acs.institution_id if self._acs else None) or ""

    @property
    def _terminal_password(self) -> str | None:
        return self.settings.terminal_password or None

    @contextmanager
    def _edge(self, action: str, card: str | None = None) -> Iterator[None]:
        """Translate SIP2 client errors into the contract's, logging without secrets."""
        who = f" (card {mask_card_number(card)})" if card else ""
        try:
            yield
        except UnsafeFieldValue as exc:
            raise InvalidInput(f"cannot send this {exc.field_id} value over SIP2: {exc.reason}") from exc
        except Sip2LoginRefused as exc:
            log.error("SIP2 %s%s: the ACS refused the portal's SIP2 login (check SIP2_USER, SIP2_PASSWORD, "
                      "SIP2_LOCATION)", action, who)
            raise IlsUnavailable("the library system refused the portal's SIP2 login") from exc
        except Sip2Unavailable as exc:
            log.warning("SIP2 %s%s: %s", action, who, exc)
            raise IlsUnavailable("the library system is not answering over SIP2") from exc
        except Sip2ProtocolError as exc:
            log.error("SIP2 %s%s: protocol error: %s", action, who, exc)
            raise IlsUnavailable("the library system answered something the portal cannot read") from exc
        except Sip2Error as exc:
            log.error("SIP2 %s%s: %s", action, who, exc)
            raise IlsUnavailable("SIP2 failure") from exc

    def today(self) -> date:
        """The ACS's date, as last seen in a transaction date (the local date until then)."""
        return date.today() + timedelta(days=self._day_offset)

    def _acs_date(self, info: PatronInformation) -> date | None:
        """The ACS's date from a reply's transaction date; remembered for ``today()``."""
        day = mapping.acs_today(info)
        if day is not None:
            self._day_offset = (day - date.today()).days
        return day

    def close(self) -> None:
        self._runner.close()
        self._pool.close()

    def check_ready(self) -> None:
        with self._edge("status"):
            status = parse_acs_status(self._request(lambda _: builders.sc_status_request()))
        if not status.online:
            raise IlsUnavailable("the SIP2 server reports itself off-line")

    # --- SIP2 requests --------------------------------------------------------------------

    def _patron_information(
        self, card: str, password: str | None = None, *, summary: builders.SummaryCategory | None = None,
        start: int | None = None, end: int | None = None,
    ) -> PatronInformation:
        info = parse_patron_information(self._request(lambda institution: builders.patron_information_request(
            institution, card, password, self._terminal_password, summary=summary, start_item=start, end_item=end,
        )))
        self._acs_date(info)
        with self._lock:
            self._recent[card] = self._last_status[card] = info
        return info

    def _forget_status(self, card: str) -> None:
        with self._lock:
            self._recent.pop(card, None)

    def _known_patron(self, card: str, **kwargs: Any) -> PatronInformation:
        info = self._patron_information(card, **kwargs)
        if info.valid_patron is False:
            raise AuthenticationFailed("unknown patron")  # a session outliving the patron record
        return info

    def _item_list(self, card: str, category: builders.SummaryCategory) -> tuple[PatronInformation, list[str]]:
        """The whole 64 list of one category, asking PAGE_SIZE items at a time. ACSs that ignore
        BP/BQ (Evergreen's charged list) send everything at once, which ends the paging too."""
        list_attribute, count_attribute = LISTS[category]
        first: PatronInformation | None = None
        values: list[str] = []
        start = 1
        for _ in range(MAX_PAGES):
            info = self._known_patron(card, summary=category, start=start, end=start + PAGE_SIZE - 1)
            first = first or info
            page = [value for value in getattr(info, list_attribute) if value.strip()]
            new = [value for value in dict.fromkeys(page) if value not in values]
            values += new
            total = getattr(first, count_attribute)
            if not new or len(page) != PAGE_SIZE or (total is not None and len(values) >= total):
                break
            start += PAGE_SIZE
        assert first is not None
        return first, values

    def _item_lists(
        self, card: str, categories: Sequence[builders.SummaryCategory]
    ) -> dict[str, tuple[PatronInformation, list[str]]]:
        """The 64 lists of these categories, read in parallel. A list that the patron's last 64
        counted as empty is not asked for up front (most patrons have nothing overdue): the counts
        in the fresh 64s tell whether it has filled since, and then it is read too, one round trip
        later. So what is shown never rests on the remembered counts."""
        with self._lock:
            known = self._last_status.get(card)

        def counted(info: PatronInformation | None, category: str) -> int | None:
            return getattr(info, LISTS[category][1]) if info is not None else None

        asked = [category for category in categories if counted(known, category) != 0] or [categories[0]]
        lists = dict(zip(asked, self._runner.run(
            [lambda category=category: self._item_list(card, category) for category in asked]), strict=True))
        fresh = lists[asked[0]][0]
        filled = [category for category in categories if category not in lists and counted(fresh, category) != 0]
        lists.update(zip(filled, self._runner.run(
            [lambda category=category: self._item_list(card, category) for category in filled]), strict=True))
        return {category: lists.get(category, (fresh, [])) for category in categories}

    def _fetch_item(self, item_id: str) -> ItemInformation:
        info = parse_item_information(self._request(
            lambda institution: builders.item_information_request(institution, item_id, self._terminal_password)
        ))
        return info

    def _sendable_items(self, item_ids: Sequence[str]) -> list[str]:
        """The list values that can go back in a 17's AB field (an ACS listing titles with odd
        characters lists some that cannot: those are shown as they are)."""
        if not item_ids or not self._acs_supports("item_information"):
            return []
        sendable = []
        for item_id in item_ids:
            try:
                sendable.append(check_field_value("AB", item_id, self.settings.encoding))
            except UnsafeFieldValue:
                log.info("SIP2: a listed item id cannot be looked up with 17; shown as listed")
        return sendable

    def _item_details(self, item_ids: Sequence[str], **kwargs: Any) -> dict[str, ItemInformation]:
        """17s for these list values, from the cache where fresh."""
        return self.items.lookup(self._sendable_items(item_ids), **kwargs)

    def _remember_loans(self, card: str, item_ids: Sequence[str]) -> None:
        with self._lock:
            self._listed_loans[card] = tuple(item_ids)

    def _prefetch_loans(self, card: str) -> None:
        """Start the 17s for the items last listed as this patron's loans, without waiting."""
        if not self.options.prefetch:
            return
        with self._lock:
            listed = self._listed_loans.get(card, ())
        if listed:
            self.items.prefetch(self._sendable_items(listed))

    # --- patron ---------------------------------------------------------------------------

    def authenticate(self, card_number: str, password: str) -> Patron:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            raise AuthenticationFailed(WRONG_CREDENTIALS) from None
        if not password:  # some ACSs (Koha's allow_empty_passwords) take an empty AD as valid
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        try:
            with self._edge("login", card):
                # The first page of charged items rides along, to start their lookups now.
                info = self._patron_information(card, password, summary="charged", start=1, end=PAGE_SIZE)
        except InvalidInput:  # a password that cannot travel in a SIP2 field cannot be right
            raise AuthenticationFailed(WRONG_CREDENTIALS) from None
        if info.valid_patron is not True or info.valid_patron_password is not True:
            log.info("SIP2 login refused for card %s", mask_card_number(card))
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        if mapping.is_locked(info):
            raise AccountLocked("the account is locked")
        self._remember_loans(card, [value for value in info.charged_items if value.strip()])
        if self.options.item_cache_seconds > 0:  # without a cache, nothing would keep the answers
            self._prefetch_loans(card)
        return mapping.patron_from_status(card, info)

    def patron(self, patron_key: str) -> Patron:
        """From a 64 read in the last few seconds (the loans page reads the loans, then the patron)."""
        with self._lock:
            recent = self._recent.get(patron_key)
        if recent is not None and recent.valid_patron is not False:
            return mapping.patron_from_status(patron_key, recent)
        with self._edge("patron", patron_key):
            return mapping.patron_from_status(patron_key, self._known_patron(patron_key))

    def find_patron(self, card_number: str) -> Patron | None:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            return None
        with self._edge("find patron", card):
            info = self._patron_information(card)
        found = info.valid_patron if info.valid_patron is not None else bool((info.personal_name or "").strip())
        return mapping.patron_from_status(card, info) if found else None

    def end_session(self, patron_key: str) -> None:
        with self._edge("end session", patron_key):
            self._request(lambda institution: builders.end_patron_session_request(
                institution, patron_key, terminal_password=self._terminal_password))

    def account_summary(self, patron_key: str) -> AccountSummary:
        """One 63 (or the one read in the last few seconds: the login's, for the menu that follows
        it): counts from its fixed fields, fines from BV. A count the ACS leaves blank (FOLIO's
        unavailable holds) is counted from the list instead."""
        with self._lock:
            info = self._recent.get(patron_key)
        if info is None or info.valid_patron is False:
            with self._edge("account summary", patron_key):
                info = self._known_patron(patron_key)
            self._prefetch_loans(patron_key)  # the menu is where a patron goes next to the loans
        loans, overdue = info.charged_items_count, info.overdue_items_count
        if loans is None or overdue is None:
            current = self.loans(patron_key)
            loans, overdue = len(current), sum(loan.overdue for loan in current)
        ready, unavailable = info.hold_items_count, info.unavailable_holds_count
        if ready is None or unavailable is None:
            holds = self.holds(patron_key)
            ready, total = sum(hold.status is HoldStatus.READY for hold in holds), len(holds)
        else:
            total = ready + unavailable
        return mapping.account_summary(info, loans=loans, overdue=overdue, holds=total, ready=ready)

    # --- loans ----------------------------------------------------------------------------

    def loans(self, patron_key: str) -> list[Loan]:
        with self._edge("loans", patron_key):
            self._prefetch_loans(patron_key)  # most loans are the same as last time: overlap their 17s
            lists = self._item_lists(patron_key, ("charged", "overdue"))
            (info, charged), (_, overdue) = lists["charged"], lists["overdue"]
            listed = list(dict.fromkeys(charged + overdue))
            self._remember_loans(patron_key, listed)
            items = self._item_details(listed)
        today = self._acs_date(info) or self.today()
        forecast = mapping.renewal_forecast(info)
        late = set(overdue)
        loans = [
            mapping.loan_from_item(
                item_id, items.get(item_id), today=today, due_soon_days=self.options.due_soon_days,
                listed_overdue=item_id in late, forecast=forecast,
                with_record=self.supports(Capability.RECORD_DETAILS),
            )
            for item_id in listed
        ]
        return sorted(loans, key=lambda loan: (loan.due_date is None, loan.due_date or date.max))

    def _renew(self, patron_key: str, loans: Sequence[Loan]) -> RenewalResult:
        """One 29 per loan, in parallel. A renewal whose answer was lost is looked up afterwards."""

        def renew_one(loan: Loan) -> object:
            try:
                return parse_renew_response(self._request(lambda institution: builders.renew_request(
                    institution, patron_key, item_id=loan.item_id, terminal_password=self._terminal_password)))
            except Sip2Error as exc:
                return exc

        with self._edge("renew", patron_key):
            answers = self._runner.run([lambda loan=loan: renew_one(loan) for loan in loans])
        self.items.invalidate(loan.item_id for loan in loans)
        self._forget_status(patron_key)
        failures = [answer for answer in answers if isinstance(answer, Sip2Error)]
        if failures and len(failures) == len(answers) and not isinstance(failures[0], OUTCOME_UNKNOWN):
            with self._edge("renew", patron_key):
                raise failures[0]
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

    # --- holds ----------------------------------------------------------------------------

    def holds(self, patron_key: str) -> list[Hold]:
        self.require(Capability.HOLDS)
        with self._edge("holds", patron_key):
            lists = self._item_lists(patron_key, ("hold", "unavailable_holds"))
            ready, unavailable = lists["hold"][1], lists["unavailable_holds"][1]
            ready_ids = set(ready)
            waiting = [item_id for item_id in unavailable if item_id not in ready_ids]

            def stale(item_id: str, info: ItemInformation) -> bool:
                # A cached 18 from before the copy reached the hold shelf lacks its pickup date,
                # and one from when it sat there is wrong for a hold that is waiting again.
                if item_id in ready_ids:
                    return info.circulation_status != mapping.ON_HOLD_SHELF or not info.hold_pickup_date
                return info.circulation_status == mapping.ON_HOLD_SHELF

            items = self._item_details(ready + waiting, stale=stale)
        with_record = self.supports(Capability.RECORD_DETAILS)
        locations = self._configured_locations()
        holds = [
            mapping.hold_from_item(item_id, items.get(item_id), ready=item_id in ready_ids, locations=locations,
                                   with_record=with_record)
            for item_id in ready + waiting
        ]
        return sorted(holds, key=mapping.hold_sort_key)

    def _configured_locations(self) -> list[PickupLocation]:
        if self.options.pickup_locations:
            return list(self.options.pickup_locations)
        institution = self.institution
        if not institution:
            return []
        name = (self._acs.library_name if self._acs else None) or institution
        return [PickupLocation(institution, name.strip() or institution)]

    def pickup_locations(self, patron_key: str, record_id: str | None = None) -> list[PickupLocation]:
        """SIP2 cannot list pickup locations: SIP2_PICKUP_LOCATIONS, else the institution itself."""
        self.require(Capability.PLACE_HOLD)
        if not self.options.pickup_locations and not self.institution:
            self.check_ready()  # learn the institution id from the ACS's 98
        locations = self._configured_locations()
        if not locations:
            raise IlsUnavailable("no pickup location: set SIP2_INSTITUTION or SIP2_PICKUP_LOCATIONS")
        return locations

    def place_hold(self, patron_key: str, request: HoldRequest) -> Hold:
        self.require(Capability.PLACE_HOLD)
        pickup = {loc.location_id: loc for loc in self.pickup_locations(patron_key)}.get(request.pickup_location_id)
        if pickup is None:
            raise Refused(Reason.INVALID_PICKUP)
        if request.not_needed_after is not None and request.not_needed_after < self.today():
            raise InvalidInput("not_needed_after is in the past")
        record_id = request.record_id
        with self._edge("place hold", patron_key):
            info = self._item_details([record_id]).get(record_id)
            if info is not None and not mapping.item_known(info):
                raise RecordNotFound(record_id)
            expiry = mapping.expiry_moment(request.not_needed_after) if request.not_needed_after else None
            try:
                answer = parse_hold_response(self._request(lambda institution: builders.hold_request(
                    "+", institution, patron_key, item_id=record_id, pickup_location=pickup.location_id,
                    expiration=expiry, hold_type="2", terminal_password=self._terminal_password)))
            except OUTCOME_UNKNOWN as exc:
                raise Sip2Unavailable(f"no answer to the hold request: {exc}") from exc
            finally:
                self.items.invalidate([record_id])
                self._forget_status(patron_key)
        if not answer.ok:
            text = mapping.screen_message(answer.screen_messages)
            reason = mapping.reason_from_text(text, mapping.HOLD_PATTERNS)
            if reason is Reason.NOT_FOUND:
                raise RecordNotFound(record_id)
            log.info("SIP2 hold refused (card %s): %s", mask_card_number(patron_key), text)
            raise Refused(reason, text if reason is Reason.OTHER else None)
        hold_id = (answer.item_id or "").strip() or record_id
        self.items.invalidate([hold_id])
        title = (info.title if info is not None else None) or answer.title or record_id
        return Hold(
            hold_id=hold_id, title=title.strip() or record_id, status=HoldStatus.WAITING,
            record_id=record_id if self.supports(Capability.RECORD_DETAILS) else None,
            queue_position=answer.queue_position or None, pickup_location=pickup,
            not_needed_after=request.not_needed_after, placed_on=self.today(),
        )

    def _cancel_holds(self, patron_key: str, holds: Sequence[Hold]) -> list[CancelOutcome]:
        def cancel_one(hold: Hold) -> object:
            if not hold.cancellable:
                return CancelOutcome(hold.hold_id, False, hold.title, Reason.NOT_CANCELLABLE)
            try:
                return parse_hold_response(self._request(lambda institution: builders.hold_request(
                    "-", institution, patron_key, item_id=hold.hold_id, terminal_password=self._terminal_password)))
            except Sip2Error as exc:
                return exc

        with self._edge("cancel holds", patron_key):
            answers = self._runner.run([lambda hold=hold: cancel_one(hold) for hold in holds])
        self.items.invalidate(hold.hold_id for hold in holds)
        self._forget_status(patron_key)
        failures = [answer for answer in answers if isinstance(answer, Sip2Error)]
        if failures and len(failures) == len(answers) and not isinstance(failures[0], OUTCOME_UNKNOWN):
            with self._edge("cancel holds", patron_key):
                raise failures[0]
        remaining: set[str] | None = None
        if any(isinstance(answer, OUTCOME_UNKNOWN) for answer in answers):
            try:
                remaining = {hold.hold_id for hold in self.holds(patron_key)}
            except IlsUnavailable:
                remaining = None
        outcomes = []
        for hold, answer in zip(holds, answers, strict=True):
            if isinstance(answer, CancelOutcome):
                outcomes.append(answer)
            elif isinstance(answer, OUTCOME_UNKNOWN) and remaining is not None and hold.hold_id not in remaining:
                outcomes.append(CancelOutcome(hold.hold_id, True, hold.title))
            elif isinstance(answer, Sip2Error):
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.UNAVAILABLE))
            elif answer.ok:
                outcomes.append(CancelOutcome(hold.hold_id, True, hold.title))
            else:
                text = mapping.screen_message(answer.screen_messages)
                reason = mapping.reason_from_text(text, mapping.CANCEL_PATTERNS)
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, reason,
                                              text if reason is Reason.OTHER else None))
        return outcomes

    # --- catalogue ------------------------------------------------------------------------

    def record(self, record_id: str) -> Record:
        """The item with this id (SIP2 has no catalogue records): title and hold queue length."""
        self.require(Capability.RECORD_DETAILS)
        with self._edge("record"):
            info = self.items.get(record_id)
        if not mapping.item_known(info):
            raise RecordNotFound(record_id)
        return mapping.record_from_item(record_id, info)


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

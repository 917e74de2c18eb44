"""``Sip2Core``: what every part of ``Sip2Adapter`` stands on.

That is the settings, the connection pool and one request on it (``_request``), what the ACS's
98 announced (the institution id; the capabilities its BX flags narrow, learnt on the first
connection), the translation of every ``Sip2Error`` into the contract's errors (``_edge``:
``IlsUnavailable``, or ``InvalidInput`` for an unsafe value; logged with masked card numbers and
never a password), the ACS's date, and the reads every area shares: the patron's 63 (the last one
remembered a few seconds for the rest of the page view, longer for its counts), the lists in its
64, and the 17s for the items listed (``items.ItemLookup``). The operations are mixins over this
class (``auth``, ``account``, ``loans``, ``holds``, ``catalogue``); ``adapter.Sip2Adapter``
combines them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, Self

from cachetools import TTLCache

from adapters.base import IlsAdapter
from adapters.errors import AuthenticationFailed, IlsUnavailable, InvalidInput
from adapters.models import Capability
from adapters.sip2 import builders, mapping
from adapters.sip2.codec import Message, check_field_value
from adapters.sip2.config import AdapterOptions, read_config
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
from adapters.sip2.profiles import BARCODE
from adapters.sip2.responses import (
    AcsStatus,
    ItemInformation,
    PatronInformation,
    parse_acs_status,
    parse_item_information,
    parse_patron_information,
)
from adapters.sip2.settings import Sip2Settings
from adapters.validation import mask_card_number

#: One logger for the whole adapter, under the name it had while the adapter was the single module
#: adapters/sip2/adapter.py, so that a deployment's logging configuration for it still applies.
log = logging.getLogger("adapters.sip2.adapter")

# Read from this module at call time (tests change it): items asked for per 63 (BP/BQ).
PAGE_SIZE = 50
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


class Sip2Core(IlsAdapter):
    """The state and the reads shared by the SIP2 adapter's parts; not an adapter on its own."""

    def __init__(self, settings: Sip2Settings, options: AdapterOptions | None = None) -> None:
        self.settings = settings
        self.options = options or AdapterOptions()
        self.capabilities = self._implementable()
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
        # (patron, hold id) -> the value the 64 lists the hold by (a second hold on one value: "value#2").
        self._hold_listed: TTLCache[tuple[str, str], str] = TTLCache(MAX_PATRONS_REMEMBERED * 4, LISTED_LOANS_SECONDS)

    def _implementable(self) -> frozenset[Capability]:
        """What this server's dialect lets the adapter do: a 29 needs a barcode, and so does a 15
        (Evergreen finds the hold to cancel from a copy barcode), so lists of titles rule them out;
        65 needs no item id and stays."""
        capabilities = set(self.options.capabilities())
        if self.options.profile.loan_ids != BARCODE:
            capabilities.discard(Capability.RENEW)
        if self.options.profile.hold_ids != BARCODE:
            capabilities.discard(Capability.CANCEL_HOLD)
            capabilities.discard(Capability.CHANGE_PICKUP)
        return frozenset(capabilities)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
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
            capabilities = set(self._implementable())
            if "renew" not in supported:
                capabilities.discard(Capability.RENEW)
            if "renew" not in supported and "renew_all" not in supported:
                capabilities.discard(Capability.RENEW_ALL)
            if "hold" not in supported:
                capabilities -= {Capability.PLACE_HOLD, Capability.CANCEL_HOLD, Capability.CHANGE_PICKUP}
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

    def _send_each(self, action: str, patron_key: str, values: Sequence[Any], send: Callable[[Any], object],
                   touched: Iterable[str]) -> list[object]:
        """``send(value)`` for each value, in parallel: its answer, or the ``Sip2Error`` in its place.
        Then the ``touched`` items' 17s and the patron's recent 64 are forgotten. If every one failed,
        and not with its outcome unknown, the whole action fails (through ``_edge``)."""

        def send_one(value: Any) -> object:
            try:
                return send(value)
            except Sip2Error as exc:
                return exc

        with self._edge(action, patron_key):
            answers = self._runner.run([lambda value=value: send_one(value) for value in values])
        self.items.invalidate(touched)
        self._forget_status(patron_key)
        failures = [answer for answer in answers if isinstance(answer, Sip2Error)]
        if failures and len(failures) == len(answers) and not isinstance(failures[0], OUTCOME_UNKNOWN):
            with self._edge(action, patron_key):
                raise failures[0]
        return answers

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

    # --- the patron's 63, and the lists in its 64 -----------------------------------------

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
        BP/BQ (Evergreen's charged list) send everything at once, which ends the paging too. A value
        listed twice is kept twice: two holds by one patron on one title are two holds."""
        list_attribute, count_attribute = LISTS[category]
        first: PatronInformation | None = None
        values: list[str] = []
        start = 1
        for _ in range(MAX_PAGES):
            info = self._known_patron(card, summary=category, start=start, end=start + PAGE_SIZE - 1)
            first = first or info
            page = [value for value in getattr(info, list_attribute) if value.strip()]
            if not page or (values and page == values[: len(page)]):
                break  # the ACS ignored BP/BQ and sent the first page again
            values += page
            total = getattr(first, count_attribute)
            if len(page) != PAGE_SIZE or (total is not None and len(values) >= total):
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

    # --- 17s for the items listed ---------------------------------------------------------

    def _fetch_item(self, item_id: str) -> ItemInformation:
        return parse_item_information(self._request(
            lambda institution: builders.item_information_request(institution, item_id, self._terminal_password)
        ))

    def _sendable_items(self, item_ids: Sequence[str], kind: str = BARCODE) -> list[str]:
        """The list values that can go back in a 17's AB field: none where the lists carry titles
        (``kind``, the profile's), and not those an odd character keeps out of a field."""
        if not item_ids or kind != BARCODE or not self._acs_supports("item_information"):
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

    def _remember_loans(self, card: str, listed: Sequence[str]) -> list[str]:
        """Keep the listed loans that a 17 can look up, as the hint for ``_prefetch_loans``; returns them."""
        sendable = self._sendable_items(listed, self.options.profile.loan_ids)
        with self._lock:
            self._listed_loans[card] = tuple(sendable)
        return sendable

    def _prefetch_loans(self, card: str) -> None:
        """Start the 17s for the items last listed as this patron's loans, without waiting. Only with
        an item cache: without one, an answer that arrives before a page asks for it is lost."""
        if not self.options.prefetch or self.options.item_cache_seconds <= 0:
            return
        with self._lock:
            listed = self._listed_loans.get(card, ())
        if listed:
            self.items.prefetch(listed)

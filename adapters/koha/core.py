"""``KohaCore``: what every part of ``KohaAdapter`` stands on.

That is the settings, the staff API client, the library's time zone and today, which routes this
Koha has (``features``), a thread pool for lookups made in parallel, the title cache, and the
patron's own rows as Koha's JSON: their record, checkouts and holds. The operations are mixins over
this class (``auth``, ``account``, ``loans``, ``holds``, ``catalogue``); ``adapter.KohaAdapter``
combines them.

Every row here is read for the patron id in ``Patron.key``, the key ``authenticate`` returned, and
is filtered again by that id: a Koha that ignored the query's filter would still not show the
portal another patron's checkouts or holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from adapters.base import IlsAdapter
from adapters.errors import AuthenticationFailed, IlsUnavailable
from adapters.koha import mapping
from adapters.koha.client import KohaClient, KohaFeatures, quiet_httpx_logging
from adapters.koha.common import log, numeric_id
from adapters.koha.config import KohaConfigError, KohaSettings
from adapters.koha.titles import TitleCache
from adapters.models import AccountBlock, Patron

#: what GET /patrons embeds, for the account blocks (overdue loans, charges), where Koha declares it
PATRON_EMBEDS = ("overdues+count", "account_balance")
#: after a failed read of Koha's contract, how long to assume 23.11's routes before asking again
DISCOVERY_RETRY_SECONDS = 60.0


class KohaCore(IlsAdapter):
    """The state and the reads shared by the Koha adapter's parts; not an adapter on its own."""

    def __init__(self, settings: KohaSettings, *, transport: httpx.BaseTransport | None = None,
                 today: Callable[[], date] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.client = KohaClient(settings, transport=transport, sleep=sleep, clock=clock)
        try:
            self.tz = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise KohaConfigError(f"unknown time zone {settings.timezone!r} (PORTAL_KOHA_TIMEZONE)") from exc
        self._today = today
        self._clock = clock
        self.titles = TitleCache(self.client, ttl=settings.biblio_cache_seconds)
        self._features = KohaFeatures.from_version(settings.version) if settings.version else None
        self._discovery_failed_at: float | None = None
        self._features_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=settings.parallel_requests, thread_name_prefix="koha")
        # The password routes this Koha turned out to take (auth.AuthMixin changes them once, when Koha says so).
        self._public_password_route = settings.change_route != "staff"
        self._validation_route_missing = False  # Koha said 404 to POST /auth/password/validation

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Self:
        """From the app config. Keyword arguments (``transport``, ``today``, ...) are for tests and tools.

        Also keeps httpx's per-request INFO lines (full URLs, card numbers in them) out of the log,
        unless the deployment configured the ``httpx`` logger itself (``client.quiet_httpx_logging``)."""
        settings = KohaSettings.from_config(config)
        if quiet_httpx_logging():
            log.debug("httpx logger set to WARNING: its INFO lines carry full URLs with card numbers")
        return cls(settings, **kwargs)

    # --- the adapter itself ---------------------------------------------------------------

    @property
    def features(self) -> KohaFeatures:
        """The routes this Koha has: from KOHA_VERSION, else from the contract it serves (asked once)."""
        if self._features is not None:
            return self._features
        with self._features_lock:
            if self._features is not None:
                return self._features
            failed = self._discovery_failed_at
            if failed is None or self._clock() - failed >= DISCOVERY_RETRY_SECONDS:
                try:
                    self._features = KohaFeatures.from_spec(self.client.spec())
                    log.info("Koha routes found at GET /api/v1/: %s", self._features)
                    return self._features
                except IlsUnavailable as exc:
                    self._discovery_failed_at = self._clock()
                    log.warning("could not read Koha's API contract (%s); assuming the routes of Koha 23.11. "
                                "Set PORTAL_KOHA_VERSION to skip this step.", exc)
            return replace(KohaFeatures.from_version((23, 11)), source="assumed (Koha 23.11's routes)")

    def today(self) -> date:
        return self._today() if self._today is not None else datetime.now(self.tz).date()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def check_ready(self) -> None:
        self.client.get("/libraries", params={"_per_page": 1})

    def observe_cache(self, callback: Callable[[str, bool], None]) -> None:
        """Have ``callback(name, hit)`` told of every lookup in the title cache, from whichever thread
        made it: ``koha_biblios`` (titles), ``koha_item_biblios`` (item -> barcode and title, where Koha
        cannot embed the item: 23.11) and ``koha_libraries`` (library names); see ``titles.TitleCache``."""
        self.titles.on_lookup = callback

    def _map(self, function: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
        """``function`` over ``values``, on the thread pool when there are several (KOHA_PARALLEL_REQUESTS)."""
        if len(values) <= 1 or self.settings.parallel_requests <= 1:
            return [function(value) for value in values]
        return list(self._pool.map(function, values))

    # --- the patron's record ------------------------------------------------------------------

    def _fine_limit(self) -> Decimal | None:
        limit = self.settings.fine_limit
        return Decimal(str(limit)) if limit is not None else None

    def _blocks(self, row: Mapping[str, Any], today: date) -> tuple[AccountBlock, ...]:
        """The account blocks Koha's OPAC would apply to this patron record (the staff routes do not)."""
        return mapping.patron_blocks(row, today=today, fine_limit=self._fine_limit())

    def _patrons(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        headers = self.features.embed_header("GET", "/patrons", *PATRON_EMBEDS)
        answer = self.client.get("/patrons", params={**params, "_match": "exact"}, headers=headers)
        if not isinstance(answer.data, list):
            raise IlsUnavailable("Koha answered GET /patrons with something other than a list")
        return answer.data

    def _patron_json(self, patron_key: str) -> dict[str, Any]:
        """The patron's record by ``Patron.key``; AuthenticationFailed if Koha no longer has it."""
        key = numeric_id(patron_key)
        rows = self._patrons({"patron_id": key}) if key else []
        match = next((row for row in rows if str(row.get("patron_id")) == key), None)
        if match is None:
            raise AuthenticationFailed("unknown patron")  # a session outliving the patron's record
        return match

    def _patron_by_card(self, card: str) -> dict[str, Any] | None:
        """The record with exactly this (normalised) card number, or None."""
        rows = self._patrons({"cardnumber": card})
        return next((row for row in rows if str(row.get("cardnumber") or "").upper() == card.upper()), None)

    def _to_patron(self, row: Mapping[str, Any], *, must_change_password: bool = False) -> Patron:
        return mapping.patron_from_json(row, today=self.today(), fine_limit=self._fine_limit(),
                                        must_change_password=must_change_password)

    # --- the patron's checkouts and holds, as Koha's JSON ----------------------------------------

    def _checkouts(self, patron_id: Any, *, embed: bool) -> list[dict[str, Any]]:
        """The patron's current checkouts; if ``embed``, with what the route can embed of their item:
        the item and its title (``item.biblio``, 24.11+), the item alone (``item``: 24.05, whose
        checkout object has no barcode), or nothing (23.11; ``loans`` then looks the items up)."""
        if self.features.patron_checkouts:
            template, path, params = "/patrons/{patron_id}/checkouts", f"/patrons/{patron_id}/checkouts", None
        else:
            template, path, params = "/checkouts", "/checkouts", {"patron_id": patron_id}
        headers = self.features.embed_header("GET", template, ("item.biblio", "item")) if embed else None
        rows = self.client.get_all(path, params=params, headers=headers)
        return [row for row in rows if str(row.get("patron_id")) == str(patron_id)]

    def _hold_rows(self, key: str) -> list[dict[str, Any]]:
        """The patron's holds (``key`` is their Koha patron id)."""
        rows = self.client.get_all(f"/patrons/{key}/holds")
        return [row for row in rows if str(row.get("patron_id")) == key]

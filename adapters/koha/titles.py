"""``TitleCache``: Koha's title records (biblios), which title each item is a copy of, and the
libraries' names, fetched when first needed and kept for ``KOHA_BIBLIO_CACHE_SECONDS``.

Loan and hold lists name every entry by its title, and Koha's hold and (before 24.05) checkout
routes cannot embed it, so without this cache a list page would cost one request per entry.
Lookups run in parallel on the adapter's thread pool: the caches are read and written under one
lock, and Koha is asked outside it (two threads missing the same title may both fetch it, which is
harmless).

Every lookup in each cache is reported, when ``on_lookup`` is set (``KohaAdapter.observe_cache``),
as ``on_lookup(cache, hit)`` with the cache's name below; the portal counts them in
``shiori_cache_lookups_total``. A title Koha sent anyway (``remember``) is not a lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import TTLCache

from adapters.errors import IlsUnavailable
from adapters.koha.client import KohaApiError, KohaClient, KohaPermissionError, KohaRouteMissing
from adapters.koha.common import log, numeric_id

#: the names lookups are reported under: title records by biblio id, item id -> biblio id, library names
BIBLIO_CACHE = "koha_biblios"
ITEM_CACHE = "koha_item_biblios"
LIBRARY_CACHE = "koha_libraries"


class TitleCache:
    """Title records as Koha's JSON, by biblio id; item id -> barcode and biblio id; library id -> name."""

    def __init__(self, client: KohaClient, *, ttl: float) -> None:
        self.client = client
        self.on_lookup: Callable[[str, bool], None] | None = None  # told (cache name, hit) of every lookup
        ttl = max(ttl, 0.001)
        self._biblios: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=4096, ttl=ttl)
        self._items: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=8192, ttl=ttl)
        self._libraries: TTLCache[str, list[dict]] = TTLCache(maxsize=1, ttl=ttl)
        self._lock = threading.Lock()

    def remember(self, biblio: Mapping[str, Any]) -> None:
        """Keep a title record Koha sent anyway (a search result, a checkout's embedded title)."""
        if biblio.get("biblio_id") is not None:
            with self._lock:
                self._biblios[str(biblio["biblio_id"])] = dict(biblio)

    def biblio(self, biblio_id: Any) -> dict[str, Any] | None:
        """The title record as JSON, cached; None if Koha no longer has it. Errors propagate."""
        key = numeric_id(biblio_id)
        if key is None:
            return None
        with self._lock:
            cached = self._biblios.get(key)
        self._looked_up(BIBLIO_CACHE, cached is not None)
        if cached is not None:
            return cached
        try:
            answer = self.client.get(f"/biblios/{key}", headers={"Accept": "application/json"})
        except KohaApiError as exc:
            if exc.status == 404 and not isinstance(exc, KohaRouteMissing):
                return None
            raise
        if isinstance(answer.data, dict):
            self.remember(answer.data)
            return answer.data
        return None

    def biblio_or_none(self, biblio_id: Any) -> dict[str, Any] | None:
        """``biblio`` for a list page: a failed title lookup shows the entry without its title.

        A missing permission or route still raises: that is the library's configuration to fix."""
        try:
            return self.biblio(biblio_id)
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:
            log.warning("no title for biblio %s: %s", biblio_id, exc)
            return None

    def item(self, item_id: Any) -> dict[str, Any] | None:
        """An item's id, barcode (``external_id``) and biblio id, by ``GET /items/{id}`` (cached), for a
        checkout that came without its item (23.11's routes cannot embed it); None if Koha has no such item."""
        key = numeric_id(item_id)
        if key is None:
            return None
        with self._lock:
            cached = self._items.get(key)
        self._looked_up(ITEM_CACHE, cached is not None)
        if cached is not None:
            return cached
        try:
            answer = self.client.get(f"/items/{key}")
        except KohaApiError as exc:
            if exc.status == 404 and not isinstance(exc, KohaRouteMissing):
                return None
            raise
        data = answer.data if isinstance(answer.data, dict) else {}
        if data.get("biblio_id") is None:
            return None
        item = {"item_id": data.get("item_id"), "external_id": data.get("external_id"), "biblio_id": data["biblio_id"]}
        with self._lock:
            self._items[key] = item
        return item

    def libraries(self) -> list[dict]:
        """Every library as Koha's JSON (``GET /libraries``): names for holds, the pickup list."""
        with self._lock:
            cached = self._libraries.get("all")
        self._looked_up(LIBRARY_CACHE, cached is not None)
        if cached is not None:
            return cached
        rows = list(self.client.get_all("/libraries"))
        with self._lock:
            self._libraries["all"] = rows
        return rows

    def library_names(self) -> dict[str, str]:
        """Every library's name by its id."""
        return {str(row["library_id"]): str(row.get("name") or row["library_id"]) for row in self.libraries()}

    def _looked_up(self, cache: str, hit: bool) -> None:
        if self.on_lookup is not None:
            self.on_lookup(cache, hit)

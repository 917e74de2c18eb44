"""The catalogue: searching titles (where Koha has ``GET /biblios``), one title's record page, and the
volumes of its series (``series_title`` and the biblioitem's ``volume``, where Koha has ``GET /biblios``).

A search is a DBIC query: every word must match the title, author or ISBN (``-like``, its
wildcards escaped), at most ``MAX_SEARCH_TERMS`` words. The titles found are kept in the title
cache, so the record page and a hold placed from it do not ask for them again.
"""

from __future__ import annotations

import json

from adapters.errors import IlsUnavailable, RecordNotFound
from adapters.koha import mapping
from adapters.koha.client import KohaApiError, KohaPermissionError, KohaRouteMissing
from adapters.koha.common import log, numeric_id
from adapters.koha.core import KohaCore
from adapters.models import Capability, Record, SearchResult
from adapters.validation import check_safe_text

MAX_PER_PAGE = 100
MAX_SEARCH_TERMS = 8


def _like(term: str) -> str:
    """A term for a DBIC ``-like`` filter, its wildcards escaped."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class CatalogueMixin(KohaCore):
    """``search`` and ``record``."""

    def search(self, query: str, page: int = 1, per_page: int = 20) -> SearchResult:
        self.require(Capability.CATALOG_SEARCH)
        page, per_page = max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))
        terms = [term for term in (query or "").split() if term][:MAX_SEARCH_TERMS]
        if not terms:
            return SearchResult(query=query, records=(), total=0, page=page, per_page=per_page)
        for term in terms:
            check_safe_text(term, 200)
        each = [{"-or": [{field: {"-like": _like(term)}} for field in ("title", "author", "isbn")]} for term in terms]
        q = each[0] if len(each) == 1 else {"-and": each}
        answer = self.client.get("/biblios", params={"q": json.dumps(q, ensure_ascii=False), "_page": page,
                                                     "_per_page": per_page, "_order_by": "title"},
                                 headers={"Accept": "application/json"})
        rows = answer.data if isinstance(answer.data, list) else []
        for row in rows:
            self.titles.remember(row)
        total = answer.total if answer.total is not None else (page - 1) * per_page + len(rows)
        return SearchResult(query=query, records=tuple(mapping.record_from_biblio(row) for row in rows),
                            total=total, page=page, per_page=per_page)

    def record(self, record_id: str) -> Record:
        """The title (cached) with its copies (GET /biblios/{id}/items) and how many holds it has."""
        biblio_id = numeric_id(record_id)
        if biblio_id is None:
            raise RecordNotFound(record_id)
        biblio = self.titles.biblio(biblio_id)
        if biblio is None:
            raise RecordNotFound(record_id)
        try:
            items = self.client.get_all(f"/biblios/{biblio_id}/items")
        except KohaApiError as exc:
            if exc.status == 404 and not isinstance(exc, KohaRouteMissing):
                raise RecordNotFound(record_id) from exc
            raise
        return mapping.record_from_biblio(biblio, items=items, holds=self._holds_on(biblio_id))

    def series_volumes(self, record: Record) -> list[Record]:
        """The titles with the same series title (GET /biblios, q on ``series_title``), in volume order."""
        self.require(Capability.SERIES)
        if record.volume is None:
            return []
        rows = self.client.get_all("/biblios", params={"q": json.dumps({"series_title": record.volume.series},
                                                                        ensure_ascii=False)},
                                   headers={"Accept": "application/json"})
        for row in rows:
            self.titles.remember(row)
        volumes = [mapping.record_from_biblio(row) for row in rows]
        return sorted((found for found in volumes if found.volume is not None),
                      key=lambda found: (found.volume.number, found.record_id))

    def _holds_on(self, biblio_id: str) -> int | None:
        """How many holds the title has (the total of a one-row page), or None if Koha could not say."""
        try:
            answer = self.client.get("/holds", params={"biblio_id": biblio_id, "_per_page": 1})
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:
            log.warning("no hold count for biblio %s: %s", biblio_id, exc)  # the page shows without it
            return None
        if answer.total is not None:
            return answer.total
        return len(answer.data) if isinstance(answer.data, list) else None

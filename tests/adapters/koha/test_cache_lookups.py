"""The Koha adapter's title cache reports every lookup through ``observe_cache``, as the SIP2 item
cache does, so that ``shiori_cache_lookups_total`` shows its hits and misses: ``koha_biblios``
(title records), ``koha_item_biblios`` (item -> barcode and title, for a Koha that cannot embed
the item in a checkout) and ``koha_libraries`` (libraries: names, pickup list). The page-level check is in test_pages.py."""

from __future__ import annotations

import pytest

from adapters.errors import RecordNotFound
from adapters.koha.titles import BIBLIO_CACHE, ITEM_CACHE, LIBRARY_CACHE

TITLE_REQUESTS = "/api/v1/biblios/"


def observe(adapter) -> list[tuple[str, bool]]:
    """Every (cache name, hit) the adapter reports from now on."""
    seen: list[tuple[str, bool]] = []
    adapter.observe_cache(lambda cache, hit: seen.append((cache, hit)))
    return seen


def of(seen: list[tuple[str, bool]], cache: str) -> list[bool]:
    return [hit for name, hit in seen if name == cache]


def test_cache_names_are_the_documented_ones():
    assert (BIBLIO_CACHE, ITEM_CACHE, LIBRARY_CACHE) == ("koha_biblios", "koha_item_biblios", "koha_libraries")


def test_titles_of_holds_miss_once_then_hit(adapter, login, koha):
    """The first holds page fetches each title (a miss each); the second is served from the cache."""
    patron = login("hold-ready")
    seen = observe(adapter)
    adapter.holds(patron.key)
    first = of(seen, BIBLIO_CACHE)
    assert first and not any(first)
    assert of(seen, LIBRARY_CACHE) == [False]
    seen.clear()
    koha.reset_calls()
    holds = adapter.holds(patron.key)
    assert of(seen, BIBLIO_CACHE) == [True] * len(first)
    assert of(seen, LIBRARY_CACHE) == [True]
    assert not koha.requests("GET", prefix=TITLE_REQUESTS)  # a reported hit asked Koha nothing
    assert all(hold.title for hold in holds)


def test_a_record_page_misses_then_hits(adapter, login, holdable):
    biblio_id, _, title = holdable
    seen = observe(adapter)
    assert adapter.record(str(biblio_id)).title == title
    assert seen == [(BIBLIO_CACHE, False)]
    adapter.record(str(biblio_id))
    assert seen == [(BIBLIO_CACHE, False), (BIBLIO_CACHE, True)]


def test_an_id_that_is_not_one_is_no_lookup(adapter):
    """A record id Koha could not have is refused before the cache is asked."""
    seen = observe(adapter)
    with pytest.raises(RecordNotFound):
        adapter.record("R0168")
    assert seen == []


def test_the_loans_page_looks_up_only_what_the_release_cannot_embed(adapter, login, koha, fake):
    """24.11+ embed each loan's item and title (``item.biblio``): nothing is looked up, the cache is only
    filled. 24.05 embeds the item alone: each title by its biblio id. 23.11 embeds neither: item, then
    title. Each lookup misses once and hits the second time, without asking Koha again."""
    patron = login("regular")
    seen = observe(adapter)
    loans = adapter.loans(patron.key)
    items, titles = of(seen, ITEM_CACHE), of(seen, BIBLIO_CACHE)
    if fake.version >= (24, 11):
        assert loans and seen == []
        adapter.record(loans[0].record_id)
        assert seen == [(BIBLIO_CACHE, True)]
        return
    expected_items = 0 if fake.version >= (24, 5) else len(loans)
    assert len(items) == expected_items and not any(items)
    assert len(titles) == len(loans) and not any(titles)
    seen.clear()
    koha.reset_calls()
    assert [(loan.title, loan.item_id) for loan in adapter.loans(patron.key)] == [
        (loan.title, loan.item_id) for loan in loans]
    assert of(seen, ITEM_CACHE) == [True] * expected_items
    assert of(seen, BIBLIO_CACHE) == [True] * len(loans)
    assert not koha.requests("GET", prefix="/api/v1/items/")
    assert not koha.requests("GET", prefix=TITLE_REQUESTS)


def test_without_an_observer_lookups_still_work(adapter, login):
    patron = login("hold-ready")
    assert all(hold.title for hold in adapter.holds(patron.key))
    assert all(hold.title for hold in adapter.holds(patron.key))


def test_the_pickup_list_comes_from_the_library_cache(adapter, login, koha):
    """The hold form's list of libraries (no title given) asks Koha for /libraries once, not per form."""
    patron = login("regular")
    seen = observe(adapter)
    first = adapter.pickup_locations(patron.key)
    koha.reset_calls()
    assert adapter.pickup_locations(patron.key) == first and first
    assert of(seen, LIBRARY_CACHE) == [False, True]
    assert not koha.requests("GET", prefix="/api/v1/libraries")

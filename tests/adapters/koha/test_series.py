"""A title's series over Koha: ``series_title`` and the biblioitem's ``volume`` (Koha::Biblio->to_api),
its volumes found with GET /biblios (q on series_title), where Koha has that route."""

from __future__ import annotations

import json

import pytest

from adapters.demo.koha_server import RELEASES
from adapters.errors import NotSupported
from adapters.models import Capability

#: the lines with GET /biblios, which finding a series' volumes needs
BIBLIO_SEARCH = [line for line in RELEASES if line != "22.11"]


@pytest.mark.parametrize("koha_version", BIBLIO_SEARCH)
def test_a_record_knows_its_series_and_finds_its_volumes_in_order(adapter, koha):
    assert adapter.supports(Capability.SERIES)
    record = adapter.record("285")  # 1Q84 BOOK3
    assert record.volume is not None and record.volume.series == "1Q84" and record.volume.number == 3
    koha.reset_calls()
    volumes = adapter.series_volumes(record)
    assert [found.title for found in volumes] == ["1Q84 BOOK1", "1Q84 BOOK2", "1Q84 BOOK3"]
    [call] = [call for call in koha.router.calls if call.request.url.path.endswith("/biblios")]
    assert json.loads(call.request.url.params["q"]) == {"series_title": "1Q84"}


@pytest.mark.parametrize("koha_version", BIBLIO_SEARCH)
def test_a_record_outside_any_series_has_none(adapter):
    record = adapter.record("1")
    assert record.volume is None and adapter.series_volumes(record) == []


@pytest.mark.parametrize("koha_version", ["22.11"])
def test_without_biblio_search_there_is_no_series(adapter, koha_version):
    assert not adapter.supports(Capability.SERIES)
    with pytest.raises(NotSupported):
        adapter.series_volumes(adapter.record("285"))

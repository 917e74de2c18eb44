"""The fake Koha: the demo library behind Koha's REST API v1, one release line's shapes at a time
(``FakeKoha(version="24.05")``), for the tests, ``tools/fake_koha.py`` and librarians trying the
portal without a Koha. Every shape and route comes from that release's vendored contract
(``contract``; tests/fixtures/koha/). See adapters/koha/README.md ("Trying it without a Koha")."""

from adapters.demo.koha_server.contract import RELEASES, VENDORED, KohaContract, MissingContract, release_line
from adapters.demo.koha_server.library import (
    CLIENT_ID,
    CLIENT_SECRET,
    STAFF_PASSWORD,
    STAFF_USER,
    Library,
    holdable_record,
)
from adapters.demo.koha_server.protocol import FakeResponse, KohaError
from adapters.demo.koha_server.server import FakeKoha

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "RELEASES", "STAFF_PASSWORD", "STAFF_USER", "VENDORED", "FakeKoha",
           "FakeResponse", "KohaContract", "KohaError", "Library", "MissingContract", "holdable_record",
           "release_line"]

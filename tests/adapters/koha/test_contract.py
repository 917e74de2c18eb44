"""The Koha adapter keeps the whole adapter contract, on the routes of Koha 24.05 and of 23.11
(fixtures in conftest.py; every request and answer is checked against Koha's contract)."""

import pytest

from tests.adapters.contract import AdapterContract


class TestKohaContract(AdapterContract):
    """Koha 24.05+: loans with their titles embedded (GET /patrons/{id}/checkouts)."""


class TestKoha2311Contract(AdapterContract):
    """Koha 23.11: GET /checkouts?patron_id=, titles through GET /items/{id} and the biblio cache."""

    @pytest.fixture
    def koha_version(self) -> str:
        return "23.11"

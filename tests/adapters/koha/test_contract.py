"""The Koha adapter keeps the whole adapter contract, on the routes of Koha 24.05, 23.11 and 22.11
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


class TestKoha2211Contract(AdapterContract):
    """Koha 22.11: no POST /auth/password/validation, so passwords are checked by HTTP Basic as the
    patron (GET /patrons/{id}); no GET /biblios, so no catalogue search; loans as on 23.11."""

    @pytest.fixture
    def koha_version(self) -> str:
        return "22.11"

"""Fixtures for the Koha adapter: the fake Koha (the demo's library) behind respx, checked against
Koha's contract, and the adapter on it. Each test gets fresh state.

The contract suite's fixtures (``adapter``, ``contract_patrons``, ``contract_ids``, ``ils_control``)
are defined here. ``koha_version`` is the Koha release line the fake plays: every test in this folder
that uses the fake runs once per line (``pytest_generate_tests``: 22.11 to 25.11), unless it
parametrises ``koha_version`` itself; the adapter finds the routes from the contract the fake serves.
Outside this folder (tests/security imports these fixtures) the fake plays 24.05.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.demo.koha_server import CLIENT_ID, CLIENT_SECRET, RELEASES, FakeKoha, holdable_record
from adapters.demo.seed import BY_CASE
from adapters.koha import KohaAdapter
from tests.adapters.koha.fake_koha import BASE_URL, RespxKoha

#: the lines with POST /auth/password/validation (22.11 checks passwords as the patron, by HTTP Basic)
VALIDATING = [line for line in RELEASES if line != "22.11"]
#: the lines with GET /patrons/{patron_id}/checkouts
PATRON_CHECKOUTS = [line for line in RELEASES if line >= "24.05"]
UNKNOWN_RECORD = "999999"
UNKNOWN_CARD = "1999999999"

KOHA_CONFIG: dict[str, Any] = {
    "KOHA_URL": BASE_URL,
    "KOHA_CLIENT_ID": CLIENT_ID,
    "KOHA_CLIENT_SECRET": CLIENT_SECRET,
    "KOHA_RETRY_BACKOFF": 0,
    "KOHA_RENEWAL_WINDOW_DAYS": 7,  # the fake's "No renewal before"
    "KOHA_FAILED_LOGIN_ATTEMPTS": 5,  # the fake's FailedLoginAttempts
    "KOHA_FINE_LIMIT": 1000,  # as the demo's DEMO_FINE_LIMIT
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    "DUE_SOON_DAYS": 3,
}


def credentials(case: str) -> tuple[str, str]:
    patron = BY_CASE[case]
    return patron.card, patron.password


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every Koha test runs on every release line, unless it names its lines itself."""
    if "koha_version" not in metafunc.fixturenames:
        return
    if any("koha_version" in str(mark.args[0]) for mark in metafunc.definition.iter_markers("parametrize")):
        return
    metafunc.parametrize("koha_version", RELEASES, ids=[f"koha{line}" for line in RELEASES])


@pytest.fixture
def koha_version() -> str:
    return "24.05"


@pytest.fixture
def fake(koha_version) -> FakeKoha:
    return FakeKoha(version=koha_version)


@pytest.fixture
def holdable(fake) -> tuple[int, int, str]:
    return holdable_record(fake)


@pytest.fixture
def koha(fake, holdable) -> Iterator[RespxKoha]:
    server = RespxKoha(fake)
    yield server
    assert server.contract.violations == [], "requests or answers broke Koha's contract"


@pytest.fixture
def koha_config() -> dict[str, Any]:
    return dict(KOHA_CONFIG)


@pytest.fixture
def make_adapter(koha, fake, koha_config):
    made: list[KohaAdapter] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> KohaAdapter:
        """An adapter on the fake; ``config`` adds settings, ``kwargs`` go to KohaAdapter (sleep=, clock=)."""
        kwargs.setdefault("transport", koha.transport)
        kwargs.setdefault("today", lambda: fake.today)
        adapter = KohaAdapter.from_config({**koha_config, **(config or {})}, **kwargs)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def login(adapter):
    def login(case: str):
        return adapter.authenticate(*credentials(case))

    return login


# --- the fixtures tests/adapters/contract.py asks for ------------------------------------------


@pytest.fixture
def adapter(make_adapter) -> KohaAdapter:
    return make_adapter()


@pytest.fixture
def contract_patrons() -> dict[str, tuple[str, str]]:
    cases = {"regular": "regular", "hold-ready": "hold-ready", "first-login": "first-login",
             "blocked": "blocked", "other": "english"}
    return {case: credentials(demo_case) for case, demo_case in cases.items()}


@pytest.fixture
def contract_ids(holdable) -> dict[str, str]:
    biblio_id, item_id, title = holdable
    return {"holdable_record": str(biblio_id), "holdable_item": str(item_id), "unknown_record": UNKNOWN_RECORD,
            "unknown_card": UNKNOWN_CARD, "query": title}


class KohaControl:
    """The library's side of the fake Koha, as the contract suite drives it."""

    def __init__(self, fake: FakeKoha) -> None:
        self.fake = fake

    def checkin(self, item_id: str) -> None:
        self.fake.checkin(item_id)


@pytest.fixture
def ils_control(fake) -> KohaControl:
    return KohaControl(fake)

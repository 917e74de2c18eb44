"""tools/fake_koha.py: the stand-in Koha over real HTTP on 127.0.0.1, with the adapter (and the
contract checker, in front of a real httpx transport) talking to it through a socket."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.demo.koha_server import FakeKoha, holdable_record
from adapters.errors import AuthenticationFailed
from adapters.koha import KohaAdapter
from adapters.models import HoldRequest, HoldStatus, RenewalStatus
from tests.adapters.koha.conftest import KOHA_CONFIG, VALIDATING, credentials
from tests.adapters.koha.openapi_bridge import ContractChecker

TOOL = Path(__file__).resolve().parents[3] / "tools" / "fake_koha.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("fake_koha_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CheckedTransport(httpx.BaseTransport):
    """A real HTTP transport with Koha's contract checked on the way out and back."""

    def __init__(self, checker: ContractChecker) -> None:
        self.inner = httpx.HTTPTransport()
        self.checker = checker

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.checker.check_request(request)
        response = self.inner.handle_request(request)
        response.read()
        self.checker.check_response(request, response)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def served(request) -> Iterator[tuple[str, FakeKoha]]:
    from werkzeug.serving import make_server

    tool = load_tool()
    fake = FakeKoha(version=getattr(request, "param", "24.05"))
    server = make_server("127.0.0.1", 0, tool.make_app(fake), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("served", VALIDATING, indirect=True)
def test_the_portal_adapter_works_against_the_tool_over_http(served):
    url, fake = served
    biblio_id, item_id, _ = holdable_record(fake)
    checker = ContractChecker(fake.release.line)
    adapter = KohaAdapter.from_config({**KOHA_CONFIG, "KOHA_URL": url}, transport=CheckedTransport(checker))
    try:
        patron = adapter.authenticate(*credentials("regular"))
        loans = adapter.loans(patron.key)
        renewable = next(loan for loan in loans if loan.forecast.status is RenewalStatus.RENEWABLE)
        assert adapter.renew(patron.key, [renewable.loan_id]).renewed_count == 1
        hold = adapter.place_hold(patron.key, HoldRequest(str(biblio_id), "MAIN"))
        desk = httpx.post(f"{url}/_desk/checkin/{item_id}")
        assert desk.json()["set_aside_for_hold"] == int(hold.hold_id)
        after = {h.hold_id: h for h in adapter.holds(patron.key)}[hold.hold_id]
        assert after.status in (HoldStatus.READY, HoldStatus.IN_TRANSIT)
        assert adapter.search("こころ").total >= 1
    finally:
        adapter.close()
    assert checker.violations == [] and len(checker.checked) > 10


@pytest.mark.parametrize("served", ["22.11"], indirect=True)
def test_the_portal_logs_in_to_a_2211_tool_by_basic_auth_as_the_patron(served):
    url, fake = served
    checker = ContractChecker(fake.release.line)
    adapter = KohaAdapter.from_config({**KOHA_CONFIG, "KOHA_URL": url}, transport=CheckedTransport(checker))
    try:
        card, password = credentials("regular")
        patron = adapter.authenticate(card, password)
        assert not adapter.features.password_validation and adapter.loans(patron.key)
        with pytest.raises(AuthenticationFailed):
            adapter.authenticate(card, password + "x")
    finally:
        adapter.close()
    assert (("GET", f"/api/v1/patrons/{patron.key}", 403) in checker.checked
            and not any(path.endswith("/auth/password/validation") for _, path, _ in checker.checked))
    assert checker.violations == []


def test_the_desk_lists_the_demo_cards(served):
    url, _ = served
    desk = httpx.get(f"{url}/_desk").json()
    assert {"regular", "first-login", "blocked"} <= {patron["case"] for patron in desk["patrons"]}
    assert httpx.post(f"{url}/_desk/checkin/NOPE").status_code == 404
    assert httpx.get(f"{url}/api/v1/patrons").status_code == 401  # Koha wants credentials
    assert httpx.post(f"{url}/_desk/revoke/circulate").json() == {"revoked": "circulate"}


def test_the_tool_parses_its_arguments(monkeypatch):
    tool = load_tool()
    started = {}

    class Server:
        port = 18081

        def serve_forever(self):
            started["served"] = True
            raise KeyboardInterrupt

        def server_close(self):
            started["closed"] = True

    monkeypatch.setattr(tool, "make_server", lambda host, port, app, threaded: Server())
    tool.main(["--port", "18081", "--koha-version", "23.11", "--quiet"])
    assert started == {"served": True, "closed": True}
    started.clear()
    tool.main(["--port", "18081", "--koha-version", "22.11", "--quiet"])
    assert started == {"served": True, "closed": True}
    started.clear()
    tool.main(["--port", "18081", "--koha-version", "25.11.01", "--quiet"])  # a release of the 25.11 line
    assert started == {"served": True, "closed": True}
    for unsupported in ("21.05", "latest", "26.05"):
        with pytest.raises(SystemExit):
            tool.main(["--koha-version", unsupported])

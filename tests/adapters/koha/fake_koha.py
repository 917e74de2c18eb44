"""The fake Koha (``adapters.demo.koha_server.FakeKoha``) behind respx, with the contract of the Koha
release it plays checked both ways.

``RespxKoha.transport`` is what the adapter's httpx client is given. Every request goes through
``ContractChecker.check_request``, then the respx router (so ``router.calls`` records it), then the
fake (or a fault a test injected), and the answer through ``check_response``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from adapters.demo.koha_server import FakeKoha
from tests.adapters.koha.openapi_bridge import ContractChecker

BASE_URL = "https://koha.test"

Responder = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Fault:
    method: str
    path: str
    respond: Responder
    times: int | None = 1  # None: every time

    def matches(self, request: httpx.Request) -> bool:
        return request.method == self.method and request.url.path == self.path and self.times != 0


class RespxKoha:
    def __init__(self, fake: FakeKoha, checker: ContractChecker | None = None) -> None:
        self.fake = fake
        self.contract = checker or ContractChecker(fake.release.line)
        self.router = respx.Router(assert_all_called=False, base_url=BASE_URL)
        self.router.route(name="koha").mock(side_effect=self._answer)
        self.faults: list[Fault] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.contract.check_request(request)
        response = self.router.handler(request)
        self.contract.check_response(request, response)
        return response

    def _answer(self, request: httpx.Request) -> httpx.Response:
        for fault in self.faults:
            if fault.matches(request):
                if fault.times is not None:
                    fault.times -= 1
                respond = fault.respond
                if isinstance(respond, Exception):
                    raise respond
                if isinstance(respond, httpx.Response):
                    return httpx.Response(respond.status_code, headers=respond.headers, content=respond.content)
                return respond(request)
        answer = self.fake.handle(request.method, request.url.path, request.url.query.decode("utf-8"),
                                  dict(request.headers), request.read())
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    # --- for tests ---------------------------------------------------------------------------

    def fail(self, method: str, path: str, respond: Responder, times: int | None = 1) -> Fault:
        """Answer the next ``times`` requests to ``method path`` (the full path) with ``respond``."""
        fault = Fault(method.upper(), path, respond, times)
        self.faults.append(fault)
        return fault

    def requests(self, method: str | None = None, path: str | None = None, *, prefix: str = "") -> list[tuple[str, str]]:
        """(method, path) of every request the adapter sent, in order: to ``path``, or below ``prefix``."""
        return [(call.request.method, call.request.url.path) for call in self.router.calls
                if (method is None or call.request.method == method)
                and (path is None or call.request.url.path == path) and call.request.url.path.startswith(prefix)]

    def reset_calls(self) -> None:
        self.router.calls.clear()


def koha_error(status: int, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": message, **extra})

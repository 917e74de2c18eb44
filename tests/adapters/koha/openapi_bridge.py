"""httpx <-> openapi-core: every request the Koha adapter sends, and every answer a test gives it,
checked against the contract of ONE Koha release line, the one the fake Koha plays.

The contracts are vendored per release line under ``tests/fixtures/koha/`` (Koha's own spec files,
converted to OpenAPI 3.1 by ``build.py`` there; provenance in its README) and loaded by
``adapters.demo.koha_server.contract.release_spec``, which the fake reads too: what the fake serves and
what is checked here cannot come from two sources. Two routes the adapter uses are supplemented
there where a line's bundle lacks them (``GET /biblios`` from Koha's own file, ``GET /items/{item_id}``
declared with the line's ``item`` definition), and ``GET /api/v1/`` answers the contract itself
(checked to be Swagger 2.0 with ``paths``). A missing contract fails (``MissingContract``), never skips.

Koha also refuses query parameters an operation does not declare (``validate_query_parameters``);
openapi-core does not, so the bridge checks that too.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from adapters.demo.koha_server.contract import release_line, release_spec

API = "/api/v1"
DEFAULT_LINE = "24.05"


_VALID_REQUESTS: set[tuple[object, ...]] = set()  # see ContractChecker.check_request


class ContractViolation(AssertionError):
    """A request or an answer that Koha's contract does not allow."""


def koha_spec(line: str = DEFAULT_LINE) -> dict[str, Any]:
    return release_spec(release_line(line))


@cache
def koha_openapi(line: str = DEFAULT_LINE) -> OpenAPI:
    # The spec itself was validated when it was built (tests/fixtures/koha/build.py loads it in
    # openapi-core); validating it again here costs 6 s per line for nothing.
    return OpenAPI.from_dict(copy.deepcopy(koha_spec(line)), config=Config(spec_validator_cls=None))


@cache
def _operations(line: str) -> list[tuple[re.Pattern[str], str, str, dict[str, Any]]]:
    found = []
    for template, item in koha_spec(line)["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{(\w+)\\}", r"[^/]+", re.escape(API + template)) + "$")
        for method, operation in item.items():
            if isinstance(operation, dict) and method != "parameters":
                found.append((pattern, method.upper(), template, operation))
    # literal paths before templated ones (/checkouts/availability before /checkouts/{checkout_id})
    found.sort(key=lambda entry: entry[2].count("{"))
    return found


def operation_for(method: str, path: str, line: str = DEFAULT_LINE) -> tuple[str, dict[str, Any]] | None:
    for pattern, verb, template, operation in _operations(release_line(line)):
        if verb == method.upper() and pattern.match(path):
            return template, operation
    return None


def _query_names(operation: dict[str, Any], line: str) -> set[str]:
    parameters = koha_spec(line)["components"]["parameters"]
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = parameters[parameter["$ref"].rsplit("/", 1)[-1]]
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return names


class HttpxOpenAPIRequest:
    """openapi-core's Request protocol over an ``httpx.Request``."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        url = request.url
        self.host_url = f"{url.scheme}://{url.netloc.decode('ascii')}"
        self.path = url.path
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query.decode("utf-8"), keep_blank_values=True)),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )
        content = request.read()
        self.body = content or None
        self.content_type = request.headers.get("content-type", "")


class HttpxOpenAPIResponse:
    """openapi-core's Response protocol over an ``httpx.Response``."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data = response.read() or None
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.multi_items()))


class ContractChecker:
    """Checks what passes between the adapter and the (fake) Koha; records every violation.

    A violation raises ``ContractViolation`` at once (it reaches the test through httpx), unless a
    test says it expects one (``expecting_violation``: an answer deliberately off the contract, such
    as a body that is not JSON, to see the adapter cope)."""

    def __init__(self, line: str = DEFAULT_LINE) -> None:
        self.line = release_line(line)
        self.openapi = koha_openapi(self.line)
        self.violations: list[str] = []
        self.checked: list[tuple[str, str, int | None]] = []
        self._expecting = 0

    def _fail(self, message: str) -> None:
        self.violations.append(message)
        if not self._expecting:
            raise ContractViolation(message)

    @contextmanager
    def expecting_violation(self) -> Iterator[list[str]]:
        before = len(self.violations)
        seen: list[str] = []
        self._expecting += 1
        try:
            yield seen
        finally:
            self._expecting -= 1
            seen.extend(self.violations[before:])
            del self.violations[before:]
        if not seen:
            raise AssertionError("the answer was expected to break Koha's contract, and did not")

    def check_request(self, request: httpx.Request) -> None:
        path = request.url.path
        if request.method == "GET" and path in (API, API + "/"):
            return
        found = operation_for(request.method, path, self.line)
        if found is None:
            self._fail(f"{request.method} {path}: no such operation in Koha {self.line}'s contract")
            return
        template, operation = found
        declared = _query_names(operation, self.line)
        for name, _ in parse_qsl(request.url.query.decode("utf-8"), keep_blank_values=True):
            if name not in declared:
                self._fail(f"{request.method} {template}: Koha {self.line} refuses the undeclared query parameter "
                           f"{name!r}")
        # openapi-core walks every parameter a route declares (GET /patrons: about 75), 0.5 s a request;
        # a request identical to one that passed (credentials aside: the contract declares no
        # security scheme) passes again, so it is not validated twice.
        key = (self.line, request.method, str(request.url), request.read(),
               tuple(sorted((k, v) for k, v in request.headers.items() if k.lower() != "authorization")))
        if key in _VALID_REQUESTS:
            return
        try:
            self.openapi.validate_request(HttpxOpenAPIRequest(request))
        except Exception as error:  # noqa: BLE001 - openapi-core raises many kinds; each is a violation
            self._fail(f"{request.method} {template}: request breaks Koha {self.line}'s contract: {_describe(error)}")
        else:
            _VALID_REQUESTS.add(key)

    def check_response(self, request: httpx.Request, response: httpx.Response) -> None:
        path = request.url.path
        self.checked.append((request.method, path, response.status_code))
        if request.method == "GET" and path in (API, API + "/"):
            try:
                document = json.loads(response.read())
            except ValueError:
                document = None
            if not (isinstance(document, dict) and document.get("swagger") == "2.0"
                    and isinstance(document.get("paths"), dict)):
                self._fail(f"GET {path}: not Koha's Swagger 2.0 contract")
            return
        try:
            self.openapi.validate_response(HttpxOpenAPIRequest(request), HttpxOpenAPIResponse(response))
        except Exception as error:  # noqa: BLE001
            self._fail(f"{request.method} {path} -> {response.status_code}: answer breaks Koha {self.line}'s "
                       f"contract: {_describe(error)}")


def _describe(error: BaseException) -> str:
    parts = [f"{type(error).__name__}: {error}"]
    cause = error.__cause__ or error.__context__
    seen = 0
    while cause is not None and seen < 3:
        parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
        seen += 1
    for attribute in ("schema_errors", "errors"):
        for item in getattr(error, attribute, None) or []:
            parts.append(str(getattr(item, "message", item)))
    return " | ".join(parts)[:2000]

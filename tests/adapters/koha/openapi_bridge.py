"""httpx <-> openapi-core: every request the Koha adapter sends, and every answer a test gives it,
checked against Koha's published contract (``../shared/koha/koha-openapi.bundled.oas31.yaml``).

The bundle is Koha's own spec files for the portal's routes, converted to OpenAPI 3.1. Three routes
the adapter uses are outside it, and are checked as follows (nothing else is allowed through):

- ``GET /api/v1/`` answers the contract itself (Swagger 2.0): checked to be one, with ``paths``.
- ``GET /api/v1/biblios`` (catalogue search) is in Koha's ``paths/biblios.yaml``, copied verbatim
  beside the bundle (``source/``) but not bundled: its operation is converted from that file when
  the spec is loaded, so it is Koha's text, not ours.
- ``GET /api/v1/items/{item_id}`` (a loan's title on Koha before 24.05, which cannot embed it) is in
  Koha's root swagger.yaml but its file was not copied: its path and parameter are declared here,
  and its answer is checked against the bundle's ``item`` definition (Koha's, verbatim).

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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED = REPO_ROOT.parent / "shared" / "koha"
SPEC_PATH = SHARED / "koha-openapi.bundled.oas31.yaml"
BIBLIOS_SOURCE = SHARED / "source" / "api" / "v1" / "swagger" / "paths" / "biblios.yaml"
API = "/api/v1"
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}}


class ContractViolation(AssertionError):
    """A request or an answer that Koha's contract does not allow."""


def _require(path: Path) -> Path:
    if not path.is_file():  # fail, never skip: without the contract nothing here is checked
        raise ContractViolation(f"Koha's contract is missing: {path} (see ../shared/koha/README.md)")
    return path


def _swagger2_operation(operation: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """One Swagger 2.0 operation of Koha's -> OpenAPI 3.1, its $refs pointed into the bundle."""
    converted: dict[str, Any] = {key: value for key, value in operation.items()
                                 if key in ("operationId", "summary", "tags", "x-mojo-to", "x-koha-authorization")}
    parameters = []
    for parameter in operation.get("parameters", []):
        name = parameter.get("$ref", "").rsplit("/", 1)[-1]
        if name == "q_body" or parameter.get("in") == "body":
            converted["requestBody"] = {"$ref": "#/components/requestBodies/listPatronsQuery"}
        elif name:
            if name not in components["parameters"]:
                raise ContractViolation(f"Koha's parameter {name} is not in the bundle")
            parameters.append({"$ref": f"#/components/parameters/{name}"})
        else:
            raise ContractViolation(f"cannot convert the parameter {parameter}")
    converted["parameters"] = parameters
    responses: dict[str, Any] = {}
    for status, response in operation.get("responses", {}).items():
        converted_response: dict[str, Any] = {"description": response.get("description", "")}
        schema = response.get("schema")
        if schema is not None:
            ref = schema.get("$ref", "")
            schema = {"$ref": "#/components/schemas/" + ref.rsplit("/", 1)[-1]} if ref else schema
            converted_response["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = converted_response
    converted["responses"] = responses
    return converted


def _supplements(spec: dict[str, Any]) -> None:
    components = spec["components"]
    source = yaml.safe_load(_require(BIBLIOS_SOURCE).read_text(encoding="utf-8"))
    spec["paths"]["/biblios"] = {"get": _swagger2_operation(source["/biblios"]["get"], components)}
    spec["paths"]["/items/{item_id}"] = {"get": {
        "operationId": "getItem",
        "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "An item", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/item"}}}},
            **{status: {"description": "error", **ERROR} for status in ("401", "403", "404", "500", "503")}},
        "x-koha-authorization": {"permissions": {"catalogue": "1"}},
    }}


@cache
def koha_spec() -> dict[str, Any]:
    spec = yaml.safe_load(_require(SPEC_PATH).read_text(encoding="utf-8"))
    _supplements(spec)
    return spec


@cache
def koha_openapi() -> OpenAPI:
    return OpenAPI.from_dict(copy.deepcopy(koha_spec()))


@cache
def _operations() -> list[tuple[re.Pattern[str], str, str, dict[str, Any]]]:
    spec = koha_spec()
    found = []
    for template, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{(\w+)\\}", r"[^/]+", re.escape(API + template)) + "$")
        for method, operation in item.items():
            found.append((pattern, method.upper(), template, operation))
    # literal paths before templated ones (/checkouts/availability before /checkouts/{checkout_id})
    found.sort(key=lambda entry: entry[2].count("{"))
    return found


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for pattern, verb, template, operation in _operations():
        if verb == method.upper() and pattern.match(path):
            return template, operation
    return None


def _query_names(operation: dict[str, Any]) -> set[str]:
    parameters = koha_spec()["components"]["parameters"]
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

    def __init__(self) -> None:
        self.openapi = koha_openapi()
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
        found = operation_for(request.method, path)
        if found is None:
            self._fail(f"{request.method} {path}: no such operation in Koha's contract")
            return
        template, operation = found
        declared = _query_names(operation)
        for name, _ in parse_qsl(request.url.query.decode("utf-8"), keep_blank_values=True):
            if name not in declared:
                self._fail(f"{request.method} {template}: Koha refuses the undeclared query parameter {name!r}")
        try:
            self.openapi.validate_request(HttpxOpenAPIRequest(request))
        except Exception as error:  # noqa: BLE001 - openapi-core raises many kinds; each is a violation
            self._fail(f"{request.method} {template}: request breaks the contract: {_describe(error)}")

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
            self._fail(f"{request.method} {path} -> {response.status_code}: answer breaks the contract: "
                       f"{_describe(error)}")


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

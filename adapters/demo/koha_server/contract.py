"""One Koha release line's REST contract, as the fake Koha serves it and the tests check it.

The contracts are Koha's own spec files, vendored per release line under ``tests/fixtures/koha/``
(``<line>/koha-<line>.oas31.yaml``, built by ``build.py`` there from the verbatim Koha sources
beside it; provenance, commits and licence in ``tests/fixtures/koha/README.md``). A missing file
fails loudly (``MissingContract``): without it nothing the fake answers has a source.

Two routes the portal uses are not in the 23.11 and 24.05 bundles (their Koha sources are excerpts):

- ``GET /biblios`` (catalogue search) is converted here from Koha's own ``paths/biblios.yaml``
  (``tests/fixtures/koha/supplement/``, Koha-Community/Koha@3fc1f275), as both lines' root mounts it;
- ``GET /items/{item_id}`` (a loan's title before 24.05) is declared here: its path parameter, and
  its answer as the line's own ``item`` definition (Koha's).

``22.11`` has no vendored contract: it is played as 23.11's minus the two routes 22.11 did not have
(``POST /auth/password/validation``, ``GET /biblios``), so that the portal's fallbacks for them are
exercised; its shapes are 23.11's. Only the routes differ, and only that is claimed.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "koha"
SUPPLEMENT = FIXTURES / "supplement" / "api" / "v1" / "swagger" / "paths" / "biblios.yaml"
#: the release lines with a vendored contract, oldest first
VENDORED = ("23.11", "24.05", "24.11", "25.05", "25.11")
#: lines played from another line's contract, minus routes that line lacked
DERIVED: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "22.11": ("23.11", (("post", "/auth/password/validation"), ("get", "/biblios"))),
}
RELEASES = ("22.11", *VENDORED)
METHODS = ("get", "put", "post", "delete", "patch")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: 5 times faster on these 170 kB files
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}}


class MissingContract(FileNotFoundError):
    """The vendored contract of a release line is not in the repository."""


def _require(path: Path) -> Path:
    if not path.is_file():
        raise MissingContract(f"Koha's contract is missing: {path} (see tests/fixtures/koha/README.md)")
    return path


def release_line(version: str) -> str:
    """``"24.05"``, ``"24.05.03"`` or ``(24, 5)`` -> the release line played, one of ``RELEASES``."""
    if isinstance(version, tuple):
        text = f"{version[0]}.{version[1]:02d}"
    else:
        major, _, rest = str(version).strip().partition(".")
        text = f"{major}.{rest.split('.')[0].zfill(2)}" if rest else major
    if text not in RELEASES:
        raise ValueError(f"no Koha contract for {version!r}: the fake plays {', '.join(RELEASES)}")
    return text


def _swagger2_operation(operation: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """One of Koha's Swagger 2.0 operations (whose shared parameters the bundle has) -> OpenAPI 3.1."""
    converted: dict[str, Any] = {key: value for key, value in operation.items()
                                 if key in ("operationId", "summary", "tags", "x-mojo-to", "x-koha-authorization")}
    parameters = []
    for parameter in operation.get("parameters", []):
        name = parameter.get("$ref", "").rsplit("/", 1)[-1]
        if name == "q_body" or parameter.get("in") == "body":
            continue  # a JSON query in the body of a GET: the portal sends ``q`` instead
        if not name or name not in components["parameters"]:
            raise MissingContract(f"cannot convert Koha's parameter {parameter} (not in the bundle)")
        parameters.append({"$ref": f"#/components/parameters/{name}"})
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


def _supplement(spec: dict[str, Any]) -> None:
    paths, components = spec["paths"], spec["components"]
    if "/biblios" not in paths:
        source = yaml.safe_load(_require(SUPPLEMENT).read_text(encoding="utf-8"))
        paths["/biblios"] = {"get": _swagger2_operation(source["/biblios"]["get"], components)}
    if "/items/{item_id}" not in paths:
        paths["/items/{item_id}"] = {"get": {
            "operationId": "getItem",
            "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "An item", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/item"}}}},
                **{status: {"description": "error", **ERROR} for status in ("400", "401", "403", "404", "500",
                                                                           "503")}},
            "x-koha-authorization": {"permissions": {"catalogue": "1"}},
        }}


@cache
def release_spec(line: str) -> dict[str, Any]:
    """The OpenAPI 3.1 contract of ``line`` with the supplements above. Shared: do not change it."""
    base, removed = DERIVED.get(line, (line, ()))
    path = FIXTURES / base / f"koha-{base}.oas31.yaml"
    spec = yaml.load(_require(path).read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    _supplement(spec)
    for method, template in removed:
        spec["paths"].get(template, {}).pop(method, None)
        if not any(key in METHODS for key in spec["paths"].get(template, {})):
            spec["paths"].pop(template, None)
    spec["info"]["x-shiori-release-line"] = line
    return spec


class KohaContract:
    """What one release line declares, in the forms the fake needs (all read from the spec)."""

    def __init__(self, line: str) -> None:
        self.line = release_line(line)
        self.spec = release_spec(self.line)
        self.schemas: dict[str, Any] = self.spec["components"]["schemas"]

    def operation(self, method: str, template: str) -> dict[str, Any] | None:
        return (self.spec["paths"].get(template) or {}).get(method.lower())

    def parameters(self, method: str, template: str) -> list[dict[str, Any]]:
        operation = self.operation(method, template) or {}
        shared = self.spec["components"].get("parameters", {})
        return [shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p for p in operation.get("parameters", [])]

    def query_names(self, method: str, template: str) -> frozenset[str]:
        return frozenset(p["name"] for p in self.parameters(method, template) if p.get("in") == "query")

    def embeds(self, method: str, template: str) -> frozenset[str] | None:
        """The ``x-koha-embed`` values the route accepts; None if it takes no such header."""
        for parameter in self.parameters(method, template):
            if parameter.get("in") == "header" and parameter["name"].lower() == "x-koha-embed":
                return frozenset(parameter.get("schema", {}).get("items", {}).get("enum") or ())
        return None

    def permissions(self, method: str, template: str) -> Any:
        """``x-koha-authorization.permissions`` (dict: all of; list: any of); None if the route has none."""
        authorization = (self.operation(method, template) or {}).get("x-koha-authorization") or {}
        return authorization.get("permissions")

    def statuses(self, method: str, template: str) -> frozenset[str]:
        return frozenset((self.operation(method, template) or {}).get("responses", {}))

    def body_schema(self, method: str, template: str) -> dict[str, Any] | None:
        body = (self.operation(method, template) or {}).get("requestBody")
        if body is None:
            return None
        if "$ref" in body:
            body = self.spec["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[-1]]
        schema = (body.get("content", {}).get("application/json") or {}).get("schema")
        return self.resolve(schema) if schema else None

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def declares(self, definition: str, field: str) -> bool:
        return field in self.schemas[definition].get("properties", {})

    def shape(self, definition: str, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` (the fake's superset of Koha's fields) as this line's ``definition`` has it: only the
        properties it declares, ids typed as it types them (a hold's ``item_id`` is a string up to 24.05)."""
        properties = self.schemas[definition].get("properties", {})
        shaped = {}
        for name, value in data.items():
            schema = properties.get(name)
            if schema is None:
                continue
            types = schema.get("type")
            types = set(types) if isinstance(types, list) else {types}
            if isinstance(value, bool):
                if "boolean" not in types and "integer" in types:
                    value = int(value)
            elif isinstance(value, int) and "integer" not in types and "string" in types:
                value = str(value)
            elif isinstance(value, int) and "integer" not in types and "boolean" in types:
                value = bool(value)
            elif isinstance(value, str) and value.isdigit() and "string" not in types and "integer" in types:
                value = int(value)
            shaped[name] = value
        return shaped

    def served(self) -> dict[str, Any]:
        """What ``GET /api/v1/`` answers: the contract as Swagger 2.0, the form Koha serves it in (its
        resolved bundle: shared parameters as ``#/parameters/...``). Paths, parameters, permissions and
        response codes only; the schemas stay in the vendored file."""
        parameters = {name: _swagger2_parameter(p)
                      for name, p in self.spec["components"].get("parameters", {}).items()}
        paths: dict[str, Any] = {}
        for template, item in self.spec["paths"].items():
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                paths.setdefault(template, {})[method] = {
                    key: copy.deepcopy(value) for key, value in operation.items()
                    if key in ("operationId", "x-mojo-to", "x-koha-authorization", "tags")
                } | {
                    "parameters": [{"$ref": "#/parameters/" + p["$ref"].rsplit("/", 1)[-1]} if "$ref" in p
                                   else _swagger2_parameter(p) for p in operation.get("parameters", [])],
                    "responses": {status: {"description": response.get("description", "")}
                                  for status, response in operation.get("responses", {}).items()},
                }
        return {"swagger": "2.0", "basePath": "/api/v1",
                "info": {"title": "Koha REST API", "version": "1"}, "parameters": parameters, "paths": paths}


def _swagger2_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.1 parameter back in Koha's Swagger 2.0 form (type, items, enum, collectionFormat)."""
    out = {key: parameter[key] for key in ("name", "in", "description", "required") if key in parameter}
    schema = parameter.get("schema", {})
    out.update(copy.deepcopy(schema))
    if schema.get("type") == "array":
        out["collectionFormat"] = "multi" if parameter.get("explode") else "csv"
    return out

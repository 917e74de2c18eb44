"""The fake Koha's HTTP plumbing, without any library in it: its answers (``FakeResponse``), Koha's
error body (``KohaError``), one request as plain values (``Request``), and the DBIC-style ``q``
filters and ``_match`` modes of Koha's list routes (``filter_rows``), paged as Koha pages them
(``page``: RESTdefaultPageSize 20, ``X-Total-Count``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PAGE_SIZE = 20  # RESTdefaultPageSize


@dataclass
class FakeResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
        return cls(status, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})


class KohaError(Exception):
    """Raised inside a handler: becomes ``{"error": message, ...}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra

    def response(self) -> FakeResponse:
        return FakeResponse.json(self.status, {"error": self.message, **self.extra})


@dataclass
class Request:
    method: str
    path: str  # below /api/v1
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # path parameters
    user: dict[str, Any] | None = None  # the authenticated patron or staff user

    def arg(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise KohaError(400, "Malformed JSON body") from exc

    def embeds(self) -> set[str]:
        return {part.strip() for part in self.headers.get("x-koha-embed", "").split(",") if part.strip()}




def _like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (``%``, ``_``, ``\\`` escapes) as a case-insensitive regex, as MySQL's collation does."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def matches(query: Any, row: Mapping[str, Any]) -> bool:
    """A DBIC-style ``q`` filter: {field: value}, {field: {"-like": ...}}, {"-and": [...]}, {"-or": [...]}."""
    if isinstance(query, list):
        return any(matches(part, row) for part in query)
    if not isinstance(query, dict):
        raise KohaError(400, "Invalid query", error_code="invalid_query")
    for key, value in query.items():
        if key == "-and":
            if not all(matches(part, row) for part in value):
                return False
        elif key == "-or":
            if not any(matches(part, row) for part in (value if isinstance(value, list) else [value])):
                return False
        else:
            actual = row.get(key)
            if isinstance(value, dict):
                for operator, operand in value.items():
                    if operator == "-like" and not _like(str(operand)).match(str(actual or "")):
                        return False
                    if operator in ("=", "-in") and actual not in (operand if isinstance(operand, list) else [operand]):
                        return False
            elif str(actual) != str(value):
                return False
    return True



def filter_rows(request: Request, rows: Iterable[dict[str, Any]], fields: Iterable[str]) -> list[dict[str, Any]]:
    """The rows a list route keeps: each of ``fields`` given as a query parameter matched by
    ``_match`` (contains, exact, starts_with, ends_with; case-insensitive, as MySQL compares), then
    the ``q`` filter."""
    mode = request.arg("_match") or "contains"
    result = list(rows)
    for name in fields:
        wanted = request.arg(name)
        if wanted is None:
            continue
        wanted_folded = wanted.casefold()

        def keep(row: Mapping[str, Any], name: str = name, wanted: str = wanted_folded) -> bool:
            value = str(row.get(name) if row.get(name) is not None else "").casefold()
            return {"exact": value == wanted, "starts_with": value.startswith(wanted),
                    "ends_with": value.endswith(wanted)}.get(mode, wanted in value)

        result = [row for row in result if keep(row)]
    q = request.arg("q")
    if q:
        try:
            query = json.loads(q)
        except ValueError as exc:
            raise KohaError(400, "Invalid query", error_code="invalid_query") from exc
        result = [row for row in result if matches(query, row)]
    return result


def page(request: Request, rows: list[dict[str, Any]]) -> FakeResponse:
    """One page of a list, as Koha's ``objects.search`` answers it (``_per_page=-1``: all)."""
    try:
        per_page = int(request.arg("_per_page") or DEFAULT_PAGE_SIZE)
        number = max(1, int(request.arg("_page") or 1))
    except ValueError as exc:
        raise KohaError(400, "Invalid pagination") from exc
    total = len(rows)
    chunk = rows if per_page == -1 else rows[(number - 1) * per_page: number * per_page]
    return FakeResponse.json(200, chunk, {"X-Total-Count": str(total), "X-Base-Total-Count": str(total)})

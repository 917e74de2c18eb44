"""The fake Koha's REST API v1 over its library (``library.Library``), one release line at a time.

A demo ILS front end, as ``adapters/demo/sip2_server.py`` is for SIP2: not used by the adapter.
The tests serve it through respx (``tests/adapters/koha/fake_koha.py``, where every request and
answer is also checked against the same release's contract) and ``tools/fake_koha.py`` over real
HTTP. ``FakeKoha.handle`` takes a request as plain values and returns a ``FakeResponse``.

What each release has comes from its vendored contract (``contract.KohaContract``), not from a
table here: which routes exist, their permissions (``x-koha-authorization``), the query parameters
and ``x-koha-embed`` values each accepts (anything else: 400, as Koha's OpenAPI validation
answers), which fields a JSON body may carry, the status of each answer, and the fields of each
object (``KohaContract.shape``). The behaviour follows Koha's controllers: authentication (OAuth2
client credentials, Basic, the /public namespace, ``required_permissions`` on a 403), ``checkpw``
(failed attempts counted, locked accounts, expired passwords) behind ``POST
/auth/password/validation``, while Basic authentication uses ``checkpw_internal`` as Koha's does
(neither counted nor refused when locked; 403 "Invalid password" / "Password has expired"),
renewals and holds by the rules in ``library``, list paging and ``q`` filters (``protocol``). The
handlers and the JSON of each object are in ``resources``; here: dispatch, validation, authentication.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from adapters.demo.koha_server.contract import KohaContract
from adapters.demo.koha_server.protocol import (
    FakeResponse,
    KohaError,
    Request,
    page,
)
from adapters.demo.koha_server.resources import Resources

API = "/api/v1"
#: the routes the fake answers, by (method, template): its handler, and whether Koha pages the list.
#: A route answers only where the release's contract has it.
HANDLERS: dict[tuple[str, str], tuple[str, bool]] = {
    ("POST", "/auth/password/validation"): ("password_validation", False),
    ("GET", "/patrons"): ("list_patrons", True),
    ("GET", "/patrons/{patron_id}"): ("get_patron", False),
    ("PUT", "/patrons/{patron_id}"): ("update_patron", False),
    ("GET", "/patrons/{patron_id}/account"): ("get_account", False),
    ("GET", "/patrons/{patron_id}/checkouts"): ("patron_checkouts", True),
    ("GET", "/patrons/{patron_id}/holds"): ("patron_holds", True),
    ("POST", "/patrons/{patron_id}/password"): ("set_password", False),
    ("GET", "/checkouts"): ("list_checkouts", True),
    ("GET", "/checkouts/{checkout_id}"): ("get_checkout", False),
    ("GET", "/checkouts/{checkout_id}/allows_renewal"): ("allows_renewal", False),
    ("POST", "/checkouts/{checkout_id}/renewal"): ("renew", False),
    ("POST", "/checkouts/{checkout_id}/renewals"): ("renew", False),
    ("GET", "/holds"): ("list_holds", True),
    ("POST", "/holds"): ("add_hold", False),
    ("DELETE", "/holds/{hold_id}"): ("delete_hold", False),
    ("POST", "/holds/{hold_id}/suspension"): ("suspend_hold", False),
    ("DELETE", "/holds/{hold_id}/suspension"): ("resume_hold", False),
    ("PUT", "/holds/{hold_id}/pickup_location"): ("hold_pickup_location", False),
    ("GET", "/biblios"): ("list_biblios", True),
    ("GET", "/biblios/{biblio_id}"): ("get_biblio", False),
    ("GET", "/biblios/{biblio_id}/items"): ("biblio_items", True),
    ("GET", "/biblios/{biblio_id}/pickup_locations"): ("biblio_pickup_locations", True),
    ("GET", "/items/{item_id}"): ("get_item", False),
    ("GET", "/libraries"): ("list_libraries", True),
    ("GET", "/public/libraries"): ("list_libraries", True),
    ("POST", "/public/patrons/{patron_id}/password"): ("set_password_public", False),
}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


class FakeKoha(Resources):
    """The library (``Library``) behind Koha's REST API as release ``version`` has it (23.11 to 25.11,
    or 22.11: see ``contract``). Thread-safe (the library's lock)."""

    def __init__(self, *, version: str = "24.05", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = KohaContract(version)
        self.version = tuple(int(part) for part in self.release.line.split("."))
        # literal templates before templated ones (/checkouts/availability before /checkouts/{checkout_id})
        self.routes = sorted(((method, template, _pattern(template), handler, paged)
                              for (method, template), (handler, paged) in HANDLERS.items()
                              if self.release.operation(method, template) is not None),
                             key=lambda route: route[1].count("{"))

    def handle(self, method: str, path: str, query: str | Iterable[tuple[str, str]] = "",
               headers: Mapping[str, str] | None = None, body: bytes = b"") -> FakeResponse:
        """Answer one request to ``path`` (the full path, starting with /api/v1)."""
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query)
        request = Request(method.upper(), path, pairs, {k.lower(): v for k, v in (headers or {}).items()}, body)
        with self.lock:
            try:
                return self._dispatch(request)
            except KohaError as error:
                return error.response()

    def _dispatch(self, request: Request) -> FakeResponse:
        if not request.path.startswith(API):
            return _not_found()
        path = request.path[len(API):] or "/"
        if path == "/" and request.method == "GET":
            return FakeResponse.json(200, self.release.served())
        if path == "/oauth/token" and request.method == "POST":
            return self._token(request)
        route = next(((template, found.groupdict(), handler, paged)
                      for method, template, pattern, handler, paged in self.routes
                      if method == request.method and (found := pattern.match(path))), None)
        if route is None:
            return _not_found()
        template, request.params, handler, paged = route
        public = template.startswith("/public/")
        if public and not self.prefs["RESTPublicAPI"]:
            raise KohaError(403, "Configuration prevents the usage of this endpoint by unprivileged users")
        request.user = self._authenticate(request)
        permissions = self.release.permissions(request.method, template)
        if permissions is None:
            if request.user is None and not (public and self.prefs["RESTPublicAnonymousRequests"]):
                raise KohaError(401, "Authentication failure.")
        elif request.user is None:
            raise KohaError(401, "Authentication failure.")
        elif not self._permitted(request.user, permissions):
            raise KohaError(403, "Authorization failure. Missing required permission(s).",
                            required_permissions=permissions)
        invalid = self._invalid(request, template)
        if invalid:
            return FakeResponse.json(400, {"errors": invalid, "status": 400})
        result = getattr(self, "_" + handler)(request)
        if paged and isinstance(result, list):
            return page(request, result)
        return result

    def _invalid(self, request: Request, template: str) -> list[dict[str, str]]:
        """What Koha's OpenAPI validation (JSON::Validator) refuses before the controller runs: a query
        parameter the route does not declare, an ``x-koha-embed`` value outside its enum, a JSON body
        with a field its schema does not allow or without one it requires."""
        method = request.method
        declared = self.release.query_names(method, template)
        errors = [{"path": f"/query/{name}", "message": "Malformed query string"}
                  for name, _ in request.query if name not in declared]
        embeds = sorted(request.embeds())
        if embeds:
            allowed = self.release.embeds(method, template)
            if allowed is None:
                errors.append({"path": "/x-koha-embed", "message": "Embedding objects is not allowed on this endpoint."})
            else:
                errors += [{"path": f"/x-koha-embed/{index}",
                            "message": f"Not in enum list: {', '.join(sorted(allowed))}."}
                           for index, value in enumerate(embeds) if value not in allowed]
        schema = self.release.body_schema(method, template)
        if schema is not None and request.body and schema.get("type") == "object":
            body = request.json()
            if not isinstance(body, dict):
                errors.append({"path": "/body", "message": "Expected object."})
            else:
                properties = schema.get("properties", {})
                if schema.get("additionalProperties") is False:
                    errors += [{"path": f"/body/{name}", "message": "Properties not allowed: " + name + "."}
                               for name in body if name not in properties]
                errors += [{"path": f"/body/{name}", "message": "Missing property."}
                           for name in schema.get("required", []) if name not in body]
        return errors

    # --- authentication ------------------------------------------------------------------------

    def _token(self, request: Request) -> FakeResponse:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials" or not self.prefs["RESTOAuth2ClientCredentials"]:
            raise KohaError(400, "Unimplemented grant type")
        client = self.clients.get(form.get("client_id", ""))
        if client is None or not hmac.compare_digest(client["secret"], form.get("client_secret", "")):
            raise KohaError(403, "unauthorized_client")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (client["userid"], self._clock() + self.token_lifetime)
        return FakeResponse.json(200, {"access_token": token, "token_type": "Bearer",
                                       "expires_in": self.token_lifetime})

    def _authenticate(self, request: Request) -> dict[str, Any] | None:
        """Koha::REST::V1::Auth: a Bearer token, or Basic credentials checked by ``_basic_auth`` (which
        uses ``checkpw_internal``: no failed attempt is counted, a locked account is not refused)."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            entry = self.tokens.get(header[7:].strip())
            if entry is None or entry[1] <= self._clock():
                raise KohaError(401, "Authentication failure.")
            return self.staff[entry[0]]
        if header.startswith("Basic "):
            if not self.prefs["RESTBasicAuth"]:
                raise KohaError(401, "Basic authentication disabled")
            try:
                userid, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except ValueError as exc:
                raise KohaError(401, "Authentication failure.") from exc
            user = self._user_by_login(userid)
            if user is None or not hmac.compare_digest(user.get("password") or user.get("_password") or "", password):
                raise KohaError(403, "Invalid password", required_permissions=None)
            if self._password_expired(user):
                raise KohaError(403, "Password has expired", required_permissions=None)
            return user
        return None

    def _user_by_login(self, login: str) -> dict[str, Any] | None:
        if login in self.staff:
            return self.staff[login]
        return next((patron for patron in self.patrons.values() if patron["userid"] == login), None)

    @staticmethod
    def _permitted(user: Mapping[str, Any], needed: Any) -> bool:
        """``haspermission``; a patron row may hold staff permissions in ``_permissions`` (not served)."""
        granted = user.get("permissions") or user.get("_permissions") or {}

        def has(flag: str, sub: str | list[str]) -> bool:
            if isinstance(sub, list):  # {flag: [a, b]}: any of those subpermissions (25.11's holds)
                return any(has(flag, one) for one in sub)
            have = granted.get(flag)
            return have == "*" or (sub != "1" and isinstance(have, set) and sub in have)

        if isinstance(needed, list):
            return any(all(has(flag, sub) for flag, sub in option.items()) for option in needed)
        return all(has(flag, sub) for flag, sub in needed.items())


def _not_found() -> FakeResponse:
    """Mojolicious's answer to a path no route matches."""
    return FakeResponse.json(404, {"errors": [{"message": "Not Found.", "path": "/"}], "status": 404})

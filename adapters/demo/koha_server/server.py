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
renewals and holds by the rules in ``library``, list paging and ``q`` filters (``protocol``).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from adapters.demo.koha_server.contract import KohaContract
from adapters.demo.koha_server.library import Library
from adapters.demo.koha_server.protocol import (
    FakeResponse,
    KohaError,
    Request,
    filter_rows,
    page,
)

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
PATRON_FILTERS = ("patron_id", "cardnumber", "surname", "firstname", "userid", "email", "library_id",
                  "category_id", "expiry_date", "restricted")


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


class FakeKoha(Library):
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

    def _password_expired(self, user: Mapping[str, Any]) -> bool:
        expires = user.get("_password_expiration_date")
        return bool(expires) and date.fromisoformat(expires) <= self.today

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

    def _locked(self, patron: Mapping[str, Any]) -> bool:
        attempts = patron.get("login_attempts") or 0
        limit = self.prefs["FailedLoginAttempts"]
        return attempts < 0 or bool(limit and attempts >= limit)

    def _checkpw(self, identifier: str, password: str) -> tuple[int, dict[str, Any] | None]:
        """C4::Auth::checkpw: 1 right, -2 right but expired, 0 wrong (counted unless locked)."""
        patron = next((p for p in self.patrons.values() if p["userid"] == identifier), None) or next(
            (p for p in self.patrons.values() if p["cardnumber"] == identifier), None)
        if patron is None:
            return 0, None
        if self._locked(patron):
            return 0, patron
        if hmac.compare_digest(patron["_password"], password):
            patron["login_attempts"] = 0
            return (-2 if self._password_expired(patron) else 1), patron
        patron["login_attempts"] = (patron.get("login_attempts") or 0) + 1
        return 0, patron

    # --- patrons --------------------------------------------------------------------------------

    def _patron(self, patron_id: Any, status: int = 404) -> dict[str, Any]:
        try:
            return self.patrons[int(patron_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(status, "Patron not found", error_code="not_found") from None

    def patron_json(self, patron: Mapping[str, Any], embeds: set[str] = frozenset()) -> dict[str, Any]:
        data = {key: value for key, value in patron.items() if not key.startswith("_")}
        data.update(updated_on=self.at(self.today, 9, 0), autorenew_checkouts=True, anonymized=False,
                    protected=False, check_previous_checkout="inherit", privacy_guarantor_checkouts=0,
                    incorrect_address=False)
        data = self.release.shape("patron", data)
        if self.version < (24, 11):  # bug 28633; 23.11/24.05's patron definition is a newer substitute
            data.pop("preferred_name", None)
        if "overdues+count" in embeds:
            data["overdues_count"] = sum(1 for checkout in self.checkouts.values()
                                         if checkout["patron_id"] == patron["patron_id"]
                                         and datetime.fromisoformat(checkout["due_date"]) < self.now())
        if "checkouts+count" in embeds:
            data["checkouts_count"] = sum(1 for c in self.checkouts.values() if c["patron_id"] == patron["patron_id"])
        if "account_balance" in embeds:
            data["account_balance"] = self._balance(patron["patron_id"])
        if "extended_attributes" in embeds:
            data["extended_attributes"] = []
        if "library" in embeds:
            data["library"] = self.release.shape("library", self.libraries[patron["library_id"]])
        return data

    def _balance(self, patron_id: int) -> float:
        return float(sum(line["amount_outstanding"] for line in self.account_lines.values()
                         if line["patron_id"] == patron_id))

    def _list_patrons(self, request: Request) -> list[dict[str, Any]]:
        rows = filter_rows(request, self.patrons.values(), PATRON_FILTERS)
        return [self.patron_json(row, request.embeds()) for row in rows]

    def _get_patron(self, request: Request) -> FakeResponse:
        return FakeResponse.json(200, self.patron_json(self._patron(request.params["patron_id"]), request.embeds()))

    UPDATABLE = frozenset({"surname", "firstname", "preferred_name", "email", "phone", "library_id", "category_id"})

    def _update_patron(self, request: Request) -> FakeResponse:
        """Koha's Patrons#update: ``set_from_api`` sets the fields sent, and only those."""
        patron = self._patron(request.params["patron_id"])
        body = request.json()
        if not isinstance(body, dict):
            raise KohaError(400, "Invalid parameter(s)")
        if body.get("library_id") not in self.libraries:
            raise KohaError(400, "Given library_id does not exist")
        patron.update({key: value for key, value in body.items() if key in self.UPDATABLE})
        return FakeResponse.json(200, self.patron_json(patron))

    def _password_validation(self, request: Request) -> FakeResponse:
        body = request.json() or {}
        identifier, userid = body.get("identifier"), body.get("userid")
        if identifier is None and userid is None:
            raise KohaError(400, "Validation failed")
        if identifier is not None and userid is not None:
            raise KohaError(400, "Bad request. Only one identifier attribute can be passed.")
        if userid and not any(patron["userid"] == userid for patron in self.patrons.values()):
            raise KohaError(400, "Validation failed")
        status, patron = self._checkpw(identifier or userid, body.get("password") or "")
        if status == 0:
            raise KohaError(400, "Validation failed")
        if status == -2:
            raise KohaError(400, "Password expired", error_code="password_expired")
        if "201" in self.release.statuses("POST", "/auth/password/validation"):  # 24.05.x on (bug 36561)
            return FakeResponse.json(201, {"cardnumber": patron["cardnumber"], "patron_id": patron["patron_id"],
                                           "userid": patron["userid"]})
        return FakeResponse(204)  # the ≈23.05-dev text the 23.11 contract carries

    def _check_strength(self, password: str) -> None:
        minimum = self.prefs["minPasswordLength"]
        if password != password.strip():
            raise KohaError(400, "Password contains leading/trailing whitespace character(s)")
        if len(password) < minimum:
            raise KohaError(400, f"Password length ({len(password)}) is shorter than required minimum ({minimum})")
        if self.prefs["RequireStrongPassword"] and not (
                re.search(r"[A-Z]", password) and re.search(r"[a-z]", password) and re.search(r"\d", password)):
            raise KohaError(400, "Password is too weak")

    def _store_password(self, patron: dict[str, Any], password: str) -> None:
        self._check_strength(password)
        patron.update(_password=password, _password_expiration_date=None, login_attempts=0)

    def _set_password(self, request: Request) -> FakeResponse:
        patron = self._patron(request.params["patron_id"])
        body = request.json() or {}
        if (body.get("password") or "") != (body.get("password_2") or ""):
            raise KohaError(400, "Passwords don't match")
        self._store_password(patron, body.get("password") or "")
        return FakeResponse.json(200, "")

    def _set_password_public(self, request: Request) -> FakeResponse:
        if not self.prefs["OpacPasswordChange"]:
            raise KohaError(403, "Configuration prevents password changes by unprivileged users")
        user = request.user
        if user is None or user.get("staff") or str(user["patron_id"]) != request.params["patron_id"]:
            raise KohaError(403, "Changing other patron's password is forbidden")
        body = request.json() or {}
        if (body.get("password") or "") != (body.get("password_repeated") or ""):
            raise KohaError(400, "Passwords don't match")
        if not hmac.compare_digest(user["_password"], body.get("old_password") or ""):
            raise KohaError(400, "Invalid password")
        self._store_password(user, body.get("password") or "")
        return FakeResponse.json(200, "")

    def _get_account(self, request: Request) -> FakeResponse:
        patron = self._patron(request.params["patron_id"])
        lines = [{k: v for k, v in line.items()} for line in self.account_lines.values()
                 if line["patron_id"] == patron["patron_id"] and line["amount_outstanding"] > 0]
        total = float(sum(line["amount_outstanding"] for line in lines))
        return FakeResponse.json(200, {"balance": total, "outstanding_debits": {"total": total, "lines": lines},
                                       "outstanding_credits": {"total": 0, "lines": []}})

    # --- checkouts -----------------------------------------------------------------------------

    def _checkout(self, checkout_id: Any) -> dict[str, Any]:
        try:
            return self.checkouts[int(checkout_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(404, "Checkout not found", error_code="not_found") from None

    def item_json(self, item: Mapping[str, Any], embed_biblio: bool = False) -> dict[str, Any]:
        data = dict(item)
        data.update(effective_not_for_loan_status=item["not_for_loan_status"], bookable=False,
                    effective_bookable=False, timestamp=self.at(self.today, 9, 0),
                    effective_item_type_id=item["item_type_id"], exclude_from_local_holds_priority=False)
        data = self.release.shape("item", data)
        if embed_biblio:
            data["biblio"] = self.biblio_json(self.biblios[item["biblio_id"]])
        return data

    def checkout_json(self, checkout: Mapping[str, Any], embeds: set[str] = frozenset()) -> dict[str, Any]:
        """The checkout as this release has it: ``external_id`` (the barcode) only from 24.11,
        ``booking_id`` only from 25.11; the item (and its title) only when embedded."""
        data = self.release.shape("checkout", dict(checkout))
        if "item" in embeds or "item.biblio" in embeds:
            data["item"] = self.item_json(self.items[checkout["item_id"]], embed_biblio="item.biblio" in embeds)
        return data

    def _patron_checkouts(self, request: Request) -> list[dict[str, Any]]:
        patron = self._patron(request.params["patron_id"])
        rows = [c for c in self.checkouts.values() if c["patron_id"] == patron["patron_id"]]
        return [self.checkout_json(row, request.embeds()) for row in filter_rows(request, rows, ())]

    def _list_checkouts(self, request: Request) -> list[dict[str, Any]]:
        if request.arg("checked_in") in ("true", "1"):
            return []  # the fake keeps no old checkouts
        rows = list(self.checkouts.values())
        wanted = request.arg("patron_id")
        if wanted is not None:
            rows = [row for row in rows if str(row["patron_id"]) == wanted]
        return [self.checkout_json(row, request.embeds()) for row in filter_rows(request, rows, ())]

    def _get_checkout(self, request: Request) -> FakeResponse:
        return FakeResponse.json(200, self.checkout_json(self._checkout(request.params["checkout_id"])))

    def _allows_renewal(self, request: Request) -> FakeResponse:
        checkout = self._checkout(request.params["checkout_id"])
        error = self.can_renew(checkout)
        return FakeResponse.json(200, {"allows_renewal": error is None,
                                       "max_renewals": self.prefs["renewalsallowed"],
                                       "current_renewals": checkout["renewals_count"],
                                       "unseen_renewals": checkout["unseen_renewals"], "error": error})

    def _renew(self, request: Request) -> FakeResponse:
        checkout = self._checkout(request.params["checkout_id"])
        error = self.can_renew(checkout)
        if error is not None:
            raise KohaError(403, f"Renewal not authorized ({error})")
        due = self.today + timedelta(days=self.prefs["renewalperiod"])
        old_due = datetime.fromisoformat(checkout["due_date"]).astimezone(self.tz).date()
        checkout.update(due_date=self.at(max(due, old_due)), renewals_count=checkout["renewals_count"] + 1,
                        last_renewed_date=self.now().isoformat())
        return FakeResponse.json(201, self.checkout_json(checkout), {"Location": f"{API}{request.path}"})

    # --- holds ----------------------------------------------------------------------------------

    def _hold(self, hold_id: Any) -> dict[str, Any]:
        try:
            return self.holds[int(hold_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(404, "Hold not found", error_code="not_found") from None

    def hold_json(self, hold: Mapping[str, Any]) -> dict[str, Any]:
        """The hold as this release has it: ``item_id`` a string up to 24.05, an integer from 24.11;
        ``item_type`` renamed ``item_type_id`` in 25.11."""
        return self.release.shape("hold", dict(hold))

    def _ordered(self, holds: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(holds, key=lambda hold: (hold["hold_date"], hold["hold_id"]))

    def _patron_holds(self, request: Request) -> list[dict[str, Any]]:
        patron = self._patron(request.params["patron_id"])
        rows = [hold for hold in self.holds.values() if hold["patron_id"] == patron["patron_id"]]
        return [self.hold_json(row) for row in self._ordered(filter_rows(request, rows, ()))]

    def _list_holds(self, request: Request) -> list[dict[str, Any]]:
        rows = list(self.holds.values())
        for name in ("hold_id", "patron_id", "biblio_id", "item_id", "pickup_library_id", "status"):
            wanted = request.arg(name)
            if wanted is not None:
                rows = [row for row in rows if str(row.get(name)) == wanted]
        return [self.hold_json(row) for row in self._ordered(filter_rows(request, rows, ()))]

    def _biblio(self, biblio_id: Any, status: int = 404) -> dict[str, Any]:
        try:
            return self.biblios[int(biblio_id)]
        except (KeyError, TypeError, ValueError):
            raise KohaError(status, "Bibliographic record not found", error_code="not_found") from None

    def _add_hold(self, request: Request) -> FakeResponse:
        body = request.json() or {}
        if not body.get("biblio_id") and not body.get("item_id"):
            raise KohaError(400, "At least one of biblio_id, item_id should be given")
        biblio = self._biblio(body.get("biblio_id"))
        patron = self._patron(body.get("patron_id"), status=400)
        library = body.get("pickup_library_id")
        if library not in {row["library_id"] for row in self.pickup_libraries()}:
            raise KohaError(400, "The supplied pickup location is not valid")
        status = self.can_reserve(patron, biblio)
        if status != "OK" and "any" not in {v.strip() for v in request.headers.get("x-koha-override", "").split(",")}:
            raise KohaError(403, f"Hold cannot be placed. Reason: {status}")
        priority = 1 + sum(1 for hold in self.holds.values()
                           if hold["biblio_id"] == biblio["biblio_id"] and hold["status"] is None)
        hold_id = self._next("hold")
        self.holds[hold_id] = self._hold_row(hold_id, patron["patron_id"], biblio["biblio_id"], library, self.today,
                                             priority=priority, expiration_date=body.get("expiration_date"))
        return FakeResponse.json(201, self.hold_json(self.holds[hold_id]))

    def _delete_hold(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        self._remove_hold(hold["hold_id"])
        return FakeResponse(204)

    def _suspend_hold(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        if hold["status"] is not None:
            raise KohaError(400, "Found holds cannot be suspended")
        end = (request.json() or {}).get("end_date")
        hold.update(suspended=True, suspended_until=self.at(date.fromisoformat(end), 0, 0) if end else None)
        return FakeResponse.json(201, {"end_date": end}, {"Location": f"{API}{request.path}"})

    def _resume_hold(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        hold.update(suspended=False, suspended_until=None)
        return FakeResponse(204)

    def _hold_pickup_location(self, request: Request) -> FakeResponse:
        hold = self._hold(request.params["hold_id"])
        library = (request.json() or {}).get("pickup_library_id")
        if hold["status"] is not None:
            raise KohaError(409, "Cannot change the pickup location of a found hold")
        if library not in self.libraries or not self.libraries[library]["pickup_location"]:
            raise KohaError(400, "The supplied pickup location is not valid")
        hold["pickup_library_id"] = library
        return FakeResponse.json(200, {"pickup_library_id": library})

    def _biblio_pickup_locations(self, request: Request) -> list[dict[str, Any]]:
        self._biblio(request.params["biblio_id"])
        if request.arg("patron_id") is None:
            raise KohaError(400, "Missing patron_id")
        self._patron(request.arg("patron_id"), status=400)
        return [{**library, "needs_override": False} for library in self.pickup_libraries()]

    # --- catalogue -----------------------------------------------------------------------------

    @staticmethod
    def biblio_json(biblio: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in biblio.items() if not key.startswith("_")}

    def _accepts_json(self, request: Request) -> None:
        accept = request.headers.get("accept", "application/json")
        if "application/json" not in accept and "*/*" not in accept:
            raise KohaError(406, "Not acceptable")

    def _get_biblio(self, request: Request) -> FakeResponse:
        self._accepts_json(request)
        return FakeResponse.json(200, self.biblio_json(self._biblio(request.params["biblio_id"])))

    def _list_biblios(self, request: Request) -> list[dict[str, Any]]:
        self._accepts_json(request)
        rows = filter_rows(request, self.biblios.values(), ())
        order = request.arg("_order_by") or "biblio_id"
        reverse = order.startswith("-")
        field_name = order.lstrip("+- ").split(",")[0] or "biblio_id"
        rows.sort(key=lambda row: (str(row.get(field_name) or ""), row["biblio_id"]), reverse=reverse)
        return [self.biblio_json(row) for row in rows]

    def _biblio_items(self, request: Request) -> list[dict[str, Any]]:
        biblio = self._biblio(request.params["biblio_id"])
        return [self.item_json(item) for item in self.items.values() if item["biblio_id"] == biblio["biblio_id"]]

    def _get_item(self, request: Request) -> FakeResponse:
        try:
            item = self.items[int(request.params["item_id"])]
        except (KeyError, ValueError):
            raise KohaError(404, "Item not found", error_code="not_found") from None
        return FakeResponse.json(200, self.item_json(item))

    def _list_libraries(self, request: Request) -> list[dict[str, Any]]:
        return [self.release.shape("library", row)
                for row in filter_rows(request, [dict(library) for library in self.libraries.values()], ("name",))]



def _not_found() -> FakeResponse:
    """Mojolicious's answer to a path no route matches."""
    return FakeResponse.json(404, {"errors": [{"message": "Not Found.", "path": "/"}], "status": 404})

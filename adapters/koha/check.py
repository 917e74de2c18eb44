"""``flask ils check`` on Koha: the first step of connecting a library.

Before the generic part (``IlsAdapter.check_connection``: reachable, then one patron read-only),
the Koha adapter says what it sees, in order, and stops at the first thing that blocks the rest:

1. where Koha is (``KOHA_URL``) and whether the way there is encrypted;
2. reachable: ``GET /api/v1/`` answers Koha's contract (wrong host or port, TLS on one side only,
   a redirect, a URL that is not Koha: each its own sentence naming ``PORTAL_KOHA_URL``);
3. the release, as far as the routes it serves tell (Koha's API does not state it), against
   ``KOHA_VERSION`` if that is set;
4. the routes and query parameters the portal needs, each missing one named;
5. the API client's credentials (OAuth2 token, or HTTP Basic), with Koha's refusal turned into
   the setting or system preference to change;
6. its permissions, tried on read-only requests (a 403 names the permission from Koha's own error
   body); routes that change data are not tried: the permissions the served contract declares for
   them are listed instead.

Nothing is changed in Koha: every request here is a GET, an OAuth2 token, or a password check of a
user id that cannot exist (Koha then counts no failed attempt).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters.check import Finding
from adapters.errors import IlsError
from adapters.koha.client import API, KohaApiError, KohaFeatures, KohaPermissionError
from adapters.koha.core import KohaCore

#: the routes the portal needs on every release, and what for
REQUIRED = (
    ("GET", "/patrons", "find a patron by card number"),
    ("GET", "/patrons/{patron_id}/holds", "list a patron's holds"),
    ("GET", "/checkouts/{checkout_id}/allows_renewal", "say whether a loan can be renewed"),
    ("POST", "/checkouts/{checkout_id}/renewal", "renew a loan"),
    ("GET", "/holds", "count a title's holds"),
    ("POST", "/holds", "place a hold"),
    ("DELETE", "/holds/{hold_id}", "cancel a hold"),
    ("POST", "/holds/{hold_id}/suspension", "suspend a hold"),
    ("DELETE", "/holds/{hold_id}/suspension", "resume a hold"),
    ("GET", "/biblios/{biblio_id}", "show a title"),
    ("GET", "/biblios/{biblio_id}/items", "show a title's copies"),
    ("GET", "/biblios/{biblio_id}/pickup_locations", "offer pickup libraries"),
    ("GET", "/libraries", "name the libraries"),
    ("GET", "/patrons/{patron_id}/account", "show charges"),
    ("PUT", "/patrons/{patron_id}", "save a patron's email address"),
    ("POST", "/patrons/{patron_id}/password", "change or reset a password"),
)
#: the query parameters the portal sends, per route (Koha answers 400 to an undeclared one)
PARAMETERS = {
    ("GET", "/patrons"): ("cardnumber", "patron_id", "_match", "_page", "_per_page"),
    ("GET", "/checkouts"): ("patron_id", "_page", "_per_page"),
    ("GET", "/holds"): ("biblio_id", "_per_page"),
    ("GET", "/biblios"): ("q", "_page", "_per_page", "_order_by"),
    ("GET", "/biblios/{biblio_id}/pickup_locations"): ("patron_id", "_page", "_per_page"),
}
#: routes that change data: never tried, their permissions only listed
WRITES = (("POST", "/checkouts/{checkout_id}/renewal"), ("POST", "/holds"), ("DELETE", "/holds/{hold_id}"),
          ("POST", "/holds/{hold_id}/suspension"), ("PUT", "/patrons/{patron_id}"),
          ("POST", "/patrons/{patron_id}/password"))
URL_SETTING = "PORTAL_KOHA_URL"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def permissions_text(needed: Any) -> str:
    """Koha's ``required_permissions`` as a librarian reads them: ``circulate › circulate_remaining_permissions``."""
    if isinstance(needed, list):
        return " or ".join(permissions_text(option) for option in needed)
    if isinstance(needed, dict):
        parts = []
        for flag, sub in needed.items():
            subs = sub if isinstance(sub, list) else [sub]
            parts.append(" or ".join(f"{flag} (the whole flag)" if one in ("1", 1) else f"{flag} › {one}"
                                     for one in subs))
        return " and ".join(parts)
    return str(needed)


def release_estimate(features: KohaFeatures) -> str:
    """The Koha release the served routes point to (a guess, said as one)."""
    checkouts = features.embeds("GET", "/patrons/{patron_id}/checkouts")
    if features.patron_checkouts:
        if "booking" in checkouts:
            return "25.11 or later"
        return "24.11 or later" if "item.biblio" in checkouts else "24.05"
    if features.password_validation:
        return "23.11"
    return "23.05" if features.biblio_search else "22.11 or earlier"


class CheckMixin(KohaCore):
    """``check_connection`` for Koha (see the module's docstring)."""

    def check_connection(self, card_number: str | None = None, password: str | None = None) -> Iterator[Finding]:
        spec = yield from self._check_reachable()
        if spec is None:
            return
        features = KohaFeatures.from_spec(spec)
        self._features = features  # this adapter now uses what Koha serves, as the portal would
        yield from self._check_release(features)
        yield from self._check_routes(features, spec)
        if not (yield from self._check_login()):
            return
        yield from self._check_permissions(features, spec)
        yield from super().check_connection(card_number, password)

    # --- 1 and 2: where Koha is, and whether it answers ---------------------------------------

    def _check_reachable(self) -> Iterator[Finding]:
        url = self.settings.url
        parts = urlsplit(url)
        host, port = parts.hostname or "?", parts.port or (443 if parts.scheme == "https" else 80)
        how = f"by OAuth2 client id {self.settings.client_id!r}" if self.settings.uses_oauth else \
            f"by HTTP Basic as {self.settings.user!r}"
        yield Finding.info("koha", f"Koha at {url} (host {host}, port {port}), the API client {how}.")
        if parts.scheme == "http" and host not in LOOPBACK:
            yield Finding.problem("tls", "Koha is reached over plain HTTP, so the API client's secret and patrons' "
                                  "passwords cross the network unencrypted: use https:// in PORTAL_KOHA_URL.",
                                  URL_SETTING)
        try:
            response = self.client.http.get(f"{API}/")
        except httpx.TimeoutException:
            yield Finding.problem("reachable", f"{host}:{port} did not answer within {self.settings.timeout:g} s: "
                                  "check the host and port in PORTAL_KOHA_URL (or raise PORTAL_KOHA_TIMEOUT).",
                                  URL_SETTING)
            return None
        except httpx.HTTPError as exc:
            yield Finding.problem("reachable", _connection_problem(exc, parts.scheme, host, port), URL_SETTING)
            return None
        location = response.headers.get("location")
        if response.is_redirect and location:
            yield Finding.problem("reachable", f"Koha redirects {url}/api/v1/ to {location}: set PORTAL_KOHA_URL to "
                                  "the address it redirects to (without /api/v1).", URL_SETTING)
            return None
        if response.status_code == 400 and "https" in response.text.lower():
            yield Finding.problem("reachable", f"{host}:{port} speaks HTTPS, but PORTAL_KOHA_URL says http://: use "
                                  "https:// there.", URL_SETTING)
            return None
        try:
            spec = response.json()
        except ValueError:
            spec = None
        if response.status_code != 200 or not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
            yield Finding.problem("reachable", f"{url}/api/v1/ answered {response.status_code} without Koha's API "
                                  "contract: PORTAL_KOHA_URL must be Koha's base URL (its staff interface or OPAC "
                                  "address, no path), with Koha's REST API enabled there.", URL_SETTING)
            return None
        secure = "over TLS" if parts.scheme == "https" else "over plain HTTP"
        yield Finding.ok("reachable", f"Koha's REST API answers at {url}/api/v1/ {secure}.")
        return spec

    # --- 3 and 4: the release and its routes --------------------------------------------------

    def _check_release(self, features: KohaFeatures) -> Iterator[Finding]:
        estimate = release_estimate(features)
        yield Finding.info("version", f"Koha's API does not state its release; by the {len(features.routes)} routes "
                           f"it serves, this is Koha {estimate}.")
        configured = self.settings.version
        if configured is not None:
            said = KohaFeatures.from_version(configured)
            if (said.password_validation, said.patron_checkouts, said.biblio_search) != (
                    features.password_validation, features.patron_checkouts, features.biblio_search):
                yield Finding.problem("version", f"PORTAL_KOHA_VERSION={configured[0]}.{configured[1]:02d} does not "
                                      f"match the routes this Koha serves (Koha {estimate}): set it to Koha's "
                                      "release, or leave it empty to read the routes from Koha.",
                                      "PORTAL_KOHA_VERSION")

    def _check_routes(self, features: KohaFeatures, spec: dict[str, Any]) -> Iterator[Finding]:
        missing = [(method, template, why) for method, template, why in REQUIRED
                   if (method, template) not in features.routes]
        for method, template, why in missing:
            yield Finding.problem("routes", f"Koha does not serve {method} {template}, which the portal needs to "
                                  f"{why}: this Koha is too old or the route is disabled.", "Koha release")
        if features.patron_checkouts:
            embed = features.embed_header("GET", "/patrons/{patron_id}/checkouts", ("item.biblio", "item"))
            yield Finding.info("routes", "Loans: GET /patrons/{patron_id}/checkouts" + (
                f" with x-koha-embed: {embed['x-koha-embed']}" if embed else " (nothing embedded)") + ".")
        elif ("GET", "/checkouts") in features.routes:
            yield Finding.info("routes", "Loans: GET /checkouts?patron_id= (before Koha 24.05), each item and title "
                               "looked up once and cached.")
        else:
            yield Finding.problem("routes", "Koha serves neither GET /patrons/{patron_id}/checkouts nor GET "
                                  "/checkouts: the portal cannot list loans.", "Koha release")
        if not features.password_validation:
            yield Finding.info("routes", "Koha has no POST /auth/password/validation (before 23.11): passwords are "
                               "checked by HTTP Basic as the patron, which needs the system preference RESTBasicAuth.")
        if not features.biblio_search:
            yield Finding.info("routes", "Koha has no GET /biblios: the portal offers no catalogue search "
                               "(LIBRARY_OPAC_URL can link to the OPAC's).")
        for (method, template), names in PARAMETERS.items():
            if (method, template) not in features.routes:
                continue
            declared = features.query_params.get((method, template), frozenset())
            for name in names:
                if name not in declared:
                    yield Finding.problem("routes", f"Koha's {method} {template} does not take the query parameter "
                                          f"{name!r}, which the portal sends: Koha would answer 400.", "Koha release")
        if not missing:
            yield Finding.ok("routes", "Koha serves every route the portal needs.")

    # --- 5 and 6: the API client --------------------------------------------------------------

    def _check_login(self) -> Iterator[Finding]:
        if not self.settings.uses_oauth:
            return (yield from self._check_basic_login())
        form = {"grant_type": "client_credentials", "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret}
        try:
            response = self.client.http.post(f"{API}/oauth/token", data=form)
        except httpx.HTTPError as exc:
            yield Finding.problem("login", f"Koha did not answer the OAuth2 token request ({type(exc).__name__}).",
                                  URL_SETTING)
            return False
        error = _error(response)
        if response.status_code == 200 and "access_token" in response.text:
            yield Finding.ok("login", "Koha accepted the API client's id and secret (OAuth2 client credentials).")
            return True
        if response.status_code == 400 and "grant type" in error.lower():
            yield Finding.problem("login", "Koha refuses OAuth2 client credentials: enable the system preference "
                                  "RESTOAuth2ClientCredentials (Administration › System preferences › Web services).",
                                  "RESTOAuth2ClientCredentials")
        elif response.status_code in (400, 401, 403):
            yield Finding.problem("login", f"Koha refused the API client's id or secret ({response.status_code} "
                                  f"{error or 'no message'}): copy both again from the staff patron's "
                                  "More › Manage API keys.", "PORTAL_KOHA_CLIENT_ID, PORTAL_KOHA_CLIENT_SECRET")
        else:
            yield Finding.problem("login", f"Koha answered {response.status_code} to the OAuth2 token request "
                                  f"({error or 'no message'}).", URL_SETTING)
        return False

    def _check_basic_login(self) -> Iterator[Finding]:
        try:  # a route whose contract declares 401 and 403 (GET /libraries declares neither)
            self.client.get("/patrons", params={"_per_page": 1})
        except KohaApiError as exc:
            if exc.status == 401 and "basic" in exc.error.lower():
                yield Finding.problem("login", "Koha refuses HTTP Basic authentication: enable the system preference "
                                      "RESTBasicAuth, or use OAuth2 (PORTAL_KOHA_CLIENT_ID/SECRET).", "RESTBasicAuth")
            elif exc.status in (401, 403) and not isinstance(exc, KohaPermissionError):
                yield Finding.problem("login", f"Koha refused the API client's user name or password ({exc.error}).",
                                      "PORTAL_KOHA_USER, PORTAL_KOHA_PASSWORD")
            else:
                yield from self._permission_problem(exc, "GET", "/patrons")
                return True
            return False
        except IlsError as exc:
            yield Finding.problem("login", f"Logging in to Koha failed: {exc}.", URL_SETTING)
            return False
        yield Finding.ok("login", f"Koha accepted the API client's user {self.settings.user!r} (HTTP Basic).")
        return True

    def _check_permissions(self, features: KohaFeatures, spec: dict[str, Any]) -> Iterator[Finding]:
        problems = 0
        patron_id = None
        try:  # one patron's id, for the routes below a patron
            answer = self.client.request("GET", "/patrons", params={"_per_page": 1})
            if isinstance(answer.data, list) and answer.data:
                patron_id = answer.data[0].get("patron_id")
        except KohaApiError as exc:
            problems += yield from self._permission_problem(exc, "GET", "/patrons")
        reads = [("GET", "/libraries", "/libraries", {"_per_page": 1}), ("GET", "/holds", "/holds", {"_per_page": 1}),
                 ("GET", "/biblios/{biblio_id}", "/biblios/0", None)]
        if features.biblio_search:
            reads.append(("GET", "/biblios", "/biblios", {"_per_page": 1}))
        if patron_id is not None:
            checkouts = ("/patrons/{patron_id}/checkouts", f"/patrons/{patron_id}/checkouts", {"_per_page": 1}) \
                if features.patron_checkouts else ("/checkouts", "/checkouts", {"patron_id": patron_id, "_per_page": 1})
            reads += [("GET", checkouts[0], checkouts[1], checkouts[2]),
                      ("GET", "/patrons/{patron_id}/holds", f"/patrons/{patron_id}/holds", {"_per_page": 1}),
                      ("GET", "/patrons/{patron_id}/account", f"/patrons/{patron_id}/account", None)]
        for method, template, path, params in reads:
            try:
                self.client.request(method, path, params=params, ok=(200, 404))
            except KohaApiError as exc:
                problems += yield from self._permission_problem(exc, method, template)
        if features.password_validation:
            body = {"userid": f"shiori-check-{secrets.token_hex(8)}", "password": secrets.token_hex(8)}
            try:  # no such user: Koha says 400 "Validation failed" and counts nothing
                self.client.request("POST", "/auth/password/validation", json=body, ok=(400, 201, 204))
            except KohaApiError as exc:
                problems += yield from self._permission_problem(exc, "POST", "/auth/password/validation")
        if not problems:
            yield Finding.ok("permissions", "The API client may read patrons, loans, holds, titles, libraries and "
                             "charges" + (", and check passwords." if features.password_validation else "."))
        declared = [f"{method} {template}: {permissions_text(needed)}" for method, template in WRITES
                    if (needed := _declared_permissions(spec, method, template)) is not None]
        if declared:
            yield Finding.info("permissions", "Not tried, as they change data; Koha's contract asks for "
                               + "; ".join(declared) + ".")

    def _permission_problem(self, exc: KohaApiError, method: str, template: str) -> Iterator[Finding]:
        """One finding for a refused probe; returns 1 (a problem) so that callers can count."""
        if isinstance(exc, KohaPermissionError):
            yield Finding.problem("permissions", f"The API client may not {method} {template}: Koha asks for "
                                  f"{permissions_text(exc.required_permissions)}. Grant it to the staff patron that "
                                  "owns the API client (More › Set permissions).", "Koha permissions of the API client")
        else:
            yield Finding.problem("permissions", f"{method} {template} failed: {exc}.", None)
        return 1


def _declared_permissions(spec: dict[str, Any], method: str, template: str) -> Any:
    base = str(spec.get("basePath") or API).rstrip("/")
    item = (spec.get("paths") or {}).get(template) or (spec.get("paths") or {}).get(base + template) or {}
    operation = item.get(method.lower()) if isinstance(item, dict) else None
    authorization = operation.get("x-koha-authorization") if isinstance(operation, dict) else None
    return authorization.get("permissions") if isinstance(authorization, dict) else None


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _connection_problem(exc: httpx.HTTPError, scheme: str, host: str, port: int) -> str:
    """One sentence for a connection that failed before any HTTP answer."""
    text = f"{exc} {exc.__cause__ or ''}".lower()
    if "certificate" in text:
        return (f"Koha's TLS certificate at {host}:{port} was not accepted ({exc}): give it a certificate this server "
                "trusts, or install its CA here; PORTAL_KOHA_URL must name the host the certificate is for.")
    if scheme == "https" and any(sign in text for sign in ("wrong_version_number", "wrong version number",
                                                           "record layer", "unknown protocol", "http_request")):
        return (f"{host}:{port} does not speak TLS: PORTAL_KOHA_URL says https://, so use http:// or the port "
                "where Koha serves HTTPS.")
    if scheme == "http" and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return (f"{host}:{port} did not answer HTTP (an HTTPS port?): use https:// in PORTAL_KOHA_URL, or the port "
                "where Koha serves HTTP.")
    if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
        return f"The host {host} is unknown here: check the host in PORTAL_KOHA_URL."
    if "refused" in text:
        return f"Nothing accepts connections at {host}:{port}: check the host and port in PORTAL_KOHA_URL."
    return f"Koha at {host}:{port} could not be reached ({type(exc).__name__}: {exc}): check PORTAL_KOHA_URL."

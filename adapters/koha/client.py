"""HTTP to Koha's REST API v1: authentication, retries, routes per Koha release, and errors.

Everything that can go wrong on the wire becomes an ``IlsError`` here, chained with ``from exc``:

- no answer (connection refused, timeout, broken connection), a 5xx, or a body that is not JSON:
  ``IlsUnavailable``; idempotent GETs are retried first (connection errors, 502/503/504);
- 401: the OAuth2 token is fetched again once (it may have expired early); if Koha still refuses,
  the API client's credentials are wrong: ``IlsUnavailable`` with a log line saying so;
- 403 with ``required_permissions``: the API client lacks a permission: ``KohaPermissionError``
  (an ``IlsUnavailable``) with a log line naming it. Other 403s are Koha saying no to the request
  itself ("Renewal not authorized (too_many)"): ``KohaApiError``, which the adapter maps to a reason;
- 404 of a route Koha does not have (an older release): ``KohaRouteMissing``; 404 of a record, and
  400/409: ``KohaApiError`` for the adapter to map (``RecordNotFound``, ``Refused``, ...).

``KohaApiError`` subclasses ``IlsUnavailable``: an answer the adapter did not expect reaches the
views as "the library system is unavailable", never as a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.errors import IlsUnavailable
from adapters.koha.config import KohaSettings

log = logging.getLogger(__name__)

API = "/api/v1"
RETRY_STATUSES = frozenset({502, 503, 504})
TOKEN_MARGIN_SECONDS = 30  # fetch a new token this long before Koha says the old one expires
MAX_PAGES = 100


class KohaApiError(IlsUnavailable):
    """Koha answered with an error status the caller may map (400, 403, 404, 409, ...)."""

    def __init__(self, status: int, method: str, path: str, body: Any = None) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.error = str(body.get("error") or "") if isinstance(body, dict) else (body if isinstance(body, str) else "")
        self.error_code = str(body.get("error_code") or "") if isinstance(body, dict) else ""
        super().__init__(f"Koha answered {status} to {method} {path}: {self.error or '(no message)'}")


class KohaPermissionError(KohaApiError):
    """403 from Koha's authorization layer: the API client's staff user lacks a permission."""

    @property
    def required_permissions(self) -> Any:
        return self.body.get("required_permissions") if isinstance(self.body, dict) else None


class KohaServerError(IlsUnavailable):
    """Koha failed (5xx)."""

    def __init__(self, status: int, method: str, path: str) -> None:
        self.status = status
        super().__init__(f"Koha answered {status} to {method} {path}")


class KohaRouteMissing(KohaApiError):
    """404 for the route itself: this Koha release does not have it."""


@dataclass(frozen=True)
class KohaResponse:
    status: int
    data: Any
    headers: httpx.Headers

    @property
    def total(self) -> int | None:
        value = self.headers.get("x-total-count")
        return int(value) if value and value.isdigit() else None


def quiet_httpx_logging() -> bool:
    """Raise the ``httpx`` logger to WARNING unless the deployment configured that logger itself.

    httpx logs every request at INFO with its full URL: ``GET /patrons?cardnumber=...`` would put card
    numbers in the portal's log. Called by ``KohaAdapter.from_config`` (when the portal starts with
    Koha), not at import: importing this module changes no logging. A level or a handler already set
    on the ``httpx`` logger (logging config, ``dictConfig``) is the deployment's choice and is kept.
    Returns whether the level was changed.
    """
    logger = logging.getLogger("httpx")
    if logger.level != logging.NOTSET or logger.handlers:
        return False
    logger.setLevel(logging.WARNING)
    return True


# --- which routes this Koha has --------------------------------------------------------------


#: the x-koha-embed values of the routes the adapter embeds on, per release, for KOHA_VERSION (without
#: it they are read from the contract Koha serves). 24.05 declares ``item`` on the checkout lists but
#: not ``item.biblio`` (tests/fixtures/koha/24.05: paths/patrons_checkouts.yaml); 24.11 adds it.
PATRON_EMBEDS = frozenset({"extended_attributes", "checkouts+count", "overdues+count", "account_balance", "library"})


def _version_embeds(version: tuple[int, int]) -> dict[tuple[str, str], frozenset[str]]:
    checkouts = {"issuer", "renewals"} | ({"item", "library", "patron"} if version >= (24, 5) else set())
    if version >= (24, 11):
        checkouts.add("item.biblio")
    embeds = {("GET", "/patrons"): PATRON_EMBEDS, ("GET", "/checkouts"): frozenset(checkouts)}
    if version >= (24, 5):
        embeds[("GET", "/patrons/{patron_id}/checkouts")] = frozenset(checkouts)
    return embeds


@dataclass(frozen=True)
class KohaFeatures:
    """What this Koha serves: the routes that differ between the releases Shiori supports (22.11
    and later), and the ``x-koha-embed`` values and query parameters each route declares.

    Koha validates every request against its own contract and answers 400 to a header value or a
    parameter the route does not declare (24.05 refuses ``x-koha-embed: item.biblio`` on the
    checkout lists), so the adapter sends only what is declared here."""

    # POST /auth/password/validation: 23.11 (possibly 23.05). Without it (22.11) a password is checked
    # by HTTP Basic authentication as the patron (KohaAdapter._check_password_as_patron).
    password_validation: bool = True
    patron_checkouts: bool = False  # GET /patrons/{id}/checkouts: 24.05
    biblio_search: bool = False  # GET /biblios with a q filter
    # PUT /holds/{hold_id}/pickup_location: in every contract line built (23.11 to 25.11; none for 22.11, but
    # VuFind's KohaRest driver changed pickup locations with it in 2021, vufind-org/vufind PR #1985), so
    # assumed for every release; a served contract without it turns it off.
    hold_pickup_change: bool = True
    source: str = "defaults"
    #: (METHOD, template) -> the x-koha-embed values the route declares (a route without the header: empty)
    embed_values: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict, compare=False)
    #: (METHOD, template) -> its query parameters; empty when the routes were not read (KOHA_VERSION)
    query_params: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict, compare=False)
    #: every (METHOD, template) Koha serves; empty when the routes were not read (KOHA_VERSION)
    routes: frozenset[tuple[str, str]] = field(default=frozenset(), compare=False)

    @classmethod
    def from_version(cls, version: tuple[int, int]) -> KohaFeatures:
        return cls(
            password_validation=version >= (23, 11),
            patron_checkouts=version >= (24, 5),
            biblio_search=version >= (23, 5),
            source=f"KOHA_VERSION={version[0]}.{version[1]:02d}",
            embed_values=_version_embeds(version),
        )

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> KohaFeatures:
        """From the contract Koha serves at GET /api/v1/ (Swagger 2.0; its ``info.version`` is the API's,
        "1", not Koha's). Shared parameters are ``$ref``s into its ``parameters``."""
        shared = spec.get("parameters") if isinstance(spec.get("parameters"), Mapping) else {}
        base = str(spec.get("basePath") or API).rstrip("/")
        routes: set[tuple[str, str]] = set()
        embeds: dict[tuple[str, str], frozenset[str]] = {}
        queries: dict[tuple[str, str], frozenset[str]] = {}
        for path, item in (spec.get("paths") or {}).items():
            relative = path[len(base):] if base and path.startswith(base + "/") else path
            for method, operation in (item or {}).items():
                if not isinstance(operation, Mapping) or method.lower() not in HTTP_METHODS:
                    continue
                key = (method.upper(), relative)
                routes.add(key)
                parameters = [_resolve_parameter(p, shared) for p in operation.get("parameters") or ()]
                queries[key] = frozenset(str(p.get("name")) for p in parameters if p.get("in") == "query")
                embeds[key] = frozenset(value for p in parameters
                                        if p.get("in") == "header" and str(p.get("name")).lower() == "x-koha-embed"
                                        for value in _enum(p))
        return cls(
            password_validation=("POST", "/auth/password/validation") in routes,
            patron_checkouts=("GET", "/patrons/{patron_id}/checkouts") in routes,
            biblio_search=("GET", "/biblios") in routes,
            hold_pickup_change=("PUT", "/holds/{hold_id}/pickup_location") in routes,
            source="GET /api/v1/",
            embed_values=embeds,
            query_params=queries,
            routes=frozenset(routes),
        )

    def embeds(self, method: str, template: str) -> frozenset[str]:
        """The x-koha-embed values ``method template`` accepts (none for a route not known)."""
        return self.embed_values.get((method.upper(), template), frozenset())

    def embed_header(self, method: str, template: str, *wanted: str | tuple[str, ...]) -> dict[str, str] | None:
        """The ``x-koha-embed`` header asking for ``wanted``, keeping only what the route declares: each
        entry a value, or a tuple of alternatives of which the first declared one is asked for
        (``("item.biblio", "item")``). None when nothing is left."""
        allowed = self.embeds(method, template)
        chosen = []
        for entry in wanted:
            options = (entry,) if isinstance(entry, str) else entry
            chosen += [option for option in options if option in allowed][:1]
        return {"x-koha-embed": ",".join(chosen)} if chosen else None


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch"})


def _resolve_parameter(parameter: Any, shared: Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(parameter, Mapping) and "$ref" in parameter:
        found = shared.get(str(parameter["$ref"]).rsplit("/", 1)[-1])
        return found if isinstance(found, Mapping) else {}
    return parameter if isinstance(parameter, Mapping) else {}


def _enum(parameter: Mapping[str, Any]) -> list[str]:
    """A parameter's allowed values (Swagger 2.0 keeps an array's ``enum`` under ``items``)."""
    items = parameter.get("items") if isinstance(parameter.get("items"), Mapping) else {}
    values = items.get("enum") or parameter.get("enum") or []
    return [str(value) for value in values]


# --- the client -------------------------------------------------------------------------------


class KohaClient:
    """One ``httpx.Client`` (timeouts, a connection pool) to one Koha, safe to share between threads."""

    def __init__(self, settings: KohaSettings, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self.http = httpx.Client(
            base_url=settings.url,
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(max_connections=settings.max_connections,
                                max_keepalive_connections=settings.max_connections),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "Shiori (patron portal)"},
            follow_redirects=False,
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    # --- authentication -----------------------------------------------------------------

    def _staff_auth(self, *, fresh: bool = False) -> httpx.Auth | dict[str, str]:
        if not self.settings.uses_oauth:
            return httpx.BasicAuth(self.settings.user, self.settings.password)
        return {"Authorization": f"Bearer {self._access_token(fresh=fresh)}"}

    def _access_token(self, *, fresh: bool = False) -> str:
        with self._token_lock:
            if fresh or self._token is None or self._clock() >= self._token_expires:
                self._token, lifetime = self._fetch_token()
                self._token_expires = self._clock() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS)
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "client_id": self.settings.client_id,
                "client_secret": self.settings.client_secret}
        try:
            response = self.http.post(f"{API}/oauth/token", data=form)
        except httpx.HTTPError as exc:
            raise IlsUnavailable(f"Koha did not answer the OAuth2 token request: {exc.__class__.__name__}") from exc
        data = _json(response, "POST", "/oauth/token") if response.content else None
        if response.status_code != 200 or not isinstance(data, dict) or not data.get("access_token"):
            error = data.get("error") if isinstance(data, dict) else None
            log.error("Koha refused an OAuth2 token (%s %s): check PORTAL_KOHA_CLIENT_ID/PORTAL_KOHA_CLIENT_SECRET "
                      "and the syspref RESTOAuth2ClientCredentials", response.status_code, error or "")
            raise IlsUnavailable(f"Koha refused an OAuth2 token ({response.status_code})")
        try:
            lifetime = float(data.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        return str(data["access_token"]), lifetime

    # --- requests ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None, ok: Iterable[int] = (200,),
                patron_auth: tuple[str, str] | None = None) -> KohaResponse:
        """Send ``method`` to ``/api/v1`` + ``path``; return the answer if its status is in ``ok``.

        ``patron_auth`` (userid, password) sends the request as the patron (HTTP Basic) instead of the
        API client: only the /public routes that act on the patron's own record need it.
        """
        method = method.upper()
        attempts = 1 + (self.settings.retries if method == "GET" else 0)
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            try:
                response = self._send_authenticated(method, path, params, json, headers, patron_auth)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if not last:
                    self._backoff(attempt, method, path, exc.__class__.__name__)
                    continue
                raise IlsUnavailable(f"Koha could not be reached ({exc.__class__.__name__}) on {method} {path}") from exc
            except httpx.TimeoutException as exc:
                raise IlsUnavailable(f"Koha timed out ({exc.__class__.__name__}) on {method} {path}") from exc
            except httpx.HTTPError as exc:
                raise IlsUnavailable(f"talking to Koha failed ({exc.__class__.__name__}) on {method} {path}") from exc
            if response.status_code in RETRY_STATUSES and not last:
                self._backoff(attempt, method, path, str(response.status_code))
                continue
            return self._result(response, method, path, frozenset(ok), patron_auth is not None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, method: str, path: str, why: str) -> None:
        delay = self.settings.retry_backoff * (2 ** attempt)
        log.info("Koha %s %s failed (%s); retrying in %.1fs", method, path, why, delay)
        if delay:
            self._sleep(delay)

    def _send_authenticated(self, method: str, path: str, params: Any, json: Any,
                            headers: Mapping[str, str] | None, patron_auth: tuple[str, str] | None) -> httpx.Response:
        if patron_auth is not None:
            return self._send(method, path, params, json, dict(headers or {}), httpx.BasicAuth(*patron_auth))
        auth = self._staff_auth()
        response = self._send(method, path, params, json, _with(headers, auth), _auth_object(auth))
        if response.status_code == 401 and self.settings.uses_oauth:
            # The token expired (or Koha restarted and forgot it): fetch a new one, once.
            log.info("Koha answered 401 to %s %s; fetching a new OAuth2 token", method, path)
            auth = self._staff_auth(fresh=True)
            response = self._send(method, path, params, json, _with(headers, auth), None)
        return response

    def _send(self, method: str, path: str, params: Any, json: Any, headers: dict[str, str],
              auth: httpx.Auth | None) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json is not None:
            kwargs["json"] = json
        if auth is not None:
            kwargs["auth"] = auth
        return self.http.request(method, f"{API}{path}", **kwargs)

    def _result(self, response: httpx.Response, method: str, path: str, ok: frozenset[int],
                as_patron: bool) -> KohaResponse:
        status = response.status_code
        if status in ok:
            data = _json(response, method, path) if response.content and status != 204 else None
            return KohaResponse(status, data, response.headers)
        body = _error_body(response)
        if status >= 500:
            log.warning("Koha failed on %s %s: %s %s", method, path, status, _message(body))
            raise KohaServerError(status, method, path)
        if status == 401 and not as_patron:
            log.error("Koha refused the API client's credentials on %s %s (%s): check PORTAL_KOHA_CLIENT_ID/"
                      "SECRET or PORTAL_KOHA_USER/PASSWORD and the sysprefs RESTOAuth2ClientCredentials/RESTBasicAuth",
                      method, path, _message(body))
            raise KohaApiError(status, method, path, body)
        # Koha's authorization refusal names what is missing; its authentication refusal ("Invalid
        # password") carries required_permissions null.
        if status == 403 and isinstance(body, dict) and body.get("required_permissions") and not as_patron:
            log.error("Koha's API client lacks a permission for %s %s: %s needs %s. Grant it to the staff patron "
                      "that owns the API client (see adapters/koha/README.md).",
                      method, path, _message(body), body.get("required_permissions"))
            raise KohaPermissionError(status, method, path, body)
        if status == 404 and isinstance(body, dict) and "errors" in body and "error" not in body:
            log.error("This Koha has no route %s %s: set PORTAL_KOHA_VERSION to its release, or upgrade Koha",
                      method, path)
            raise KohaRouteMissing(status, method, path, body)
        raise KohaApiError(status, method, path, body)

    # --- conveniences --------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> KohaResponse:
        return self.request("GET", path, **kwargs)

    def get_all(self, path: str, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, per_page: int = 100) -> list[Any]:
        """Every object of a list route, page by page (Koha pages lists by RESTdefaultPageSize, 20)."""
        rows: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            answer = self.get(path, params={**(params or {}), "_page": page, "_per_page": per_page}, headers=headers)
            batch = answer.data if isinstance(answer.data, list) else None
            if batch is None:
                raise IlsUnavailable(f"Koha answered GET {path} with something other than a list")
            rows.extend(batch)
            total = answer.total
            if len(batch) < per_page or (total is not None and len(rows) >= total):
                return rows
        log.warning("GET %s: stopped after %d pages", path, MAX_PAGES)
        return rows

    def spec(self) -> dict[str, Any]:
        """The contract this Koha serves at GET /api/v1/ (no authentication needed)."""
        try:
            response = self.http.get(f"{API}/")
        except httpx.HTTPError as exc:
            raise IlsUnavailable(f"Koha could not be reached for GET {API}/ ({exc.__class__.__name__})") from exc
        data = _json(response, "GET", "/") if response.status_code == 200 else None
        if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
            raise IlsUnavailable(f"GET {API}/ did not return Koha's API contract ({response.status_code})")
        return data


def _with(headers: Mapping[str, str] | None, auth: httpx.Auth | dict[str, str]) -> dict[str, str]:
    merged = dict(headers or {})
    if isinstance(auth, dict):
        merged.update(auth)
    return merged


def _auth_object(auth: httpx.Auth | dict[str, str]) -> httpx.Auth | None:
    return None if isinstance(auth, dict) else auth


def _json(response: httpx.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        log.warning("Koha answered %s %s with a body that is not JSON (%s, %d bytes)", method, path,
                    response.headers.get("content-type", "?"), len(response.content))
        raise IlsUnavailable(f"Koha's answer to {method} {path} is not JSON") from exc


def _error_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text[:200]


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("error") or body.get("errors") or "")
    return str(body or "")

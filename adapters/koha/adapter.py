"""``KohaAdapter``: the portal over Koha's REST API v1, through one staff API client.

The API client can read and change any patron, so this adapter never takes a patron id, loan id or
hold id from a browser on trust: the patron id is always the ``Patron.key`` it returned from
``authenticate``; the base class checks loan and hold ids for ``renew``, ``cancel_holds``,
``suspend_hold`` and ``resume_hold``, and ``change_pickup_location`` (not in the base class yet)
checks them the same way (``IlsAdapter._own_hold``) before any call.

Passwords are checked by ``POST /auth/password/validation`` (Koha 23.11+), or on Koha 22.11, which
lacks that route, by Koha's HTTP Basic authentication as the patron (``_check_password_as_patron``).

Koha's OPAC applies account blocks (expired card, restriction, lost card, charges over the limit)
itself; the staff routes this adapter uses do not, so the adapter applies them as the OPAC would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from adapters.base import IlsAdapter
from adapters.errors import (
    AccountLocked,
    AuthenticationFailed,
    IlsUnavailable,
    InvalidInput,
    NotSupported,
    RecordNotFound,
    Refused,
)
from adapters.koha import mapping
from adapters.koha.client import (
    KohaApiError,
    KohaClient,
    KohaFeatures,
    KohaPermissionError,
    KohaRouteMissing,
    quiet_httpx_logging,
)
from adapters.koha.common import koha_is_down, log, numeric_id
from adapters.koha.config import KohaConfigError, KohaSettings
from adapters.koha.titles import TitleCache
from adapters.models import (
    AccountSummary,
    BlockCode,
    CancelOutcome,
    Capability,
    Hold,
    HoldRequest,
    HoldStatus,
    Loan,
    Patron,
    PickupLocation,
    Reason,
    Record,
    RenewalForecast,
    RenewalOutcome,
    RenewalResult,
    RenewalStatus,
    SearchResult,
)
from adapters.validation import PASSWORD_MAX, check_safe_text, mask_card_number, normalize_card_number

WRONG_CREDENTIALS = "wrong card number or password"
PATRON_EMBED = {"x-koha-embed": "overdues+count,account_balance"}
MAX_PER_PAGE = 100
MAX_SEARCH_TERMS = 8
DISCOVERY_RETRY_SECONDS = 60.0
#: blocks shown with a renewal result (those that stop renewals, or explain Koha's "overdue")
RENEWAL_BLOCKS = mapping.RESTRICTING_BLOCKS | {BlockCode.OVERDUE_LOANS}


class _WrongPassword(Exception):
    """Koha said "Validation failed" (or the patron cannot log in at all)."""


def _like(term: str) -> str:
    """A term for a DBIC ``-like`` filter, its wildcards escaped."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class KohaAdapter(IlsAdapter):
    name: ClassVar[str] = "koha"
    #: what the adapter can do on every supported Koha; CATALOG_SEARCH is added where Koha has GET /biblios
    BASE_CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({
        Capability.LOANS, Capability.RENEW, Capability.RENEW_ALL, Capability.HOLDS, Capability.PLACE_HOLD,
        Capability.CANCEL_HOLD, Capability.SUSPEND_HOLD, Capability.FINES, Capability.CHANGE_PASSWORD,
        Capability.SET_PASSWORD, Capability.RECORD_DETAILS, Capability.PATRON_EMAIL,
    })

    def __init__(self, settings: KohaSettings, *, transport: httpx.BaseTransport | None = None,
                 today: Callable[[], date] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.client = KohaClient(settings, transport=transport, sleep=sleep, clock=clock)
        try:
            self.tz = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise KohaConfigError(f"unknown time zone {settings.timezone!r} (PORTAL_KOHA_TIMEZONE)") from exc
        self._today = today
        self._clock = clock
        self.titles = TitleCache(self.client, ttl=settings.biblio_cache_seconds)
        self._features = KohaFeatures.from_version(settings.version) if settings.version else None
        self._discovery_failed_at: float | None = None
        self._features_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=settings.parallel_requests, thread_name_prefix="koha")
        self._public_password_route = settings.change_route != "staff"
        self._validation_route_missing = False  # Koha said 404 to POST /auth/password/validation

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> KohaAdapter:
        """From the app config. Keyword arguments (``transport``, ``today``, ...) are for tests and tools.

        Also keeps httpx's per-request INFO lines (full URLs, card numbers in them) out of the log,
        unless the deployment configured the ``httpx`` logger itself (``client.quiet_httpx_logging``)."""
        settings = KohaSettings.from_config(config)
        if quiet_httpx_logging():
            log.debug("httpx logger set to WARNING: its INFO lines carry full URLs with card numbers")
        return cls(settings, **kwargs)

    # --- the adapter itself ---------------------------------------------------------------

    @property
    def features(self) -> KohaFeatures:
        """The routes this Koha has: from KOHA_VERSION, else from the contract it serves (asked once)."""
        if self._features is not None:
            return self._features
        with self._features_lock:
            if self._features is not None:
                return self._features
            failed = self._discovery_failed_at
            if failed is None or self._clock() - failed >= DISCOVERY_RETRY_SECONDS:
                try:
                    self._features = KohaFeatures.from_spec(self.client.spec())
                    log.info("Koha routes found at GET /api/v1/: %s", self._features)
                    return self._features
                except IlsUnavailable as exc:
                    self._discovery_failed_at = self._clock()
                    log.warning("could not read Koha's API contract (%s); assuming the routes of Koha 23.11. "
                                "Set PORTAL_KOHA_VERSION to skip this step.", exc)
            return replace(KohaFeatures.from_version((23, 11)), source="assumed (Koha 23.11's routes)")

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        extra = {Capability.CATALOG_SEARCH} if self.features.biblio_search else set()
        return self.BASE_CAPABILITIES | extra

    def today(self) -> date:
        return self._today() if self._today is not None else datetime.now(self.tz).date()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def check_ready(self) -> None:
        self.client.get("/libraries", params={"_per_page": 1})

    # --- patrons ----------------------------------------------------------------------------

    def _fine_limit(self) -> Decimal | None:
        limit = self.settings.fine_limit
        return Decimal(str(limit)) if limit is not None else None

    def _patrons(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        answer = self.client.get("/patrons", params={**params, "_match": "exact"}, headers=PATRON_EMBED)
        if not isinstance(answer.data, list):
            raise IlsUnavailable("Koha answered GET /patrons with something other than a list")
        return answer.data

    def _patron_json(self, patron_key: str) -> dict[str, Any]:
        key = numeric_id(patron_key)
        rows = self._patrons({"patron_id": key}) if key else []
        match = next((row for row in rows if str(row.get("patron_id")) == key), None)
        if match is None:
            raise AuthenticationFailed("unknown patron")  # a session outliving the patron's record
        return match

    def _patron_by_card(self, card: str) -> dict[str, Any] | None:
        rows = self._patrons({"cardnumber": card})
        return next((row for row in rows if str(row.get("cardnumber") or "").upper() == card.upper()), None)

    def _to_patron(self, row: Mapping[str, Any], *, must_change_password: bool = False) -> Patron:
        return mapping.patron_from_json(row, today=self.today(), fine_limit=self._fine_limit(),
                                        must_change_password=must_change_password)

    def _check_password(self, row: Mapping[str, Any], password: str) -> bool:
        """Koha's check of the patron's password; True if it is right but expired. Raises _WrongPassword.

        Koha 23.11+: ``POST /auth/password/validation``. A Koha without that route (22.11, found from
        the contract it serves, from KOHA_VERSION, or from a 404 of the route itself): Koha's HTTP Basic
        authentication as the patron."""
        userid = str(row.get("userid") or "")
        if not userid:
            raise _WrongPassword()
        if self.features.password_validation and not self._validation_route_missing:
            try:
                return self._check_password_validation(userid, password)
            except KohaRouteMissing:
                log.warning("this Koha has no POST /auth/password/validation (it arrived in 23.11): checking "
                            "passwords by HTTP Basic authentication as the patron from now on. "
                            "Set PORTAL_KOHA_VERSION to the Koha release to skip this step.")
                self._validation_route_missing = True
        return self._check_password_as_patron(row, userid, password)

    def _check_password_validation(self, userid: str, password: str) -> bool:
        try:
            self.client.request("POST", "/auth/password/validation", json={"userid": userid, "password": password},
                                ok=(200, 201, 204))
        except KohaApiError as exc:
            if exc.status != 400:
                raise  # KohaRouteMissing (a 404) included
            if "expired" in exc.error.lower():
                return True
            raise _WrongPassword() from exc
        return False

    def _check_password_as_patron(self, row: Mapping[str, Any], userid: str, password: str) -> bool:
        """Koha 22.11: ``GET /patrons/{patron_id}`` sent as the patron (HTTP Basic, syspref RESTBasicAuth).

        Koha (``Koha::REST::V1::Auth``) authenticates before it authorizes, and answers before the
        route's controller runs: wrong credentials get 403 "Invalid password" and an expired password
        403 "Password has expired" (both with ``required_permissions`` null); right credentials reach
        the permission check, which a patron fails with 403 and the route's ``required_permissions``
        (a staff patron allowed to read patrons gets 200 and their own record). Only that second kind
        of answer, or the 200, counts as the right password: anything else fails closed.

        Koha's Basic authentication (``checkpw_internal``) neither refuses a locked account nor counts
        failed attempts, so a locked account is refused here before its password is sent, and the
        portal's own login limit (LOGIN_LOCKOUT) stands in for Koha's count.
        """
        if mapping.is_locked(row, self.settings.failed_login_attempts):
            raise _WrongPassword()
        if ":" in userid:  # Basic credentials are "userid:password"; Koha splits them at the first colon
            log.warning("patron %s has a colon in their Koha username, which HTTP Basic cannot carry: "
                        "they cannot log in to the portal on this Koha", row.get("patron_id"))
            raise _WrongPassword()
        patron_id = row["patron_id"]
        try:
            answer = self.client.request("GET", f"/patrons/{patron_id}", ok=(200,), patron_auth=(userid, password))
        except KohaApiError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            message = exc.error.lower()
            if exc.status == 403 and body.get("required_permissions"):
                return False  # authenticated; only not allowed to read patron records, as a patron should be
            if exc.status == 403 and "expired" in message:
                return True
            if exc.status == 401 and "basic authentication disabled" in message:
                log.error("Koha refuses HTTP Basic authentication. This Koha has no POST /auth/password/validation "
                          "(Koha 23.11 or later), so the portal checks a patron's password by authenticating as "
                          "the patron: enable the syspref RESTBasicAuth (see adapters/koha/README.md)")
                raise IlsUnavailable("Koha refuses HTTP Basic authentication (syspref RESTBasicAuth)") from exc
            if exc.status in (401, 403, 404):
                raise _WrongPassword() from exc
            raise
        if not isinstance(answer.data, dict) or str(answer.data.get("patron_id")) != str(patron_id):
            raise IlsUnavailable(f"Koha answered GET /patrons/{patron_id} with another record")
        return False

    def authenticate(self, card_number: str, password: str) -> Patron:
        try:
            card = normalize_card_number(card_number)
            check_safe_text(password or "", PASSWORD_MAX, allow_delimiter=True)
        except InvalidInput:
            raise AuthenticationFailed(WRONG_CREDENTIALS) from None
        if not password:
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        row = self._patron_by_card(card)
        if row is None or not row.get("userid"):
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        try:
            expired = self._check_password(row, password)
        except _WrongPassword:
            again = self._patron_by_card(card) or row
            if mapping.is_locked(again, self.settings.failed_login_attempts):
                log.info("Koha refused card %s: the account is locked", mask_card_number(card))
                raise AccountLocked("the account is locked") from None
            raise AuthenticationFailed(WRONG_CREDENTIALS) from None
        return self._to_patron(row, must_change_password=expired)

    def patron(self, patron_key: str) -> Patron:
        return self._to_patron(self._patron_json(patron_key))

    def find_patron(self, card_number: str) -> Patron | None:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            return None
        row = self._patron_by_card(card)
        return None if row is None else self._to_patron(row)

    def change_password(self, patron_key: str, current: str, new: str) -> None:
        self._check_new_password(new)
        row = self._patron_json(patron_key)
        userid = str(row.get("userid") or "")
        try:
            if not userid or not current:
                raise _WrongPassword()
            check_safe_text(current, PASSWORD_MAX, allow_delimiter=True)
            expired = self._check_password(row, current)
        except (_WrongPassword, InvalidInput):
            raise AuthenticationFailed("wrong password") from None
        mode = self.settings.change_route
        if self._public_password_route and not expired:
            if self._change_password_public(row, userid, current, new):
                return
        elif mode == "public":
            log.warning("patron %s has an expired password, which Koha's public route cannot change "
                        "(PORTAL_KOHA_PASSWORD_CHANGE=public)", row.get("patron_id"))
            raise NotSupported(Capability.CHANGE_PASSWORD, "the password has expired")
        self._set_password_staff(str(row["patron_id"]), new)

    def _change_password_public(self, row: Mapping[str, Any], userid: str, current: str, new: str) -> bool:
        """POST /public/patrons/{id}/password as the patron; False if the staff route must do it."""
        body = {"old_password": current, "password": new, "password_repeated": new}
        try:
            self.client.request("POST", f"/public/patrons/{row['patron_id']}/password", json=body, ok=(200,),
                                patron_auth=(userid, current))
            return True
        except KohaApiError as exc:
            message = exc.error
            if exc.status == 400:
                raise Refused(Reason.OTHER, _password_message(message)) from exc
            if exc.status in (401, 403) and self.settings.change_route == "auto" and (
                    "basic authentication disabled" in message.lower() or "expired" in message.lower()):
                log.info("Koha refused the patron's own credentials (%s); changing passwords through the staff "
                         "route from now on", message)
                self._public_password_route = False
                return False
            if exc.status == 401 and "basic authentication disabled" in message.lower():
                log.error("PORTAL_KOHA_PASSWORD_CHANGE=public needs Koha's syspref RESTBasicAuth")
                raise NotSupported(Capability.CHANGE_PASSWORD, "Koha refuses Basic authentication") from exc
            if exc.status == 403 and "configuration prevents" in message.lower():
                log.warning("Koha forbids patrons to change their password (syspref OpacPasswordChange)")
                raise NotSupported(Capability.CHANGE_PASSWORD, "OpacPasswordChange is off") from exc
            if exc.status == 403 and "changing password is forbidden" in message.lower():
                raise NotSupported(Capability.CHANGE_PASSWORD, "the patron's category may not change it") from exc
            if exc.status in (401, 403) and "password" in message.lower():
                raise AuthenticationFailed("wrong password") from exc
            raise

    def set_password(self, patron_key: str, new: str) -> None:
        self._check_new_password(new)
        key = numeric_id(patron_key)
        if key is None:
            raise AuthenticationFailed("unknown patron")
        self._set_password_staff(key, new)

    @staticmethod
    def _check_new_password(new: str) -> None:
        check_safe_text(new or "", PASSWORD_MAX, allow_delimiter=True)
        if not new:
            raise InvalidInput("empty password")

    def _set_password_staff(self, key: str, new: str) -> None:
        try:
            self.client.request("POST", f"/patrons/{key}/password", json={"password": new, "password_2": new},
                                ok=(200, 204))
        except KohaApiError as exc:
            if exc.status == 400:
                raise Refused(Reason.OTHER, _password_message(exc.error)) from exc
            if exc.status == 404:
                raise AuthenticationFailed("unknown patron") from exc
            raise

    def set_patron_email(self, patron_key: str, email: str | None) -> None:
        """PUT /patrons/{id} with the fields Koha's contract requires and the new address: Koha sets
        only the fields sent (``set_from_api``), so nothing else of the record changes."""
        row = self._patron_json(patron_key)
        if email is not None:
            check_safe_text(email, 254)
        body = {"surname": row.get("surname"), "library_id": row["library_id"], "category_id": row["category_id"],
                "email": email or None}
        try:
            self.client.request("PUT", f"/patrons/{row['patron_id']}", json=body, ok=(200, 204))
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            if exc.status in (400, 409):
                raise Refused(Reason.OTHER, exc.error or None) from exc
            raise

    def account_summary(self, patron_key: str) -> AccountSummary:
        row = self._patron_json(patron_key)
        today = self.today()
        checkouts = self._checkouts(row["patron_id"], embed=False)
        dues = [mapping.local_date(checkout.get("due_date"), self.tz) for checkout in checkouts]
        holds = self._hold_rows(str(row["patron_id"]))
        balance = row.get("account_balance")
        fines = mapping.money(balance) if balance is not None else self._balance(str(row["patron_id"]))
        return AccountSummary(
            loans=len(checkouts),
            overdue=sum(1 for due in dues if due is not None and due < today),
            holds=len(holds),
            holds_ready=sum(1 for hold in holds if hold.get("status") == "W"),
            fines=max(fines, Decimal(0)),
            currency=self.settings.currency,
            blocks=mapping.patron_blocks(row, today=today, fine_limit=self._fine_limit()),
        )

    def _balance(self, key: str) -> Decimal:
        answer = self.client.get(f"/patrons/{key}/account")
        return mapping.money((answer.data or {}).get("balance"))

    def fines(self, patron_key: str) -> list[mapping.Charge]:
        """The patron's outstanding charges (GET /patrons/{id}/account), newest first."""
        row = self._patron_json(patron_key)
        answer = self.client.get(f"/patrons/{row['patron_id']}/account")
        lines = ((answer.data or {}).get("outstanding_debits") or {}).get("lines") or []
        charges = [mapping.charge_from_line(line, self.tz) for line in lines]
        return sorted(charges, key=lambda charge: charge.date or date.min, reverse=True)

    # --- loans --------------------------------------------------------------------------------

    def _checkouts(self, patron_id: Any, *, embed: bool) -> list[dict[str, Any]]:
        """The patron's current checkouts; on 24.05+ with their item and title embedded if ``embed``."""
        if self.features.patron_checkouts:
            headers = {"x-koha-embed": "item.biblio"} if embed else None
            rows = self.client.get_all(f"/patrons/{patron_id}/checkouts", headers=headers)
        else:
            rows = self.client.get_all("/checkouts", params={"patron_id": patron_id})
        return [row for row in rows if str(row.get("patron_id")) == str(patron_id)]

    def _checkout_biblio(self, checkout: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self._checkout_biblio_or_fail(checkout)
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:  # the loan is still worth showing, under its barcode
            log.warning("no title for checkout %s: %s", checkout.get("checkout_id"), exc)
            return None

    def _checkout_biblio_or_fail(self, checkout: Mapping[str, Any]) -> dict[str, Any] | None:
        item = checkout.get("item")
        biblio = item.get("biblio") if isinstance(item, Mapping) else None
        if isinstance(biblio, Mapping) and biblio.get("biblio_id") is not None:
            self.titles.remember(biblio)
            return dict(biblio)
        if isinstance(item, Mapping) and item.get("biblio_id") is not None:
            return self.titles.biblio(item["biblio_id"])
        return self.titles.biblio_of_item(checkout.get("item_id"))

    def _forecast(self, checkout: Mapping[str, Any], today: date) -> tuple[RenewalForecast, int | None]:
        try:
            answer = self.client.get(f"/checkouts/{checkout['checkout_id']}/allows_renewal")
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:  # one loan's forecast is not worth the whole page
            log.warning("no renewal forecast for checkout %s: %s", checkout.get("checkout_id"), exc)
            return RenewalForecast(RenewalStatus.UNKNOWN), None
        data = answer.data if isinstance(answer.data, dict) else {}
        due = mapping.local_date(checkout.get("due_date"), self.tz)
        forecast = mapping.renewal_forecast(data, due=due, today=today,
                                            window_days=self.settings.renewal_window_days)
        allowed = data.get("max_renewals")
        return forecast, allowed if isinstance(allowed, int) else None

    def loans(self, patron_key: str) -> list[Loan]:
        row = self._patron_json(patron_key)
        today = self.today()
        blocked = mapping.restricts(mapping.patron_blocks(row, today=today, fine_limit=self._fine_limit()))
        checkouts = self._checkouts(row["patron_id"], embed=True)
        biblios = list(self._map(self._checkout_biblio, checkouts))
        if blocked:  # Koha's OPAC refuses renewals to a blocked account; so do we, without asking
            forecasts = [(RenewalForecast(RenewalStatus.NOT_RENEWABLE, reason=Reason.ACCOUNT_BLOCKED), None)
                         for _ in checkouts]
        else:
            forecasts = list(self._map(lambda checkout: self._forecast(checkout, today), checkouts))
        loans = [
            mapping.loan_from_checkout(checkout, biblio=biblio, forecast=forecast, today=today, tz=self.tz,
                                       due_soon_days=self.settings.due_soon_days, renewals_allowed=allowed)
            for checkout, biblio, (forecast, allowed) in zip(checkouts, biblios, forecasts, strict=True)
        ]
        return sorted(loans, key=mapping.loan_sort_key)

    def _map(self, function: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
        if len(values) <= 1 or self.settings.parallel_requests <= 1:
            return [function(value) for value in values]
        return list(self._pool.map(function, values))

    def _renew(self, patron_key: str, loans: Sequence[Loan]) -> RenewalResult:
        row = self._patron_json(patron_key)
        blocks = mapping.patron_blocks(row, today=self.today(), fine_limit=self._fine_limit())
        shown = tuple(block for block in blocks if block.code in RENEWAL_BLOCKS)
        if mapping.restricts(blocks):
            return RenewalResult(tuple(RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.ACCOUNT_BLOCKED)
                                       for loan in loans), blocks=shown)
        outcomes: list[RenewalOutcome] = []
        unreachable = False
        for loan in loans:
            if unreachable:
                outcomes.append(RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.UNAVAILABLE))
                continue
            outcome, unreachable = self._renew_one(loan)
            outcomes.append(outcome)
        return RenewalResult(tuple(outcomes), blocks=shown)

    def _renew_one(self, loan: Loan) -> tuple[RenewalOutcome, bool]:
        """One renewal; True with it if Koha is down, so that the rest are not tried one by one."""
        try:
            answer = self.client.request("POST", f"/checkouts/{loan.loan_id}/renewal", ok=(200, 201))
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            if exc.status == 401:
                raise
            if exc.status == 403:
                code = mapping.renewal_error_code(exc.error)
                log.info("Koha refused to renew checkout %s: %s", loan.loan_id, code or exc.error)
                reason = mapping.renewal_reason(code)
            elif exc.status == 404:
                reason = Reason.NOT_FOUND
            else:
                log.warning("Koha answered %s to renewing checkout %s: %s", exc.status, loan.loan_id, exc.error)
                reason = Reason.OTHER
            return RenewalOutcome(loan.loan_id, False, loan.title, reason=reason), False
        except IlsUnavailable as exc:
            log.warning("renewing checkout %s failed: %s", loan.loan_id, exc)
            return RenewalOutcome(loan.loan_id, False, loan.title, reason=Reason.UNAVAILABLE), koha_is_down(exc)
        data = answer.data if isinstance(answer.data, dict) else {}
        return RenewalOutcome(loan.loan_id, True, loan.title,
                              new_due_date=mapping.local_date(data.get("due_date"), self.tz)), False

    # --- holds --------------------------------------------------------------------------------

    def _hold_rows(self, key: str) -> list[dict[str, Any]]:
        rows = self.client.get_all(f"/patrons/{key}/holds")
        return [row for row in rows if str(row.get("patron_id")) == key]

    def holds(self, patron_key: str) -> list[Hold]:
        key = str(self._patron_json(patron_key)["patron_id"])
        rows = self._hold_rows(key)
        libraries = self.titles.library_names() if rows else {}
        biblios = self._map(lambda row: self.titles.biblio_or_none(row.get("biblio_id")), rows)
        holds = [mapping.hold_from_json(row, biblio=biblio, libraries=libraries, tz=self.tz)
                 for row, biblio in zip(rows, biblios, strict=True)]
        return sorted(holds, key=mapping.hold_sort_key)

    def pickup_locations(self, patron_key: str, record_id: str | None = None) -> list[PickupLocation]:
        key = str(self._patron_json(patron_key)["patron_id"])
        if record_id is None:
            rows = [row for row in self.client.get_all("/libraries") if row.get("pickup_location", True)]
        else:
            rows = self._record_pickup_rows(key, record_id)
        return [mapping.pickup_location(row) for row in rows]

    def _record_pickup_rows(self, key: str, record_id: str) -> list[dict[str, Any]]:
        biblio_id = numeric_id(record_id)
        if biblio_id is None:
            raise RecordNotFound(record_id)
        try:
            rows = self.client.get_all(f"/biblios/{biblio_id}/pickup_locations", params={"patron_id": key})
        except KohaApiError as exc:
            if exc.status == 404 and not isinstance(exc, KohaRouteMissing):
                raise RecordNotFound(record_id) from exc
            raise
        # With AllowHoldPolicyOverride Koha lists every library, flagging those only staff may choose.
        return [row for row in rows if not row.get("needs_override")]

    def place_hold(self, patron_key: str, request: HoldRequest) -> Hold:
        row = self._patron_json(patron_key)
        key = str(row["patron_id"])
        biblio_id = numeric_id(request.record_id)
        if biblio_id is None:
            raise RecordNotFound(request.record_id)
        today = self.today()
        if request.not_needed_after is not None and request.not_needed_after < today:
            raise InvalidInput("not_needed_after is in the past")
        if mapping.restricts(mapping.patron_blocks(row, today=today, fine_limit=self._fine_limit())):
            raise Refused(Reason.ACCOUNT_BLOCKED)
        valid = {str(location["library_id"]) for location in self._record_pickup_rows(key, biblio_id)}
        if request.pickup_location_id not in valid:
            raise Refused(Reason.INVALID_PICKUP)
        body: dict[str, Any] = {"patron_id": int(key), "biblio_id": int(biblio_id),
                                "pickup_library_id": request.pickup_location_id}
        if request.not_needed_after is not None:
            body["expiration_date"] = request.not_needed_after.isoformat()
        try:
            answer = self.client.request("POST", "/holds", json=body, ok=(201, 200))
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            raise self._hold_refusal(exc, request.record_id) from exc
        if not isinstance(answer.data, dict) or answer.data.get("hold_id") is None:
            raise IlsUnavailable("Koha placed a hold but did not return it")
        return mapping.hold_from_json(answer.data, biblio=self.titles.biblio(biblio_id),
                                      libraries=self.titles.library_names(), tz=self.tz)

    @staticmethod
    def _hold_refusal(exc: KohaApiError, record_id: str) -> Exception:
        message = exc.error
        if exc.status == 404 or (exc.status == 400 and "biblio not found" in message.lower()):
            return RecordNotFound(record_id)
        if exc.status in (400, 403, 409):
            log.info("Koha refused a hold on %s: %s", record_id, message)
            return Refused(mapping.hold_refusal_reason(message))
        return exc

    def _cancel_holds(self, patron_key: str, holds: Sequence[Hold]) -> list[CancelOutcome]:
        outcomes: list[CancelOutcome] = []
        unreachable = False
        for hold in holds:
            if not hold.cancellable:
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.NOT_CANCELLABLE))
                continue
            if unreachable:
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.UNAVAILABLE))
                continue
            try:
                self.client.request("DELETE", f"/holds/{hold.hold_id}", ok=(200, 204))
            except (KohaPermissionError, KohaRouteMissing):
                raise
            except KohaApiError as exc:
                if exc.status == 401:
                    raise
                reason = Reason.NOT_FOUND if exc.status == 404 else Reason.NOT_CANCELLABLE
                log.info("Koha did not cancel hold %s: %s %s", hold.hold_id, exc.status, exc.error)
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, reason))
            except IlsUnavailable as exc:
                log.warning("cancelling hold %s failed: %s", hold.hold_id, exc)
                unreachable = koha_is_down(exc)
                outcomes.append(CancelOutcome(hold.hold_id, False, hold.title, Reason.UNAVAILABLE))
            else:
                outcomes.append(CancelOutcome(hold.hold_id, True, hold.title))
        return outcomes

    # Suspend and resume: IlsAdapter.suspend_hold/resume_hold have checked that the hold is the
    # patron's own (``hold`` is that Hold) before these run.

    def _suspend_hold(self, patron_key: str, hold: Hold, until: date | None) -> Hold:
        """POST /holds/{id}/suspension (``end_date``: Koha's cron job resumes the hold then; none: until resumed).

        Only a hold still in the queue can be suspended, as in Koha (a found hold, W/T/P, cannot:
        ``Koha::Hold->suspend_hold``); the portal says so without asking. Suspending a suspended hold
        again changes its end date."""
        if hold.status not in (HoldStatus.WAITING, HoldStatus.SUSPENDED):
            raise Refused(Reason.NOT_CANCELLABLE)  # a copy is set aside for it: the same answer as the demo's
        if until is not None and until <= self.today():
            raise InvalidInput("a suspension ends in the future")
        body = {"end_date": until.isoformat()} if until is not None else {}
        self._hold_action("POST", f"/holds/{hold.hold_id}/suspension", body, (201, 200, 204))
        return self._own_hold(patron_key, hold.hold_id)

    def _resume_hold(self, patron_key: str, hold: Hold) -> Hold:
        """DELETE /holds/{id}/suspension. A hold that is not suspended is returned as it is, unasked."""
        if hold.status is not HoldStatus.SUSPENDED:
            return hold
        self._hold_action("DELETE", f"/holds/{hold.hold_id}/suspension", None, (204, 200))
        return self._own_hold(patron_key, hold.hold_id)

    def change_pickup_location(self, patron_key: str, hold_id: str, location_id: str) -> Hold:
        hold = self._own_hold(patron_key, hold_id)
        self._hold_action("PUT", f"/holds/{hold.hold_id}/pickup_location", {"pickup_library_id": location_id},
                          (200,))
        return self._own_hold(patron_key, hold_id)

    def _hold_action(self, method: str, path: str, body: Any, ok: tuple[int, ...]) -> None:
        try:
            self.client.request(method, path, json=body, ok=ok)
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except KohaApiError as exc:
            if exc.status == 401:
                raise
            log.info("Koha refused %s %s: %s %s", method, path, exc.status, exc.error)
            if exc.status == 404:
                raise Refused(Reason.NOT_FOUND) from exc
            if exc.status == 400 and "pickup location" in exc.error.lower():
                raise Refused(Reason.INVALID_PICKUP) from exc
            raise Refused(Reason.OTHER) from exc  # 400 (e.g. a found hold cannot be suspended), 403, 409

    # --- catalogue ----------------------------------------------------------------------------

    def search(self, query: str, page: int = 1, per_page: int = 20) -> SearchResult:
        self.require(Capability.CATALOG_SEARCH)
        page, per_page = max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))
        terms = [term for term in (query or "").split() if term][:MAX_SEARCH_TERMS]
        if not terms:
            return SearchResult(query=query, records=(), total=0, page=page, per_page=per_page)
        for term in terms:
            check_safe_text(term, 200)
        each = [{"-or": [{field: {"-like": _like(term)}} for field in ("title", "author", "isbn")]} for term in terms]
        q = each[0] if len(each) == 1 else {"-and": each}
        answer = self.client.get("/biblios", params={"q": json.dumps(q, ensure_ascii=False), "_page": page,
                                                     "_per_page": per_page, "_order_by": "title"},
                                 headers={"Accept": "application/json"})
        rows = answer.data if isinstance(answer.data, list) else []
        for row in rows:
            self.titles.remember(row)
        total = answer.total if answer.total is not None else (page - 1) * per_page + len(rows)
        return SearchResult(query=query, records=tuple(mapping.record_from_biblio(row) for row in rows),
                            total=total, page=page, per_page=per_page)

    def record(self, record_id: str) -> Record:
        biblio_id = numeric_id(record_id)
        if biblio_id is None:
            raise RecordNotFound(record_id)
        biblio = self.titles.biblio(biblio_id)
        if biblio is None:
            raise RecordNotFound(record_id)
        try:
            items = self.client.get_all(f"/biblios/{biblio_id}/items")
        except KohaApiError as exc:
            if exc.status == 404 and not isinstance(exc, KohaRouteMissing):
                raise RecordNotFound(record_id) from exc
            raise
        return mapping.record_from_biblio(biblio, items=items, holds=self._holds_on(biblio_id))

    def _holds_on(self, biblio_id: str) -> int | None:
        try:
            answer = self.client.get("/holds", params={"biblio_id": biblio_id, "_per_page": 1})
        except (KohaPermissionError, KohaRouteMissing):
            raise
        except IlsUnavailable as exc:
            log.info("no hold count for biblio %s: %s", biblio_id, exc)
            return None
        if answer.total is not None:
            return answer.total
        return len(answer.data) if isinstance(answer.data, list) else None


def _password_message(error: str) -> str | None:
    """Koha's reason for refusing a new password, if it reads as one ("Password length (3) is shorter ...")."""
    text = (error or "").strip()
    if not text or "::" in text or len(text) > 200:
        return None
    return text

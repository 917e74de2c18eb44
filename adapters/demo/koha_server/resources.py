"""The fake Koha's resources: what each route the portal uses answers, over the library
(``library.Library``), in the shapes of the release played (``self.release``, a
``contract.KohaContract``, set by ``server.FakeKoha``, which dispatches requests here after
authenticating and validating them). Koha's behaviour followed: ``C4::Auth::checkpw`` (failed
attempts counted, locked accounts, expired passwords) behind ``POST /auth/password/validation``,
the password rules (``minPasswordLength``, ``RequireStrongPassword``), ``set_from_api`` on
``PUT /patrons/{id}``, renewals and holds by the rules in ``library``."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from adapters.demo.koha_server.contract import KohaContract
from adapters.demo.koha_server.library import Library
from adapters.demo.koha_server.protocol import FakeResponse, KohaError, Request, filter_rows

API = "/api/v1"
PATRON_FILTERS = ("patron_id", "cardnumber", "surname", "firstname", "userid", "email", "library_id",
                  "category_id", "expiry_date", "restricted")


class Resources(Library):
    """The route handlers (``_<handler>`` of ``server.HANDLERS``) and the JSON of each object."""

    release: KohaContract
    version: tuple[int, ...]

    # --- passwords -------------------------------------------------------------------------------

    def _password_expired(self, user: Mapping[str, Any]) -> bool:
        expires = user.get("_password_expiration_date")
        return bool(expires) and date.fromisoformat(expires) <= self.today

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

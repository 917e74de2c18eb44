"""Logging a patron in, and their password: checking it, changing it, setting it after a reset.

Koha checks the password; the portal never stores or compares one. On Koha 23.11 and later by
``POST /auth/password/validation``; on Koha 22.11, which lacks that route, by Koha's HTTP Basic
authentication as the patron (``_check_password_as_patron``), found from the contract Koha serves,
from KOHA_VERSION, or from a 404 of the route itself, and remembered for the process.

A patron changes their own password through Koha's public route, as the patron
(``POST /public/patrons/{id}/password``), or through the staff route ``POST /patrons/{id}/password``
when KOHA_PASSWORD_CHANGE is ``staff``, or is ``auto`` (the default) and the password has expired
(the public route refuses an expired one) or Koha has refused the patron's Basic authentication
once; with ``public``, an expired password cannot be changed here. A reset (``set_password``) always
takes the staff route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.errors import AccountLocked, AuthenticationFailed, IlsUnavailable, InvalidInput, NotSupported, Refused
from adapters.koha import mapping
from adapters.koha.client import KohaApiError, KohaRouteMissing
from adapters.koha.common import log, numeric_id
from adapters.koha.core import KohaCore
from adapters.models import Capability, Patron, Reason
from adapters.validation import PASSWORD_MAX, check_safe_text, mask_card_number, normalize_card_number

#: the one answer to a wrong card number, a wrong password and a card without a Koha login
WRONG_CREDENTIALS = "wrong card number or password"


class _WrongPassword(Exception):
    """Koha said "Validation failed" (or the patron cannot log in at all)."""


class AuthMixin(KohaCore):
    """``authenticate``, ``change_password`` and ``set_password`` over Koha's password routes."""

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
        """Koha 23.11+. True if the password is right but expired; _WrongPassword if it is wrong;
        KohaRouteMissing (a 404) from a Koha without the route."""
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

    def change_password(self, patron_key: str, current: str, new: str) -> None:
        """Koha checks ``current`` first, as at login; then the public route as the patron, or the staff
        route (see the module's docstring)."""
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
            if exc.status in (401, 403) and self.settings.change_route == "auto":
                if "basic authentication disabled" in message.lower():  # Koha-wide: remembered
                    log.info("Koha refused the patron's own credentials (%s); changing passwords through the "
                             "staff route from now on", message)
                    self._public_password_route = False
                    return False
                if "expired" in message.lower():  # this patron's password only: the staff route this time
                    log.info("Koha says patron %s's password has expired; changing it through the staff route",
                             row.get("patron_id"))
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
        """After a reset link was followed: the staff route, without the current password."""
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


def _password_message(error: str) -> str | None:
    """Koha's reason for refusing a new password, if it reads as one ("Password length (3) is shorter ...")."""
    text = (error or "").strip()
    if not text or "::" in text or len(text) > 200:
        return None
    return text

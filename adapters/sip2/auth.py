"""Logging a patron in, and their session's end.

Login is a 63 Patron Information with the password (AD); only ``BL=Y`` and ``CQ=Y`` pass, and an
empty password is refused without asking. ``Patron.key`` is the card number (AA), the only patron
id SIP2 has. The login's 63 asks for the first page of the charged list too (same message, no
extra round trip), and those items are looked up in the background (``SIP2_PREFETCH``), so the
loans page a patron opens next finds them cached. SIP2 cannot change a password: those
capabilities are never declared.
"""

from __future__ import annotations

from adapters.errors import AccountLocked, AuthenticationFailed, InvalidInput
from adapters.models import Patron
from adapters.sip2 import builders, core, mapping
from adapters.sip2.core import Sip2Core, log
from adapters.validation import mask_card_number, normalize_card_number

#: the one answer to a wrong card number and a wrong password
WRONG_CREDENTIALS = "wrong card number or password"


class AuthMixin(Sip2Core):
    """``authenticate`` and ``end_session``."""

    def authenticate(self, card_number: str, password: str) -> Patron:
        try:
            card = normalize_card_number(card_number)
        except InvalidInput:
            raise AuthenticationFailed(WRONG_CREDENTIALS) from None
        if not password:  # some ACSs (Koha's allow_empty_passwords) take an empty AD as valid
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        try:
            with self._edge("login", card):
                # The first page of charged items rides along, to start their lookups now.
                info = self._patron_information(card, password, summary="charged", start=1, end=core.PAGE_SIZE)
        except InvalidInput:  # a password that cannot travel in a SIP2 field cannot be right
            raise AuthenticationFailed(WRONG_CREDENTIALS) from None
        if info.valid_patron is not True or info.valid_patron_password is not True:
            log.info("SIP2 login refused for card %s", mask_card_number(card))
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        if mapping.is_locked(info):
            raise AccountLocked("the account is locked")
        self._remember_loans(card, [value for value in info.charged_items if value.strip()])
        self._prefetch_loans(card)
        return mapping.patron_from_status(card, info, self.options.profile.ignored_flags)

    def end_session(self, patron_key: str) -> None:
        with self._edge("end session", patron_key):
            self._request(lambda institution: builders.end_patron_session_request(
                institution, patron_key, terminal_password=self._terminal_password))

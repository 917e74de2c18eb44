"""``flask ils check`` over SIP2: what the systems librarian needs to see to connect a library.

Reachable (host, port, TLS), the 93 login, what the server declares in its 98 (BX: which messages
it supports), the profile in use, and with a card a read-only look at one patron: every status
flag and what it stops, which holds the portal would call ready and why. Only 93, 99, 63, 17 and
35 are sent: nothing is renewed, placed or cancelled. Every misconfiguration is one sentence
naming the setting to change.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from adapters.check import Finding
from adapters.errors import IlsError
from adapters.sip2 import mapping
from adapters.sip2.connection import Sip2Connection
from adapters.sip2.core import Sip2Core
from adapters.sip2.errors import Sip2Error, Sip2LoginRefused, Sip2ProtocolError, Sip2Timeout
from adapters.sip2.profiles import ALL, AVAILABLE, Profile
from adapters.sip2.responses import BX_POSITIONS, AcsStatus, ItemInformation

# What the portal loses when the server's BX says no to a message.
_FEATURES = {
    "patron_information": "logging in and every account page", "item_information": "titles and due dates",
    "renew": "renewing one loan", "renew_all": "renew all", "hold": "placing and cancelling reservations",
    "end_patron_session": "ending the patron's session at logout",
}
_REPLACEMENT = "\ufffd"


class CheckMixin(Sip2Core):
    """``check_connection`` for SIP2."""

    def check_connection(self, card_number: str | None = None, password: str | None = None) -> Iterator[Finding]:
        settings, profile = self.settings, self.options.profile
        yield Finding.info("profile", f"SIP2_PROFILE={profile.name}: {profile.description}.")
        flags = ", ".join(sorted(profile.ignored_flags)) or "none"
        yield Finding.info("settings", (
            f"{settings.host}:{settings.port}, TLS {'on' if settings.tls else 'off'}, encoding {settings.encoding}, "
            f"terminator {'CRLF' if settings.terminator == chr(13) + chr(10) else 'CR'}, error detection "
            f"{'on' if settings.error_detection else 'off'}; AS read as {profile.hold_items} holds, lists read as "
            f"{profile.hold_ids}s (holds) and {profile.loan_ids}s (loans); flags ignored: {flags}."))
        try:
            socket.create_connection((settings.host, settings.port), timeout=settings.connect_timeout).close()
        except TimeoutError:
            yield Finding.problem("reachable", f"Nothing answered at {settings.host}:{settings.port} within "
                                  f"{settings.connect_timeout:g} s: check SIP2_HOST, SIP2_PORT and the firewall.",
                                  "SIP2_PORT")
            return
        except OSError as exc:
            yield Finding.problem("reachable", f"Cannot connect to {settings.host}:{settings.port} "
                                  f"({exc.strerror or exc}): check SIP2_HOST and SIP2_PORT.", "SIP2_PORT")
            return
        yield Finding.ok("reachable", f"{settings.host}:{settings.port} accepts connections.")
        connection = Sip2Connection(settings, ssl_context=settings.ssl_context())
        try:
            status = connection.open()
        except Sip2Error as exc:
            yield self._session_problem(exc)
            return
        finally:
            connection.close()
        if settings.tls:
            yield Finding.ok("tls", "TLS handshake done" + (", certificate verified." if settings.tls_verify else
                                                            " (SIP2_TLS_VERIFY=false: certificate not checked)."))
        yield Finding.ok("login", f"Login (93) accepted for {settings.user!r}." if settings.user else
                         "No login sent (SIP2_USER is empty) and the server answered without one.")
        yield from self._declared(status)
        self._learn(status)
        if card_number is not None:
            yield from self._patron_findings(card_number, password or "")

    def _session_problem(self, exc: Sip2Error) -> Finding:
        """One sentence for what went wrong between connecting and the 98."""
        settings = self.settings
        cause = exc.__cause__
        if isinstance(exc, Sip2LoginRefused):
            return Finding.problem("login", "The SIP2 server refused the login (940): check SIP2_USER and "
                                   "SIP2_PASSWORD (and SIP2_LOCATION where the server wants one).", "SIP2_PASSWORD")
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Finding.problem("tls", f"The server's TLS certificate is not trusted ({cause.verify_message}): "
                                   "name its CA bundle in SIP2_CA_FILE.", "SIP2_CA_FILE")
        if isinstance(cause, ssl.SSLError):
            return Finding.problem("tls", "The TLS handshake failed: the server does not speak TLS on this port; set "
                                   "SIP2_TLS=false, or SIP2_PORT to its TLS port.", "SIP2_TLS")
        if not settings.tls and self._answers_with_tls():
            return Finding.problem("tls", "The server answered with TLS: set SIP2_TLS=true.", "SIP2_TLS")
        if isinstance(exc, Sip2ProtocolError) and ("checksum" in str(exc) or "resend" in str(exc)):
            return Finding.problem("checksum", f"The checksums do not agree ({exc}): set SIP2_ERROR_DETECTION to what "
                                   "the server's account says (error-detect).", "SIP2_ERROR_DETECTION")
        if isinstance(exc, Sip2ProtocolError):
            return Finding.problem("protocol", f"The server's answer is not SIP2 ({exc}): check SIP2_PORT.",
                                   "SIP2_PORT")
        if isinstance(exc, Sip2Timeout):
            return Finding.problem("login", f"Connected, but no SIP2 answer within {settings.read_timeout:g} s: check "
                                   "SIP2_PORT (another service?) and SIP2_TERMINATOR.", "SIP2_PORT")
        return Finding.problem("login", f"The session could not be set up ({exc}): check SIP2_PORT and SIP2_TLS.",
                               "SIP2_PORT")

    def _answers_with_tls(self) -> bool:
        """Whether a TLS handshake succeeds on the port (certificate not checked: only the protocol)."""
        settings = self.settings
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((settings.host, settings.port), timeout=settings.connect_timeout) as raw:
                raw.settimeout(min(settings.read_timeout, 2.0))
                with context.wrap_socket(raw, server_hostname=settings.host):
                    return True
        except (OSError, ValueError):
            return False

    def _declared(self, status: AcsStatus) -> Iterator[Finding]:
        bx = status.supported.raw
        supported = [name for name in BX_POSITIONS if name in status.supported]
        yield Finding.info("declares", (
            f"98: {'on-line' if status.online else 'OFF-LINE'}, protocol {status.protocol_version}, institution "
            f"{status.institution_id or '(none)'}, library {status.library_name or '(none)'}; BX {bx or '(none)'}: "
            f"{', '.join(supported) if bx.strip() else 'no supported-messages field: every feature is tried'}."))
        if bx.strip():
            for name, feature in _FEATURES.items():
                if name not in status.supported:
                    yield Finding.info("declares", f"The server does not support {name}: the portal hides {feature}.")
        if _REPLACEMENT in (status.library_name or "") + "".join(status.screen_messages):
            yield Finding.problem("encoding", f"The server's text has bytes that are not {self.settings.encoding}: "
                                  "set SIP2_ENCODING to the server's encoding.", "SIP2_ENCODING")
        configured = self.settings.institution
        if configured and status.institution_id and configured != status.institution_id:
            yield Finding.info("declares", f"SIP2_INSTITUTION is {configured!r}; the server announces "
                               f"{status.institution_id!r}. Some servers refuse requests for another institution.")

    def _patron_findings(self, card: str, password: str) -> Iterator[Finding]:
        """A read-only look at one patron: 63s (with the password, then the lists) and 17s, then 35."""
        profile = self.options.profile
        patron = yield from self._check_patron_login(card, password, "The server refused that card number and password "
                                              "(BL/CQ not Y). Card numbers are sent in the case typed.")
        if patron is None:
            return
        try:
            info, _ = self._status(card, "check")
            summary = self.account_summary(card)
            lists = self._item_lists(card, ("hold", "unavailable_holds"))
        except IlsError as exc:
            yield Finding.problem("patron", f"Reading the patron's account failed: {exc}.")
            return
        yield Finding.info("patron", f"{summary.loans} loans ({summary.overdue} overdue), {summary.holds} holds "
                           f"({summary.holds_ready} ready), fines {summary.fines} {summary.currency}.")
        if _REPLACEMENT in (info.personal_name or ""):
            yield Finding.problem("encoding", f"The patron's name has bytes that are not {self.settings.encoding}: "
                                  "set SIP2_ENCODING to the server's encoding.", "SIP2_ENCODING")
        for flag in mapping.PATRON_STATUS_FLAGS:
            if flag in info.status.flags:
                consequence, _ = mapping.FLAG_CONSEQUENCES[flag]
                ignored = " (the profile ignores it: the server sets it for every patron)" if flag in \
                    profile.ignored_flags else ""
                yield Finding.info("flag", f"{flag}: {consequence}{ignored}.")
        for block in patron.blocks:
            yield Finding.info("block", f"the portal shows: {block.code.value}.")
        listings = mapping.hold_listings(lists["hold"][1], lists["unavailable_holds"][1], profile)
        values = list(dict.fromkeys(listing.listed for listing in listings))
        try:
            items = self._item_details(values) if profile.hold_ids == "barcode" else {}
        except IlsError:
            items = {}
        for listing in listings:
            item = items.get(listing.listed)
            status = mapping.hold_status(listing, item, profile)
            title = (item.title or "").strip() if item is not None and mapping.item_known(item) else ""
            named = f"{listing.listed[:40]!r}" + (f" ({title[:30]})" if title else "")
            yield Finding.info("hold", f"{named}: the portal shows it as {status.value}, because "
                               f"{_why(listing, item, profile)}.")
        self.end_session(card)


def _why(listing: mapping.HoldListing, item: ItemInformation | None, profile: Profile) -> str:
    """Which evidence ``mapping.hold_status`` went by, in words."""
    circulation = item.circulation_status if mapping.item_known(item) else None
    if listing.unavailable:
        return f"CD lists it as not yet available (18 circulation status {circulation or 'not read'})"
    if profile.hold_items == AVAILABLE:
        return "AS lists it, and under this profile AS lists only holds available for pickup"
    if profile.hold_items == ALL and profile.unavailable_holds:
        return "AS lists every open hold and CD does not list this one, so it is on the hold shelf"
    if circulation:
        return f"AS lists every open hold; its item's 18 says circulation status {circulation}"
    return "AS lists every open hold and nothing else tells whether it is ready (no 18 for it)"

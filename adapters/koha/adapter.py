"""``KohaAdapter``: the portal over Koha's REST API v1, through one staff API client.

The API client can read and change any patron, so this adapter never takes a patron id, loan id or
hold id from a browser on trust: the patron id is always the ``Patron.key`` it returned from
``authenticate``; the base class checks loan and hold ids for ``renew``, ``cancel_holds``,
``suspend_hold``, ``resume_hold`` and ``change_pickup``, and ``change_pickup_location`` (one hold)
checks them the same way (``IlsAdapter._own_hold``) before any call.

Passwords are checked by ``POST /auth/password/validation`` (Koha 23.11+), or on Koha 22.11, which
lacks that route, by Koha's HTTP Basic authentication as the patron (``_check_password_as_patron``).

Koha's OPAC applies account blocks (expired card, restriction, lost card, charges over the limit)
itself; the staff routes this adapter uses do not, so the adapter applies them as the OPAC would.

The adapter is put together from one module per area, each a mixin over ``core.KohaCore`` (the
settings, the HTTP client, the routes this Koha has, the patron's own rows):

=============  ====================================================================
``auth``       ``authenticate``, ``change_password``, ``set_password``
``account``    ``patron``, ``find_patron``, ``account_summary``, ``fines``, ``set_patron_email``
``loans``      ``loans``, renewals
``holds``      ``holds``, ``pickup_locations``, ``place_hold``, cancel, suspend, resume, pickup changes
``catalogue``  ``search``, ``record``
``titles``     ``TitleCache``: titles, item -> barcode and title, library names, cached for every area
``check``      ``check_connection`` (``flask ils check``): URL, TLS, release, routes, credentials, permissions
=============  ====================================================================
"""

from __future__ import annotations

from typing import ClassVar

from adapters.koha.account import AccountMixin
from adapters.koha.auth import AuthMixin
from adapters.koha.catalogue import CatalogueMixin
from adapters.koha.check import CheckMixin
from adapters.koha.holds import HoldsMixin
from adapters.koha.loans import LoansMixin
from adapters.models import Capability


class KohaAdapter(CheckMixin, AuthMixin, AccountMixin, LoansMixin, HoldsMixin, CatalogueMixin):
    """``PORTAL_ADAPTER=koha``: built by ``KohaAdapter.from_config(app.config)`` (``core.KohaCore``)."""

    name: ClassVar[str] = "koha"
    #: what the adapter can do on every supported Koha; CATALOG_SEARCH is added where Koha has GET /biblios
    BASE_CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({
        Capability.LOANS, Capability.RENEW, Capability.RENEW_ALL, Capability.HOLDS, Capability.PLACE_HOLD,
        Capability.CANCEL_HOLD, Capability.SUSPEND_HOLD, Capability.FINES, Capability.CHANGE_PASSWORD,
        Capability.SET_PASSWORD, Capability.RECORD_DETAILS, Capability.PATRON_EMAIL,
        Capability.RENEWAL_OPENS,  # allows_renewal's too_soon with its date
    })

    @property
    def capabilities(self) -> frozenset[Capability]:  # type: ignore[override]
        features = self.features
        extra = {Capability.CATALOG_SEARCH, Capability.SERIES} if features.biblio_search else set()
        if features.hold_pickup_change:
            extra.add(Capability.CHANGE_PICKUP)
        return self.BASE_CAPABILITIES | extra

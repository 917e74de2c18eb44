"""``Sip2Adapter``: the portal's contract over 3M SIP2, for any ILS with a SIP2 server.

What SIP2 gives and how it is used (protocol facts: adapters/sip2/PROTOCOL.md): login and the
account are a 63 Patron Information (``auth``, ``account``); loans and holds are the lists in its
64, with one 17 Item Information per item for titles and dates (``loans``, ``holds``); renewals
are 29 and 65, holds are placed and cancelled with 15; a "record" is one item (``catalogue``).
SIP2 cannot change passwords, store an email address or search the catalogue: those capabilities
are never declared, and the 98's supported-messages flags (BX) narrow the rest on the first
connection. Nothing connects before the first request: the portal starts while the ILS is down.

Every ``Sip2Error`` becomes a contract error (``core.Sip2Core._edge``: ``IlsUnavailable``; an
unsafe value becomes ``InvalidInput``). Logs carry masked card numbers and never a password; the
whole adapter logs as ``adapters.sip2.adapter``.

The adapter is put together from one module per area, each a mixin over ``core.Sip2Core`` (the
settings, the connection pool, what the ACS announced, the patron's 63 and 64 lists, the 17s):

=============  ====================================================================
``core``       ``_request``, ``_edge``, capabilities from BX, the ACS's date, the patron's 63
               (remembered briefly), the 64 lists paged with BP/BQ, 17s cached and prefetched
``auth``       ``authenticate`` (63 with AD), ``end_session`` (35)
``account``    ``patron``, ``find_patron``, ``account_summary``
``loans``      ``loans``, renewals (29, 65)
``holds``      ``holds``, ``pickup_locations``, ``place_hold``, cancel (15)
``catalogue``  ``record`` (17)
``diagnose``   ``check_connection`` (``flask ils check``): 93, 99, and read-only 63/17/35
=============  ====================================================================
"""

from __future__ import annotations

from typing import ClassVar

from adapters.sip2.account import AccountMixin
from adapters.sip2.auth import AuthMixin
from adapters.sip2.catalogue import CatalogueMixin
from adapters.sip2.config import IMPLEMENTED
from adapters.sip2.diagnose import CheckMixin
from adapters.sip2.holds import HoldsMixin
from adapters.sip2.loans import LoansMixin


class Sip2Adapter(CheckMixin, AuthMixin, AccountMixin, LoansMixin, HoldsMixin, CatalogueMixin):
    """``PORTAL_ADAPTER=sip2``: built by ``Sip2Adapter.from_config(app.config)`` (``core.Sip2Core``)."""

    name: ClassVar[str] = "sip2"
    #: the most SIP2 can do; an instance narrows it (SIP2_DISABLED_FEATURES, the ACS's BX flags)
    capabilities = IMPLEMENTED

"""SIP2 (3M Standard Interchange Protocol 2.00) client and the portal's SIP2 adapter.

Modules: ``codec`` (Message <-> bytes, checksum), ``layouts`` (fixed-field tables),
``builders`` (typed requests), ``responses`` (typed replies), ``dates``, ``settings``,
``connection`` (one session), ``pool`` (bounded pool of sessions), ``errors``; and for the
portal: ``config`` (PORTAL_SIP2_* settings), ``mapping`` (replies -> contract models),
``items`` (cached, parallel item lookups), ``adapter`` (``Sip2Adapter``, put together from
``core`` and one mixin per area: ``auth``, ``account``, ``loans``, ``holds``, ``catalogue``).
Protocol facts and quirks of real servers: adapters/sip2/PROTOCOL.md; deployment: README.md here.
"""

from adapters.sip2.adapter import Sip2Adapter

__all__ = ["Sip2Adapter"]

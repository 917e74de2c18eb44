"""SIP2 (3M Standard Interchange Protocol 2.00) client for the portal's SIP2 adapter.

Modules: ``codec`` (Message <-> bytes, checksum), ``layouts`` (fixed-field tables),
``builders`` (typed requests), ``responses`` (typed replies), ``dates``, ``settings``,
``connection`` (one session), ``pool`` (bounded pool of sessions), ``errors``.
Protocol facts and quirks of real servers: shared/sip2/README.md.
"""

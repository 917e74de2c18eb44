"""Fixtures shared with the adapter tests: a freshly seeded demo ILS (``demo``) and its SIP2 server (``demo_sip2``)."""

from tests.adapters.sip2.conftest import demo, demo_db, demo_sip2, demo_template, no_leaks  # noqa: F401

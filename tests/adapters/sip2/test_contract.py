"""The SIP2 adapter keeps the adapter contract, over real sockets to the demo ILS's SIP2 server
(fixtures in conftest.py)."""

from tests.adapters.contract import AdapterContract


class TestSip2Contract(AdapterContract):
    pass

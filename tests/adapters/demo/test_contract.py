"""The demo ILS keeps the whole adapter contract (fixtures in conftest.py)."""

from tests.adapters.contract import AdapterContract


class TestDemoContract(AdapterContract):
    pass

"""The SIP2 adapter keeps the adapter contract, over real sockets to the demo ILS's SIP2 server
(fixtures in conftest.py), in every server dialect it has a profile for: the demo server answers
as that server does, and the adapter is set for it."""

import pytest

from adapters.demo.sip2_server import PROFILES
from tests.adapters.contract import AdapterContract


@pytest.fixture(params=PROFILES)
def sip2_profile(request) -> str:
    return request.param


@pytest.fixture
def adapter(sip2_adapter):
    sip2_adapter.check_ready()  # the first connection: what the server announces in BX narrows the capabilities
    return sip2_adapter


class TestSip2Contract(AdapterContract):
    pass

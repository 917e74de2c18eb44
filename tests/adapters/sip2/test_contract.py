"""The SIP2 adapter keeps the adapter contract, over real sockets to the demo ILS's SIP2 server
(fixtures in conftest.py), in every server dialect it has a profile for: the demo server answers
as that server does, and the adapter is set for it."""

import pytest

from adapters.demo.sip2_server import PROFILES, DemoSip2Server
from tests.adapters.contract import AdapterContract
from tests.adapters.sip2.conftest import SIP2_PASSWORD, SIP2_USER


@pytest.fixture(params=PROFILES)
def sip2_profile(request) -> str:
    return request.param


@pytest.fixture
def demo_sip2(no_leaks, demo, sip2_profile):
    """conftest.py's server, in each profile (a parametrized fixture must be asked for by name)."""
    with DemoSip2Server(demo, user=SIP2_USER, password=SIP2_PASSWORD, profile=sip2_profile) as server:
        yield server


@pytest.fixture
def adapter(sip2_adapter):
    sip2_adapter.check_ready()  # the first connection: what the server announces in BX narrows the capabilities
    return sip2_adapter


class TestSip2Contract(AdapterContract):
    pass

"""The portal on every adapter, for the access-control and fuzz tests.

``portal`` is parametrised over the three adapters and reuses each adapter's own page-test fixtures
rather than copying them:

* ``demo``: the app on the embedded demo ILS (``tests/conftest.py``'s ``app``);
* ``sip2``: the app pointed at the demo ILS's SIP2 server on a free loopback port
  (``tests/adapters/sip2/test_portal.py``'s ``sip2_app``, over ``demo_sip2`` from its conftest);
* ``koha``: the app with the fake Koha injected through respx, every request checked against
  Koha's OpenAPI contract (``tests/adapters/koha/test_pages.py``'s ``app``).

Besides the app, a ``Portal`` records what reached the library system once a test says so
(``portal.record()``): every adapter call with the patron key it was made for, every request sent
to the fake Koha (respx's call list), and every SIP2 message the demo SIP2 server received. So a
test can prove that nothing was asked about patron B while patron A was attacking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from adapters.demo.seed import BY_CASE
from adapters.resilience import GuardedAdapter
from extensions import db
from store.models import Preference
from tests.adapters.demo.conftest import demo, demo_db, demo_template  # noqa: F401  (fixtures)
from tests.adapters.koha.conftest import fake, holdable, koha, koha_version  # noqa: F401  (fixtures)
from tests.adapters.koha.fake_koha import RespxKoha
from tests.adapters.koha.test_pages import app as koha_app  # noqa: F401  (the koha page tests' app fixture)
from tests.adapters.sip2.conftest import demo_sip2, no_leaks  # noqa: F401  (fixtures)
from tests.adapters.sip2.test_portal import sip2_app  # noqa: F401  (the SIP2 page tests' app fixture)
from tests.conftest import csrf_token

ADAPTERS = ["demo", "sip2", "koha"]
COOKIE = "shiori_session"

# Adapter operations whose first argument is the patron key the call acts for.
PATRON_OPERATIONS = frozenset(
    {"patron", "end_session", "account_summary", "change_password", "set_password", "set_patron_email", "loans",
     "renew", "renew_all", "holds", "pickup_locations", "place_hold", "cancel_holds", "suspend_hold", "resume_hold",
     "change_pickup_location"}
)
# One book per adapter that the attacker (the "regular" patron) neither borrows nor reserves: the
# English reader's loan "Pride and Prejudice" (demo record R0168, its copy I0168-1, Koha biblio 168).
HOLDABLE = {"demo": "R0168", "sip2": "I0168-1", "koha": "168"}
OPTION = re.compile(r'<option[^>]*value="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    """No outgoing mail in these tests (and so no mail threads for ``no_leaks`` to find)."""
    app_config["MAIL_HOST"] = ""
    return app_config


@dataclass(frozen=True, order=True)
class LoanState:
    loan_id: str
    due_date: Any
    title: str


@dataclass(frozen=True, order=True)
class HoldState:
    hold_id: str
    status: str
    pickup: str | None
    title: str


@dataclass
class Recording:
    """What reached the ILS after ``Portal.record()``."""

    calls: list[tuple[str, tuple]] = field(default_factory=list)  # adapter operation, its arguments
    sip2: list[Any] = field(default_factory=list)  # SIP2 messages the demo ACS received


@dataclass
class Portal:
    name: str
    app: Flask
    koha: RespxKoha | None = None
    sip2_server: Any = None
    backend: Any = None  # the demo ILS behind the SIP2 server: the truth the SIP2 adapter reports
    recording: Recording | None = None

    # --- the app ----------------------------------------------------------------------------------

    @property
    def adapter(self) -> GuardedAdapter:
        """The adapter as the views see it (``extensions.ils()``)."""
        return self.app.extensions["shiori.adapter"]

    def client(self):
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    def login(self, case: str):
        """A browser logged in as the demo patron of ``case``, through the real form."""
        client = self.client()
        patron = BY_CASE[case]
        response = post_form(client, "/login", "/login", {"card_number": patron.card, "password": patron.password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    def key(self, case: str) -> str:
        """``Patron.key`` of the demo patron of ``case`` on this adapter."""
        patron = BY_CASE[case]
        return self.adapter.authenticate(patron.card, patron.password).key

    @property
    def holdable_record(self) -> str:
        return HOLDABLE[self.name]

    def preference(self, patron_key: str) -> dict[str, Any] | None:
        with self.app.app_context():
            row = db.session.get(Preference, patron_key)
            if row is None:
                return None
            return {column.name: getattr(row, column.name) for column in Preference.__table__.columns
                    if column.name not in ("updated_at",)}

    # --- the state of a patron, as the ILS has it ---------------------------------------------------

    def state(self, case: str) -> tuple[tuple[LoanState, ...], tuple[HoldState, ...]]:
        """The patron's loans and holds through the portal's adapter and, for SIP2, also straight from
        the demo ILS behind the SIP2 server (the SIP2 adapter caches item details)."""
        key = self.key(case)
        views = [self._snapshot(self.adapter, key)]
        if self.backend is not None:
            views.append(self._snapshot(self.backend, BY_CASE[case].key))
        return tuple(views)

    @staticmethod
    def _snapshot(adapter, key: str):
        loans = tuple(sorted(LoanState(loan.loan_id, loan.due_date, loan.title) for loan in adapter.loans(key)))
        holds = tuple(sorted(
            HoldState(hold.hold_id, hold.status.value, hold.pickup_location.location_id if hold.pickup_location else None,
                      hold.title)
            for hold in adapter.holds(key)
        ))
        return loans, holds

    # --- what reached the ILS -----------------------------------------------------------------------

    def record(self) -> Recording:
        """Start recording what reaches the ILS from now on (forgetting what came before)."""
        self.recording = Recording()
        if self.koha is not None:
            self.koha.reset_calls()
        return self.recording

    def koha_requests(self) -> list[tuple[str, str, dict[str, str], bytes]]:
        assert self.koha is not None
        return [(call.request.method, call.request.url.path, dict(parse_qsl(call.request.url.query.decode())),
                 call.request.content) for call in self.koha.router.calls]


def _install_spies(portal: Portal) -> None:
    guarded = portal.adapter
    assert isinstance(guarded, GuardedAdapter)
    original_call = guarded._call

    def spying_call(operation: str, *args: Any, **kwargs: Any) -> Any:
        if portal.recording is not None:
            portal.recording.calls.append((operation, args))
        return original_call(operation, *args, **kwargs)

    guarded._call = spying_call  # type: ignore[method-assign]
    if portal.sip2_server is not None:
        acs = portal.sip2_server.acs
        original_respond = acs.respond

        def recording_respond(request):
            if portal.recording is not None:
                portal.recording.sip2.append(request)
            return original_respond(request)

        acs.respond = recording_respond


@pytest.fixture(params=ADAPTERS)
def portal(request) -> Iterator[Portal]:
    """The whole portal on each adapter in turn."""
    name = request.param
    if name == "demo":
        built = Portal(name, request.getfixturevalue("app"))
    elif name == "sip2":
        built = Portal(name, request.getfixturevalue("sip2_app"), sip2_server=request.getfixturevalue("demo_sip2"),
                       backend=request.getfixturevalue("demo"))
    else:
        built = Portal(name, request.getfixturevalue("koha_app"), koha=request.getfixturevalue("koha"))
    _install_spies(built)
    yield built


# --- browser helpers ------------------------------------------------------------------------------


def page(response) -> str:
    return response.get_data(as_text=True)


def post_form(client, page_url: str, url: str, data: dict | list, **kwargs):
    """Fetch ``page_url``, then post ``data`` to ``url`` with the page's CSRF token, as a browser does."""
    token = csrf_token(page(client.get(page_url)))
    if isinstance(data, dict):
        data = list(_pairs(data))
    return client.post(url, data=MultiDict([("csrf_token", token), *data]), **kwargs)


def _pairs(data: dict) -> Iterator[tuple[str, str]]:
    for name, value in data.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            yield name, one


def first_option(html: str) -> str:
    match = OPTION.search(html)
    assert match, "no pickup location offered"
    return match.group(1)


def touching(portal: Portal, *, patron_key: str, card: str, loan_ids: list[str],
             hold_ids: list[str]) -> list[str]:
    """Everything recorded since ``portal.record()`` that names the other patron or their loans or holds."""
    recording = portal.recording
    assert recording is not None
    found: list[str] = []
    for operation, args in recording.calls:
        if operation in PATRON_OPERATIONS and args and args[0] == patron_key:
            found.append(f"adapter.{operation}{args!r}")
        if operation in {"authenticate", "find_patron"} and args and args[0] == card:
            found.append(f"adapter.{operation}({card!r}, ...)")
    foreign_items = set(loan_ids) | set(hold_ids)
    for message in recording.sip2:
        cards = {value for field_id, value in message.fields if field_id == "AA"}
        items = {value for field_id, value in message.fields if field_id == "AB"}
        if card in cards or items & foreign_items:
            found.append(f"SIP2 {message.command} {message.fields!r}")
    if portal.koha is not None:
        ids = {"checkouts": set(loan_ids), "holds": set(hold_ids), "patrons": {patron_key}}
        for method, path, query, body in portal.koha_requests():
            segments = path.split("/")
            for position, segment in enumerate(segments[:-1]):
                if segment in ids and segments[position + 1] in ids[segment]:
                    found.append(f"Koha {method} {path}")
            if query.get("patron_id") == patron_key or query.get("cardnumber") == card:
                found.append(f"Koha {method} {path}?{query}")
            if body and re.search(rb'"patron_id"\s*:\s*"?%s\b' % re.escape(patron_key.encode()), body):
                found.append(f"Koha {method} {path} {body!r}")
    return found

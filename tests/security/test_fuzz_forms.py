"""Random input to every form of the portal: no 500, no uncaught exception.

Hypothesis sends text with control characters, NUL, CR/LF, SIP2's ``|``, unicode, huge strings,
random extra fields, missing fields, repeated fields (a list where one value is expected), random ids,
with a valid CSRF token and sometimes with none or a wrong one. The test app has TESTING=True, so an
exception in a view propagates to the test; the portal's own error pages (400, 404, 413, and 501 for
something the ILS cannot do) are fine, anything from 500 up is not. Along the way every response is
checked for two more things: a redirect never leaves the site (no open redirect through ``next``),
and a marker ``<script>`` sent in any field never comes back unescaped.

One app is built per test function and reused by every example (the fixtures are function-scoped).
The last tests send random bytes to the SIP2 adapter through a real loopback socket.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import date, timedelta
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from adapters.demo.seed import BY_CASE
from adapters.errors import (
    AccountLocked,
    AuthenticationFailed,
    IlsUnavailable,
    InvalidInput,
    NotSupported,
    RecordNotFound,
)
from adapters.models import Capability, HoldRequest
from adapters.sip2 import Sip2Adapter
from app import create_app
from notifications.tokens import confirmation_nonce, confirmation_token, issue_reset_token
from store.preferences import update_preferences
from tests.adapters.sip2.conftest import sip2_config
from tests.adapters.sip2.loopback import CLOSE, STANDARD_REPLIES, LoopbackAcs, Raw, standard_acs
from tests.conftest import csrf_token
from tests.notifications.conftest import drain
from tests.notifications.smtp import smtp  # noqa: F401  (the fixture)
from tests.security.conftest import page

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
REGULAR, FIRST_LOGIN, OTHER = BY_CASE["regular"], BY_CASE["first-login"], BY_CASE["many-loans"]
MARKER = "<script>shiori-xss</script>"

# --- strategies ---------------------------------------------------------------------------------------

SPECIAL = [
    "", " ", "|", "a|b", "||", "\r\n", "\r", "\n", "\x00", "a\x00b", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029",
    "\u202e", "\ufeff", "\u200b", "%00", "%0d%0a", "'", '"', "' OR '1'='1", "1; DROP TABLE preference; --",
    "../../etc/passwd", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
    "https://evil.example/", "javascript:alert(1)", "/%2F%2Fevil.example", "{{7*7}}", "${7*7}", MARKER,
    "２０００－００００－０１", "2000-0000-01", REGULAR.card, OTHER.card, "ｙａｍａｄａ", "😀" * 3, "é", "\U0010ffff",
    "x" * 70_000, "9" * 400, "-1", "0", "1e309", "NaN", "None", "null", "true", "[]", "{}", "AA2000000006|AD",
    "I0001-1|AA2000000006", "R0001", "L1", "H4", "P006", "6", "on", "y", "all", "ja", "en", "2026-12-24",
    "0001-01-01", "9999-12-31", "2026-02-30", "name@example.jp", "a@b", "@", "x@example.jp\r\nBcc: y@example.jp",
]
CHARACTERS = st.characters(exclude_categories=("Cs",))  # no lone surrogates: a browser cannot send them either
text_values = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(CHARACTERS, max_size=30),
    st.text(st.characters(max_codepoint=0x40, exclude_categories=("Cs",)), max_size=30),  # controls, digits, |
    st.builds(lambda a, b, c: a + b + c, st.sampled_from(SPECIAL), st.text(CHARACTERS, max_size=8),
              st.sampled_from(SPECIAL)),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
EXTRA_NAMES = ["patron", "patron_key", "card_number", "borrowernumber", "_user_id", "sid", "email_confirmed",
               "calendar_id", "action", "loan", "hold", "record", "next", "csrf_token", "language", "q", "page"]
field_names = st.one_of(st.sampled_from(EXTRA_NAMES), st.text(CHARACTERS, min_size=1, max_size=12))


@st.composite
def form_pairs(draw, fields: dict, token_holder: dict) -> MultiDict:
    """A form body: each known field missing, empty, once, or repeated; random extra fields; a CSRF
    token that is valid (mostly), missing, wrong, or sent twice."""
    pairs: list[tuple[str, str]] = []
    tidy = draw(st.integers(0, 9)) < 3  # every field present once, and a valid token
    csrf = "valid" if tidy else draw(st.sampled_from(["valid"] * 6 + ["missing", "garbage", "twice", "other"]))
    token = token_holder.get("token", "")
    if csrf == "valid":
        pairs.append(("csrf_token", token))
    elif csrf == "garbage":
        pairs.append(("csrf_token", draw(text_values)))
    elif csrf == "twice":
        pairs += [("csrf_token", draw(text_values)), ("csrf_token", token)]
    elif csrf == "other":
        pairs.append(("csrf_token", token[:-3] + "abc" if token else "abc"))
    for name, values in fields.items():
        how = "one" if tidy else draw(st.sampled_from(["one"] * 5 + ["missing", "empty", "many"]))
        if how == "one":
            pairs.append((name, draw(values)))
        elif how == "empty":
            pairs.append((name, ""))
        elif how == "many":
            pairs += [(name, value) for value in draw(st.lists(values, min_size=2, max_size=5))]
    pairs += draw(st.lists(st.tuples(field_names, text_values), max_size=3))
    return MultiDict(draw(st.permutations(pairs)))


def ids(*real: str) -> st.SearchStrategy[str]:
    """One of ``real`` (about 60% of the time, so that the forms' success paths run too), else any text.
    (``st.one_of`` would rarely pick a small list: Hypothesis avoids repeating an example.)"""
    return st.integers(0, 9).flatmap(lambda n: st.sampled_from(real) if n < 6 else text_values)


# Addresses: real ones, any RFC 5322 address Hypothesis can make (odd but valid local parts), or any text.
emails = st.integers(0, 9).flatmap(lambda n: st.sampled_from(["hanako@example.jp", "Hanako@Example.JP", "用户@例子.广告"])
                                   if n < 3 else st.emails() if n < 7 else text_values)


# --- checks -----------------------------------------------------------------------------------------


def browser_target(location: str) -> str:
    """The URL a browser would follow: tabs and newlines dropped, leading controls and spaces stripped,
    backslashes read as slashes (the WHATWG URL parser)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).lstrip("".join(map(chr, range(0x21))))
    return cleaned.replace("\\", "/")


def check(response) -> None:
    status = response.status_code
    assert status < 500 or status == 501, f"{status} on {response.request.method} {response.request.path}"
    location = response.headers.get("Location")
    if location is not None:
        target = urlsplit(browser_target(location))
        assert not target.scheme or target.scheme in ("http", "https"), location
        assert target.netloc in ("", "localhost"), f"open redirect to {location!r}"
        assert not browser_target(location).startswith("//"), f"open redirect to {location!r}"
    if response.mimetype == "text/html":
        assert MARKER not in page(response), "a field came back unescaped"


class Browser:
    """A test client with the CSRF token of its current session at hand."""

    def __init__(self, app, case=None) -> None:
        self.app = app
        self.client = app.test_client()
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        self.holder: dict[str, str] = {}
        self.case = case
        self.password = case.password if case else None  # the current one, if a test changed it
        if case is not None:
            self.login()
        self.refresh()

    def refresh(self, url: str = "/login") -> None:
        response = self.client.get(url, follow_redirects=True)
        self.holder["token"] = csrf_token(page(response))

    def login(self) -> None:
        self.refresh()
        response = self.client.post("/login", data={"csrf_token": self.holder["token"], "card_number": self.case.card,
                                                    "password": self.password})
        assert response.status_code == 302, page(response)

    def post(self, url: str, data: MultiDict, **kwargs):
        response = self.client.post(url, data=data, **kwargs)
        drain(self.app)  # the mail the form queued goes out now, inside this example
        check(response)
        return response

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        check(response)
        return response

    def still_logged_in(self) -> None:
        """Log in again if an example logged out (or let the session lapse), and take the new token."""
        response = self.client.get("/settings")
        if response.status_code == 302 and self.case is not None:
            self.login()
        self.refresh("/settings" if self.case is not None else "/login")


@pytest.fixture
def adapter(app):
    return app.extensions["shiori.adapter"]


@pytest.fixture
def mail_app(app_config, smtp):  # noqa: F811
    """The portal with mail on (the forgot-password page and address confirmation need it)."""
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost")
    app = create_app(app_config)
    yield app
    drain(app)
    app.extensions["shiori.adapter"].close()


@pytest.fixture
def no_failed_jobs(caplog):
    """Background jobs (mail after a form) log their exceptions instead of raising: fail on any."""
    caplog.set_level(logging.ERROR, logger="notifications.outbox")
    yield
    records = caplog.get_records("setup") + caplog.get_records("call") + caplog.records  # (the last: teardown's)
    failures = [record for record in records if record.name == "notifications.outbox"]
    assert failures == [], [record.getMessage() for record in failures]


# --- logging in and passwords -------------------------------------------------------------------------


def test_fuzz_login(app):
    @FUZZ
    @given(data=st.data())
    def run(data):
        browser = Browser(app)
        nxt = data.draw(text_values)
        browser.get("/login", query_string={"next": nxt})
        fields = {"card_number": ids(REGULAR.card, "2000-0000-01", "1999999999"),
                  "password": ids(REGULAR.password, REGULAR.password + "|", ""), "next": text_values}
        browser.post("/login", data.draw(form_pairs(fields, browser.holder)))

    run()


def test_fuzz_login_next_after_a_real_login_stays_on_the_site(app):
    @FUZZ
    @given(nxt=text_values)
    def run(nxt):
        browser = Browser(app)
        response = browser.post("/login", MultiDict({"csrf_token": browser.holder["token"], "card_number": REGULAR.card,
                                                     "password": REGULAR.password, "next": nxt}))
        assert response.status_code in (302, 413)  # 413: a "next" over MAX_CONTENT_LENGTH

    run()


def test_fuzz_initial_password(app):
    browser = Browser(app, FIRST_LOGIN)

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.refresh("/password/initial")
        fields = {"current": ids(FIRST_LOGIN.password), "new": ids("Sakura2025x"), "confirm": ids("Sakura2025x")}
        browser.post("/password/initial", data.draw(form_pairs(fields, browser.holder)))

    run()


def test_fuzz_change_password(app):
    browser = Browser(app, REGULAR)

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.still_logged_in()
        new = data.draw(ids("Shiori2026new", "Shiori2027new"))
        current = data.draw(st.sampled_from([browser.password, browser.password, "wrong"]) | text_values)
        fields = {"current": st.just(current), "new": st.just(new), "confirm": st.sampled_from([new, new]) | text_values}
        posted = data.draw(form_pairs(fields, browser.holder))
        response = browser.post("/settings/password", posted)
        if response.status_code == 302 and response.location == "/settings":
            browser.password = posted["new"]  # it worked: later examples log in with it

    run()


# --- the patron's pages ---------------------------------------------------------------------------------


def test_fuzz_settings(mail_app, no_failed_jobs):
    browser = Browser(mail_app, REGULAR)

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.still_logged_in()
        fields = {"email": emails, "language": ids("ja", "en", "fr"),
                  "notify_hold_ready": ids("y", "on"), "notify_due_soon": ids("y", "")}
        browser.post("/settings", data.draw(form_pairs(fields, browser.holder)))
        browser.get("/settings")

    run()
    drain(mail_app)


def test_fuzz_renew(app, adapter):
    browser = Browser(app, REGULAR)
    real = [loan.loan_id for key in (REGULAR.key, OTHER.key) for loan in adapter.loans(key)]

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.still_logged_in()
        fields = {"action": ids("selected", "all"), "loan": ids(*real)}
        browser.post("/loans/renew", data.draw(form_pairs(fields, browser.holder)))
        browser.get("/loans")

    run()


def test_fuzz_renew_with_hundreds_of_ids(app, adapter):
    browser = Browser(app, REGULAR)
    browser.still_logged_in()
    data = MultiDict([("csrf_token", browser.holder["token"])] + [("loan", f"L{n}") for n in range(5000)])
    browser.post("/loans/renew", data)
    browser.get("/loans")


def test_fuzz_cancel_holds(app, adapter):
    browser = Browser(app, REGULAR)
    real = [hold.hold_id for key in (REGULAR.key, OTHER.key) for hold in adapter.holds(key)]

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.still_logged_in()
        browser.post("/holds/cancel", data.draw(form_pairs({"hold": ids(*real)}, browser.holder)))
        browser.get("/holds")

    run()


def test_fuzz_suspend_and_resume_holds(app, adapter):
    if "account.suspend_hold" not in app.view_functions:
        pytest.skip("no suspend/resume forms in this version")
    browser = Browser(app, REGULAR)
    real = [hold.hold_id for key in (REGULAR.key, OTHER.key) for hold in adapter.holds(key)]

    @FUZZ
    @given(data=st.data(), url=st.sampled_from(["/holds/suspend", "/holds/resume"]))
    def run(data, url):
        browser.still_logged_in()
        fields = {url.rsplit("/", 1)[1]: ids(*real), "until": ids("2026-12-24", "2026-11-01")}
        browser.post(url, data.draw(form_pairs(fields, browser.holder)))
        browser.get("/holds")

    run()


def date_values() -> st.SearchStrategy[str]:
    """Text for the date field: real dates, past ones included, and anything else."""
    return st.one_of(st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31)).map(str), text_values)


def test_fuzz_place_hold(app, adapter):
    browser = Browser(app, REGULAR)
    records = ["R0168", "R0001", "R0011", "R9999", "R0045"]
    pickups = [location.location_id for location in adapter.pickup_locations(REGULAR.key)]

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.still_logged_in()
        record = data.draw(ids(*records))
        browser.get("/holds/new", query_string={"record": record})
        fields = {"record": ids(*records), "pickup_location": ids(*pickups),
                  "not_needed_after": date_values()}
        url = data.draw(st.sampled_from(["/holds/new", f"/holds/new?record={quote(record, safe='')}"]))
        browser.post(url, data.draw(form_pairs(fields, browser.holder)))

    run()


def test_fuzz_search_and_record_pages(app):
    browser = Browser(app, REGULAR)
    anonymous = Browser(app)

    @FUZZ
    @given(q=text_values, page_=text_values, extra=st.lists(st.tuples(field_names, text_values), max_size=3),
           record=text_values, who=st.sampled_from(["patron", "anonymous"]))
    def run(q, page_, extra, record, who):
        client = browser if who == "patron" else anonymous
        client.get("/search", query_string=MultiDict([("q", q), ("page", page_), *extra]))
        client.get("/search", query_string=MultiDict([("q", q), ("q", page_)]))
        client.get("/records/" + quote(record[:300], safe=""))

    run()


def test_fuzz_language_and_furigana_switches(app):
    browser = Browser(app, REGULAR)
    anonymous = Browser(app)

    @FUZZ
    @given(data=st.data(), who=st.sampled_from(["patron", "anonymous"]))
    def run(data, who):
        client = browser if who == "patron" else anonymous
        client.still_logged_in()
        client.post("/language", data.draw(form_pairs({"language": ids("ja", "en"), "next": text_values}, client.holder)))
        client.post("/furigana", data.draw(form_pairs({"furigana": ids("on", "off"), "next": text_values},
                                                      client.holder)))
        client.get("/")

    run()


def test_fuzz_the_ils_forms_on_every_adapter(portal):
    """Login, renew, cancel, place a hold, search and the record page, over SIP2 and Koha too (where a
    ``|``, a CR or a NUL would matter most: SIP2 fields, Koha URLs and queries)."""
    adapter = portal.adapter
    a_key, b_key = portal.key("regular"), portal.key("many-loans")
    loans = [loan.loan_id for key in (a_key, b_key) for loan in adapter.loans(key)]
    holds = [hold.hold_id for key in (a_key, b_key) for hold in adapter.holds(key)]
    records = [portal.holdable_record, "R0001", "I0001-1", "1", "283"]
    pickups = [location.location_id for location in adapter.pickup_locations(a_key, portal.holdable_record)]
    browser = Browser(portal.app, REGULAR)
    forms = {
        "/loans/renew": {"action": ids("selected", "all"), "loan": ids(*loans)},
        "/holds/cancel": {"hold": ids(*holds)},
        "/holds/new": {"record": ids(*records), "pickup_location": ids(*pickups),
                       "not_needed_after": date_values()},
        "/settings/password": {"current": ids(REGULAR.password), "new": ids("Shiori2026new", "Shiori 2026\u2028x"),
                               "confirm": ids("Shiori2026new", "Shiori 2026\u2028x")},
    }

    @settings(FUZZ, max_examples=30)
    @given(data=st.data(), form=st.sampled_from(["/login", "/search", *forms]))
    def run(data, form):
        browser.still_logged_in()
        if form == "/login":
            anonymous = Browser(portal.app)
            fields = {"card_number": ids(REGULAR.card, OTHER.card), "password": ids(REGULAR.password, "a|b")}
            anonymous.post("/login", data.draw(form_pairs(fields, anonymous.holder)))
        elif form == "/search":
            browser.get("/search", query_string={"q": data.draw(text_values), "page": data.draw(text_values)})
            browser.get("/records/" + quote(data.draw(ids(*records))[:300], safe=""))
            browser.get("/holds/new", query_string={"record": data.draw(ids(*records))})
        else:
            posted = data.draw(form_pairs(forms[form], browser.holder))
            response = browser.post(form, posted)
            if form == "/settings/password" and response.status_code == 302:
                browser.password = posted["new"]  # changed: later examples log in with the new one

    run()


# --- forgotten password, reset link, address confirmation ---------------------------------------------


def test_fuzz_forgot_password(mail_app, no_failed_jobs):
    browser = Browser(mail_app)

    @FUZZ
    @given(data=st.data())
    def run(data):
        browser.refresh("/password/forgot")
        fields = {"card_number": ids(REGULAR.card, "2000-0000-01"), "email": emails}
        browser.post("/password/forgot", data.draw(form_pairs(fields, browser.holder)))

    run()
    drain(mail_app)


def test_fuzz_reset_link(mail_app, no_failed_jobs):
    with mail_app.app_context():
        update_preferences(REGULAR.key, email="hanako@example.jp", email_confirmed=True)
    browser = Browser(mail_app)

    @FUZZ
    @given(data=st.data(), token=text_values, real=st.booleans())
    def run(data, token, real):
        if real:
            with mail_app.app_context():
                token = issue_reset_token(REGULAR.key)
        path = "/password/reset/" + quote(token[:300], safe="")
        browser.get(path)
        browser.refresh("/password/forgot")
        fields = {"new": ids("Shiori2026new"), "confirm": ids("Shiori2026new")}
        browser.post(path, data.draw(form_pairs(fields, browser.holder)))

    run()
    drain(mail_app)


def test_fuzz_email_confirmation_link(mail_app, no_failed_jobs):
    with mail_app.app_context():
        update_preferences(REGULAR.key, email="hanako@example.jp", email_confirmed=False)
    browser = Browser(mail_app, REGULAR)
    anonymous = Browser(mail_app)

    @FUZZ
    @given(data=st.data(), token=text_values, real=st.booleans(), who=st.sampled_from(["patron", "anonymous"]))
    def run(data, token, real, who):
        if real:
            with mail_app.app_context():
                update_preferences(REGULAR.key, email="hanako@example.jp", email_confirmed=False)
                token = confirmation_token(confirmation_nonce(REGULAR.key))
        client = browser if who == "patron" else anonymous
        client.still_logged_in()
        path = "/email/confirm/" + quote(token[:300], safe="")
        client.get(path)
        client.post(path, data.draw(form_pairs({}, client.holder)))

    run()
    drain(mail_app)


def test_fuzz_email_buttons(mail_app, no_failed_jobs):
    """Resend and remove, after the address was set (or not) through the settings form."""
    browser = Browser(mail_app, REGULAR)

    @FUZZ
    @given(data=st.data(), url=st.sampled_from(["/email/resend", "/email/remove"]), email=emails,
           change=st.booleans())
    def run(data, url, email, change):
        browser.still_logged_in()
        if change:
            browser.post("/settings", MultiDict({"csrf_token": browser.holder["token"], "email": email,
                                                 "language": "ja"}))
        browser.post(url, data.draw(form_pairs({}, browser.holder)))

    run()
    drain(mail_app)


# --- the calendar feed, logging out -----------------------------------------------------------------------


def test_fuzz_calendar(app):
    browser = Browser(app, REGULAR)
    stranger = app.test_client()

    @FUZZ
    @given(data=st.data(), token=text_values)
    def run(data, token):
        browser.still_logged_in()
        fields = {"action": ids("create", "regenerate", "revoke")}
        browser.post("/settings/calendar", data.draw(form_pairs(fields, browser.holder)))
        response = stranger.get("/calendar/" + quote(token[:400], safe="") + ".ics")
        check(response)
        assert response.status_code in (404, 405, 308)

    run()


def test_fuzz_logout(app):
    @settings(FUZZ, max_examples=15)
    @given(data=st.data(), logged_in=st.booleans())
    def run(data, logged_in):
        browser = Browser(app, REGULAR if logged_in else None)
        browser.post("/logout", data.draw(form_pairs({}, browser.holder)))
        browser.get("/")

    run()


# --- bodies no browser would send ---------------------------------------------------------------------------

POST_URLS = ["/login", "/logout", "/password/initial", "/settings/password", "/settings", "/loans/renew",
             "/holds/cancel", "/holds/new", "/language", "/furigana", "/password/forgot", "/email/resend",
             "/email/remove", "/settings/calendar", "/email/confirm/x", "/password/reset/x"]


def test_fuzz_raw_bodies_to_every_form(mail_app, no_failed_jobs):
    browser = Browser(mail_app, REGULAR)
    content_types = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "multipart/form-data",
                     "application/json", "text/plain", "application/x-www-form-urlencoded; charset=shift_jis", ""]

    @FUZZ
    @given(url=st.sampled_from(POST_URLS), body=st.one_of(
        st.binary(max_size=300),
        st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=40)), max_size=6).map(
            lambda pairs: b"&".join(k + b"=" + v for k, v in pairs)),
        st.just(b"csrf_token=%FF%FE&card_number=%C0%AF&password=%00"),
        st.just(b"--xyz\r\nContent-Disposition: form-data; name=\"loan\"\r\n\r\n\xff\xfe\r\n--xyz--\r\n"),
        st.just(b"a=" + b"x" * 70_000),
    ), content_type=st.sampled_from(content_types), with_token=st.booleans())
    def run(url, body, content_type, with_token):
        browser.still_logged_in()
        if with_token and content_type.startswith("application/x-www-form-urlencoded"):
            body = b"csrf_token=" + browser.holder["token"].encode() + b"&" + body
        browser.post(url, body, content_type=content_type or None)

    run()
    drain(mail_app)


# --- bugs this found, fixed -------------------------------------------------------------------------------------


def test_a_past_not_needed_after_date_is_a_form_error_not_a_503(portal):
    client = portal.login("regular")
    record = portal.holdable_record
    form = page(client.get(f"/holds/new?record={record}"))
    pickup = re.search(r'<option[^>]*value="([^"]+)"', form).group(1)
    yesterday = (portal.adapter.today() - timedelta(days=1)).isoformat()
    response = client.post("/holds/new", data={"csrf_token": csrf_token(form), "record": record,
                                               "pickup_location": pickup, "not_needed_after": yesterday})
    assert response.status_code == 200, response.status_code  # the form again, with the error on the date field


@pytest.mark.parametrize("portal", ["demo", "sip2", "koha"], indirect=True)
def test_a_record_id_that_cannot_travel_to_the_ils_is_not_found(portal):
    client = portal.login("regular")
    too_long = "\U0001f600" * 64  # 64 characters, 256 bytes in UTF-8
    responses = [client.get("/records/" + quote(too_long)), client.get("/holds/new", query_string={"record": too_long})]
    form = page(client.get(f"/holds/new?record={portal.holdable_record}"))
    responses.append(client.post("/holds/new", data={"csrf_token": csrf_token(form), "record": too_long,
                                                     "pickup_location": "MAIN"}))
    assert [response.status_code for response in responses] == [404, 404, 404]


# --- random bytes from a SIP2 server, through a real socket ----------------------------------------------------

CONTRACT_ERRORS = (IlsUnavailable, AuthenticationFailed, InvalidInput)
# What else the contract lets each operation raise (a random reply may parse as a valid "locked" or "unknown").
ALSO_ALLOWED = {"authenticate": (AccountLocked,), "record": (RecordNotFound,), "place_hold": (RecordNotFound,)}
SIP2_COMMANDS = [b"64", b"18", b"30", b"66", b"16", b"36", b"94", b"98", b"96"]


class GarbageAcs:
    """A loopback ACS that logs the portal in, then answers each request with what the test chose."""

    def __init__(self) -> None:
        self.reply: list = []
        self.lock = threading.Lock()

    def __call__(self, request: bytes, session) -> list:
        if request[:2] == b"93":
            return [b"941"]
        with self.lock:
            return list(self.reply) or standard_acs(request, session)


sip2_replies = st.one_of(
    st.binary(max_size=200).map(lambda data: [Raw(data + b"\r")]),
    st.tuples(st.sampled_from(SIP2_COMMANDS), st.binary(max_size=200)).map(lambda parts: [Raw(parts[0] + parts[1] + b"\r")]),
    st.tuples(st.sampled_from(sorted(STANDARD_REPLIES)), st.integers(0, 120), st.binary(min_size=1, max_size=8)).map(
        lambda parts: [Raw(_mutated(STANDARD_REPLIES[parts[0]], parts[1], parts[2]) + b"\r")]),
    st.binary(max_size=40).map(lambda data: [Raw(data), CLOSE]),  # a partial frame, then the connection drops
    st.just([CLOSE]),
)


def _mutated(frame: bytes, position: int, data: bytes) -> bytes:
    position = min(position, len(frame))
    return frame[:position] + data + frame[position + len(data):]


def test_random_bytes_from_the_acs_raise_only_contract_errors(no_leaks):
    garbage = GarbageAcs()
    with LoopbackAcs(garbage) as acs:
        adapter = Sip2Adapter.from_config(sip2_config(acs.port, SIP2_INSTITUTION="LIB", SIP2_READ_TIMEOUT=0.3,
                                                      SIP2_CONNECT_TIMEOUT=0.5))
        operations = {
            "authenticate": lambda: adapter.authenticate("1001", "1234"),
            "loans": lambda: adapter.loans("1001"),
            "holds": lambda: adapter.holds("1001"),
            "account_summary": lambda: adapter.account_summary("1001"),
            "renew": lambda: adapter.renew("1001", ["item-1"]),
            "renew_all": lambda: adapter.renew_all("1001"),
            "cancel_holds": lambda: adapter.cancel_holds("1001", ["item-1"]),
            "place_hold": lambda: adapter.place_hold("1001", HoldRequest("item-1", "LIB")),
            "record": lambda: adapter.record("item-1"),
            "find_patron": lambda: adapter.find_patron("1001"),
            "end_session": lambda: adapter.end_session("1001"),
        }
        try:
            @settings(FUZZ, max_examples=60)
            @given(reply=sip2_replies, operation=st.sampled_from(sorted(operations)))
            def run(reply, operation):
                with garbage.lock:
                    garbage.reply = reply
                if not adapter.supports(Capability.RENEW) and operation in {"renew", "renew_all"}:
                    return
                started = time.monotonic()
                try:
                    operations[operation]()
                except CONTRACT_ERRORS + ALSO_ALLOWED.get(operation, ()):
                    pass
                except NotSupported:  # a garbled 98 may narrow the capabilities
                    return
                assert time.monotonic() - started < 5, f"{operation} hung on {reply!r}"

            run()
        finally:
            adapter.close()

"""Patron A can never read or change patron B's loans, holds, settings or calendar feed by changing
an id, a form field or a URL, on every adapter (demo, SIP2 over a real socket, Koha through respx).

A is the demo's "regular" reader; B is the "many-loans" reader (30 loans, some renewable now, and ten
cancellable holds on titles A does not hold, so B's ids are B's alone on every adapter, SIP2's item
ids included). Every test records what reached the library system while A attacks, then proves that
nothing named B (no adapter call with B's key, no SIP2 message with B's card or items, no Koha request
with B's patron, checkout or hold ids), and that B's loans and holds are unchanged, read back through
the adapter (and, for SIP2, from the demo ILS behind the server).

The session tests show that a copied cookie dies with the logout, that an edited cookie is refused,
and that a login always starts a new session (new session id, new CSRF secret).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from itsdangerous import Signer

from adapters.demo.seed import BY_CASE
from adapters.models import RenewalStatus
from tests.conftest import AuthActions, csrf_token
from tests.security.conftest import COOKIE, Portal, first_option, page, post_form, touching
from tests.views.test_calendar import FEED, make_feed
from views.calendar import SALT

A, B = BY_CASE["regular"], BY_CASE["many-loans"]
# Form fields and query parameters an attacker might add, hoping the portal takes the patron from them.
PATRON_FIELDS = ("patron", "patron_key", "patronKey", "patron_id", "card_number", "cardnumber", "card",
                 "borrowernumber", "borrower", "user", "user_id", "userid", "_user_id", "key", "AA", "sid")


def b_fields(b_key: str) -> dict[str, str]:
    return {name: (B.card if "card" in name.lower() or name == "AA" else b_key) for name in PATRON_FIELDS}


@dataclass
class Parties:
    a: FlaskClient  # A's browser, logged in
    a_key: str
    a_before: tuple
    b_key: str
    b_loans: list[str]
    b_holds: list[str]
    b_titles: set[str]  # titles only B has: none may show on A's pages
    b_before: tuple


@pytest.fixture
def parties(portal: Portal) -> Parties:
    b_key = portal.key("many-loans")
    b_loans = portal.adapter.loans(b_key)
    b_holds = portal.adapter.holds(b_key)
    a_key = portal.key("regular")
    a_titles = {loan.title for loan in portal.adapter.loans(a_key)} | {h.title for h in portal.adapter.holds(a_key)}
    assert len(b_loans) == 30 and len(b_holds) == 10
    truth = portal.backend.loans(B.key) if portal.backend is not None else b_loans  # SIP2 forecasts nothing
    assert any(loan.forecast.status is RenewalStatus.RENEWABLE for loan in truth), "B must have renewable loans"
    parties = Parties(
        a=portal.login("regular"), a_key=a_key, a_before=portal.state("regular"), b_key=b_key,
        b_loans=[loan.loan_id for loan in b_loans], b_holds=[hold.hold_id for hold in b_holds],
        b_titles=({loan.title for loan in b_loans} | {hold.title for hold in b_holds}) - a_titles,
        b_before=portal.state("many-loans"),
    )
    assert len(parties.b_titles) > 30 and not set(parties.b_loans) & {loan.loan_id for loan in portal.adapter.loans(a_key)}
    portal.record()
    return parties


def assert_b_untouched(portal: Portal, parties: Parties) -> None:
    """Nothing about B reached the ILS since recording began, and B's loans and holds are as they were."""
    leaks = touching(portal, patron_key=parties.b_key, card=B.card, loan_ids=parties.b_loans,
                     hold_ids=parties.b_holds)
    assert leaks == [], f"requests about patron B while A was logged in: {leaks}"
    assert portal.state("many-loans") == parties.b_before


def assert_no_b_titles(parties: Parties, html: str) -> None:
    shown = [title for title in parties.b_titles if title in html]
    assert shown == [], f"B's titles on A's page: {shown}"


# --- loans ------------------------------------------------------------------------------------------


def test_renewing_b_s_loans_by_id_renews_nothing(portal, parties):
    response = post_form(parties.a, "/loans", "/loans/renew", {"action": "selected", "loan": parties.b_loans})
    assert response.status_code == 302 and response.location == "/loans"
    loans_page = page(parties.a.get("/loans"))
    assert "30 books could not be renewed" in loans_page
    assert_no_b_titles(parties, loans_page)
    assert portal.state("regular") == parties.a_before
    assert_b_untouched(portal, parties)


def test_b_s_loan_ids_mixed_with_a_s_only_a_s_are_renewed(portal, parties):
    mine = next(loan for loan in portal.adapter.loans(parties.a_key) if loan.title == "吾輩は猫である")  # renewable now
    portal.record()
    response = post_form(parties.a, "/loans", "/loans/renew",
                         {"action": "selected", "loan": [parties.b_loans[0], mine.loan_id, *parties.b_loans[1:]]})
    assert response.status_code == 302
    loans_page = page(parties.a.get("/loans"))
    assert "1 book renewed" in loans_page and "30 books could not be renewed" in loans_page
    assert_no_b_titles(parties, loans_page)
    after = {loan.loan_id: loan for loan in portal.adapter.loans(parties.a_key)}
    assert after[mine.loan_id].due_date > mine.due_date
    assert_b_untouched(portal, parties)


def test_renew_all_with_b_s_ids_and_patron_fields_renews_only_a_s(portal, parties):
    data = {"action": "all", "loan": parties.b_loans, **b_fields(parties.b_key)}
    response = post_form(parties.a, "/loans", f"/loans/renew?patron={parties.b_key}&card_number={B.card}", data)
    assert response.status_code == 302
    assert_no_b_titles(parties, page(parties.a.get("/loans")))
    renewals = [args for operation, args in portal.recording.calls if operation in {"renew", "renew_all"}]
    assert renewals == [(parties.a_key,)]
    assert_b_untouched(portal, parties)


def test_b_s_loans_are_not_shown_whatever_the_url_says(portal, parties):
    for url in (f"/loans?patron={parties.b_key}", f"/loans?card_number={B.card}", f"/?patron_key={parties.b_key}",
                f"/holds?patron_id={parties.b_key}&borrowernumber={parties.b_key}", f"/loans/{parties.b_key}",
                f"/holds/{parties.b_key}", f"/patrons/{parties.b_key}/loans"):
        response = parties.a.get(url)
        assert response.status_code in (200, 404, 405), url
        assert_no_b_titles(parties, page(response))
    assert_b_untouched(portal, parties)


# --- holds ------------------------------------------------------------------------------------------


def test_cancelling_b_s_holds_by_id_cancels_nothing(portal, parties):
    response = post_form(parties.a, "/holds", "/holds/cancel", {"hold": parties.b_holds, **b_fields(parties.b_key)})
    assert response.status_code == 302 and response.location == "/holds"
    holds_page = page(parties.a.get("/holds"))
    assert "10 reservations could not be cancelled" in holds_page
    assert_no_b_titles(parties, holds_page)
    assert portal.state("regular") == parties.a_before
    assert_b_untouched(portal, parties)


def test_b_s_hold_ids_mixed_with_a_s_only_a_s_is_cancelled(portal, parties):
    mine = next(hold for hold in portal.adapter.holds(parties.a_key) if hold.cancellable)
    portal.record()
    response = post_form(parties.a, "/holds", "/holds/cancel", {"hold": [*parties.b_holds[:5], mine.hold_id,
                                                                          *parties.b_holds[5:]]})
    assert response.status_code == 302
    holds_page = page(parties.a.get("/holds"))
    assert "1 reservation cancelled" in holds_page and "10 reservations could not be cancelled" in holds_page
    assert mine.hold_id not in {hold.hold_id for hold in portal.adapter.holds(parties.a_key)}
    assert_b_untouched(portal, parties)


@pytest.mark.parametrize("action", ["suspend", "resume"])
def test_suspending_or_resuming_b_s_holds_changes_nothing(portal, parties, action):
    if f"account.{action}_hold" not in portal.app.view_functions:
        pytest.skip(f"no /holds/{action} in this version")
    for hold_id in parties.b_holds:
        response = post_form(parties.a, "/holds", f"/holds/{action}?patron_key={parties.b_key}",
                             {action: hold_id, "hold": hold_id, "until": "2026-12-24", **b_fields(parties.b_key)})
        assert response.status_code in (302, 501)  # 501: this ILS cannot suspend holds
        assert_no_b_titles(parties, page(parties.a.get("/holds")))
    assert portal.state("regular") == parties.a_before
    assert_b_untouched(portal, parties)


def test_a_hold_placed_with_b_s_patron_fields_is_a_s(portal, parties):
    record = portal.holdable_record
    pickup = first_option(page(parties.a.get(f"/holds/new?record={record}")))
    query = "&".join(f"{name}={value}" for name, value in b_fields(parties.b_key).items())
    response = post_form(parties.a, f"/holds/new?record={record}", f"/holds/new?{query}",
                         {"record": record, "pickup_location": pickup, **b_fields(parties.b_key)})
    assert response.status_code == 302, page(response)
    placed = [args for operation, args in portal.recording.calls if operation == "place_hold"]
    assert len(placed) == 1 and placed[0][0] == parties.a_key
    before = {hold.hold_id for hold in parties.a_before[0][1]}
    new = [hold for hold in portal.adapter.holds(parties.a_key) if hold.hold_id not in before]
    assert len(new) == 1 and new[0].title == "Pride and Prejudice"
    assert_b_untouched(portal, parties)


RECORD_INJECTIONS = [
    "R0168|AA2000000006", "I0168-1|AA2000000006|", "168|AA2000000006", "R0168\rAA2000000006", "I0168-1\r\n63",
    "R0168\x00", "168\n", "1 OR 1=1", "' OR '1'='1", "R0168'; DELETE FROM holds; --", "../patrons/6", "6/holds",
    "..%2Fpatrons%2F6", "168?patron_id=6", "168#x", "168&patron_id=6", "%00", "Ｒ０１６８", "R" * 65, "9" * 19, "-1",
    "1e3", "<script>alert(1)</script>", "{{7*7}}", "\u202eR0168", "R0168\u2028", "\ud7ff", "",
]


def test_record_ids_with_injections_reach_no_one_else(portal, parties):
    for record in RECORD_INJECTIONS:
        response = parties.a.get("/holds/new", query_string={"record": record, "patron_id": parties.b_key})
        assert response.status_code in (200, 404), (record, response.status_code)
        assert "<script>alert(1)</script>" not in page(response)
        response = post_form(parties.a, "/loans", "/holds/new",
                             {"record": record, "pickup_location": "MAIN", **b_fields(parties.b_key)})
        assert response.status_code in (200, 400, 404), (record, response.status_code)
        assert parties.a.get(f"/records/{record}").status_code in (200, 404, 308)
    assert portal.state("regular") == parties.a_before
    assert not [args for operation, args in portal.recording.calls if operation == "place_hold"]
    assert_b_untouched(portal, parties)


def test_a_record_id_in_the_query_cannot_swap_the_posted_one(portal, parties):
    """The hold is placed on the record the form names, checked again on POST; the query is ignored."""
    record = portal.holdable_record
    pickup = first_option(page(parties.a.get(f"/holds/new?record={record}")))
    response = post_form(parties.a, f"/holds/new?record={record}", "/holds/new?record=R0168|AA2000000006",
                         {"record": "168|AA2000000006", "pickup_location": pickup})
    assert response.status_code == 404
    assert portal.state("regular") == parties.a_before
    assert_b_untouched(portal, parties)


# --- settings, language, furigana, email ----------------------------------------------------------------


@pytest.fixture
def b_settings(portal: Portal, parties: Parties) -> dict:
    """B has saved settings and made a calendar feed (before A attacks)."""
    b = portal.login("many-loans")
    response = post_form(b, "/settings", "/settings", {"email": "b@example.jp", "language": "ja",
                                                        "notify_hold_ready": "y"})
    assert response.status_code == 302
    feed = make_feed(AuthActions(b), b)
    saved = portal.preference(parties.b_key)
    assert saved and saved["calendar_id"] and saved["email"] == "b@example.jp"
    portal.record()
    return {"client": b, "feed": feed, "saved": saved}


def test_settings_with_b_s_fields_change_only_a_s(portal, parties, b_settings):
    extras = {**b_fields(parties.b_key), "email_confirmed": "y", "calendar_id": b_settings["saved"]["calendar_id"],
              "email_nonce": b_settings["saved"]["email_nonce"] or "x", "furigana": "on", "patron_key": parties.b_key}
    response = post_form(parties.a, "/settings", f"/settings?patron_key={parties.b_key}",
                         {"email": "attacker@example.jp", "language": "en", "notify_due_soon": "y", **extras})
    assert response.status_code == 302
    mine = portal.preference(parties.a_key)
    assert mine["email"] == "attacker@example.jp" and mine["email_confirmed"] is False
    assert mine["calendar_id"] is None and mine["email_nonce"] != b_settings["saved"]["email_nonce"]
    assert (mine["language"], mine["notify_hold_ready"], mine["notify_due_soon"]) == ("en", False, True)
    assert portal.preference(parties.b_key) == b_settings["saved"]
    settings_page = page(parties.a.get("/settings"))
    assert "b@example.jp" not in settings_page and b_settings["feed"] not in settings_page
    assert_b_untouched(portal, parties)


def test_language_furigana_and_email_buttons_with_b_s_fields_change_only_a_s(portal, parties, b_settings):
    extras = b_fields(parties.b_key)
    for url, data in (("/language", {"language": "en", "next": "/"}), ("/furigana", {"furigana": "on", "next": "/"}),
                      ("/email/resend", {}), ("/email/remove", {})):
        response = post_form(parties.a, "/settings", f"{url}?patron_key={parties.b_key}", {**data, **extras})
        assert response.status_code == 302, url
    mine = portal.preference(parties.a_key)
    assert (mine["language"], mine["furigana"]) == ("en", True)
    assert portal.preference(parties.b_key) == b_settings["saved"]
    assert_b_untouched(portal, parties)


# --- the calendar feed ------------------------------------------------------------------------------


def feed_parts(path: str) -> tuple[str, str]:
    calendar_id, signature = path[len("/calendar/"):-len(".ics")].split(".", 1)
    return calendar_id, signature


def test_a_s_feed_shows_a_s_books_only(portal, parties, b_settings):
    a_feed = make_feed(AuthActions(parties.a), parties.a)
    assert a_feed != b_settings["feed"]
    portal.record()
    stranger = portal.client()
    raw = page(stranger.get(a_feed))
    for loan in parties.a_before[0][0]:
        assert loan.title in raw
    assert_no_b_titles(parties, raw)
    assert_b_untouched(portal, parties)


def test_b_s_feed_cannot_be_guessed_or_forged_from_a_s(portal, parties, b_settings):
    a_id, a_signature = feed_parts(make_feed(AuthActions(parties.a), parties.a))
    b_id, b_signature = feed_parts(b_settings["feed"])
    assert b_id == b_settings["saved"]["calendar_id"]  # the id is B's row's: only the signature protects it
    forged_by_other_key = Signer("not-the-secret", salt=SALT, digest_method=hashlib.sha256).get_signature(b_id).decode()
    attempts = [
        f"{b_id}.{a_signature}", f"{a_id}.{b_signature}"[:-1] + "A", f"{b_id}", f"{b_id}.", f"{b_id}.{forged_by_other_key}",
        f"{b_id.upper()}.{b_signature}", f"{b_id}.{b_signature.lower()}", f"{secrets.token_hex(16)}.{a_signature}",
        f"{b_id}.{b_signature}.{a_signature}", f"{a_id}.{a_signature}/../{b_id}",
        f"{b_id}.{b_signature}x", "." + b_signature, f"{b_id}.{'A' * len(b_signature)}", "A" * 300,
    ]
    portal.record()
    stranger = portal.client()
    for token in attempts:
        response = stranger.get(f"/calendar/{token}.ics")
        assert response.status_code == 404, token
        assert_no_b_titles(parties, page(response))
    for _ in range(20):
        assert stranger.get(f"/calendar/{secrets.token_hex(16)}.{secrets.token_urlsafe(32)}.ics").status_code == 404
    assert_b_untouched(portal, parties)


def test_a_cannot_revoke_or_replace_b_s_feed(portal, parties, b_settings):
    b_id = b_settings["saved"]["calendar_id"]
    for action in ("create", "regenerate", "revoke"):
        response = post_form(parties.a, "/settings", f"/settings/calendar?calendar_id={b_id}",
                             {"action": action, "calendar_id": b_id, "token": b_settings["feed"],
                              **b_fields(parties.b_key)})
        assert response.status_code == 302
    assert portal.preference(parties.b_key) == b_settings["saved"]
    assert portal.preference(parties.a_key)["calendar_id"] is None  # A's own, revoked last
    assert_b_untouched(portal, parties)
    assert portal.client().get(b_settings["feed"]).status_code == 200


def test_a_revoked_or_regenerated_feed_shows_nothing(portal, parties, b_settings):
    b, first = b_settings["client"], b_settings["feed"]
    second = make_feed(AuthActions(b), b, "regenerate")
    stranger = portal.client()
    assert stranger.get(first).status_code == 404
    assert stranger.get(second).status_code == 200
    assert post_form(b, "/settings", "/settings/calendar", {"action": "revoke"}).status_code == 302
    assert not FEED.search(page(b.get("/settings")))
    portal.record()
    for path in (first, second):
        response = stranger.get(path)
        assert response.status_code == 404
        assert_no_b_titles(parties, page(response))
    assert not [call for call in portal.recording.calls if call[0] in {"loans", "holds"}], "a dead feed asked the ILS"


# --- sessions ---------------------------------------------------------------------------------------


def cookie(client) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None, "no session cookie"
    return found.value


def with_cookie(portal: Portal, value: str):
    client = portal.client()
    client.set_cookie(COOKIE, value)
    return client


def session_data(portal: Portal, value: str) -> dict:
    return portal.app.session_interface.get_signing_serializer(portal.app).loads(value)


def sign(portal: Portal, data: dict, secret_key: str | None = None) -> str:
    app = portal.app
    if secret_key is None:
        return app.session_interface.get_signing_serializer(app).dumps(data)
    original = app.secret_key
    app.secret_key = secret_key
    try:
        return app.session_interface.get_signing_serializer(app).dumps(data)
    finally:
        app.secret_key = original


def assert_logged_out(client, parties: Parties | None = None) -> None:
    start = client.get("/")  # the login (an ended session is told so) or a visitor's start page, never the menu
    assert (start.status_code == 302 and start.location.startswith("/login")) or (
        start.status_code == 200 and 'action="/logout"' not in page(start)), ("/", start.status_code)
    for url in ("/loans", "/holds", "/settings"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login"), (url, response.status_code)
    if parties is not None:
        assert_no_b_titles(parties, page(client.get("/login")))


def test_a_cookie_copied_before_logout_does_not_work_after_it(portal, parties):
    a = parties.a
    copied = cookie(a)
    token_page = page(a.get("/loans"))
    thief = with_cookie(portal, copied)
    assert thief.get("/loans").status_code == 200  # a copy works while the session lives
    assert post_form(a, "/", "/logout", {}).status_code == 302
    assert_logged_out(a)
    thief = with_cookie(portal, copied)
    assert_logged_out(thief)
    thief = with_cookie(portal, copied)  # the copy and the page's CSRF token together: still nothing
    response = thief.post("/loans/renew", data={"csrf_token": csrf_token(token_page), "action": "all"})
    assert response.status_code == 400 or response.location.startswith("/login")
    assert not [args for operation, args in portal.recording.calls if operation in {"renew", "renew_all"}]


def test_the_next_patron_on_a_shared_pc_gets_a_new_session_and_a_s_copy_stays_dead(portal, parties):
    a = parties.a
    copied = cookie(a)
    a_sid = session_data(portal, copied)["sid"]
    post_form(a, "/", "/logout", {})
    response = post_form(a, "/login", "/login", {"card_number": B.card, "password": B.password})
    assert response.status_code == 302
    b_session = session_data(portal, cookie(a))
    with portal.app.app_context():
        registered = portal.app.extensions["shiori.sessions"].touch(b_session["sid"])
    assert b_session["sid"] != a_sid and registered.patron_key == parties.b_key
    assert_logged_out(with_cookie(portal, copied))


def test_a_s_cookie_edited_to_be_b_is_refused(portal, parties):
    original = cookie(parties.a)
    data = session_data(portal, original)
    assert data["_user_id"] == data["sid"]  # the cookie names no patron: only the session id
    # What an attacker might add, hoping the portal takes the patron from the cookie (as it once did).
    as_b = {**data, "patron": [parties.b_key, B.card, B.name, False], "_user_id": parties.b_key}
    payload_as_b = sign(portal, as_b, "attacker-guess").rsplit(".", 2)[0]  # (a compressed payload starts with ".")
    forgeries = {
        "B's payload with A's timestamp and signature": ".".join([payload_as_b, *original.rsplit(".", 2)[1:]]),
        "signed with a guessed key": sign(portal, as_b, "attacker-guess"),
        "A's cookie truncated": original[:-2],
        "signed with the key but a made-up session id": sign(portal, {**as_b, "sid": secrets.token_urlsafe(32)}),
    }
    for name, forged in forgeries.items():
        assert forged != original
        assert_logged_out(with_cookie(portal, forged), parties), name
    assert parties.a.get("/loans").status_code == 200  # A's own session was not harmed
    assert_b_untouched(portal, parties)


def test_a_live_session_id_cannot_be_paired_with_another_patron(portal, parties):
    data = session_data(portal, cookie(parties.a))
    as_b = {**data, "patron": [parties.b_key, B.card, B.name, False], "_user_id": parties.b_key}
    assert_logged_out(with_cookie(portal, sign(portal, as_b)), parties)


def test_login_starts_a_new_session_whatever_cookie_the_browser_had(portal, parties):
    # An attacker's anonymous session (with its CSRF secret), planted in the victim's browser before login.
    attacker = portal.client()
    old_token = csrf_token(page(attacker.get("/login")))
    planted = cookie(attacker)
    victim = with_cookie(portal, planted)
    response = victim.post("/login", data={"csrf_token": old_token, "card_number": A.card, "password": A.password})
    assert response.status_code == 302
    after = session_data(portal, cookie(victim))
    assert after["sid"] and after.get("csrf_token") != session_data(portal, planted).get("csrf_token")
    assert_logged_out(attacker)  # the planted copy is still anonymous
    portal.record()
    response = victim.post("/loans/renew", data={"csrf_token": old_token, "action": "all"})
    assert response.status_code in (302, 400)
    assert not [args for operation, args in portal.recording.calls if operation in {"renew", "renew_all"}], (
        "a CSRF token known from before the login still works after it")
    # Every login gets a session id of its own, even the same patron's from the same browser.
    sids = {after["sid"], session_data(portal, cookie(parties.a))["sid"]}
    for _ in range(3):
        post_form(victim, "/", "/logout", {})
        assert post_form(victim, "/login", "/login", {"card_number": A.card, "password": A.password}).status_code == 302
        sids.add(session_data(portal, cookie(victim))["sid"])
    assert len(sids) == 5

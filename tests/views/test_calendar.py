"""The secret calendar feed: made, regenerated and revoked in settings; fetched without logging in;
titles and dates only."""

from __future__ import annotations

import re

from icalendar import Calendar

from adapters.models import HoldStatus
from tests.conftest import AuthActions
from tests.notifications.conftest import translated

FEED = re.compile(r'id="calendar-url"[^>]*value="http://127\.0\.0\.1:5000(/calendar/[^"]+\.ics)"')


def text(response) -> str:
    return response.get_data(as_text=True)


def make_feed(auth, client, action: str = "create") -> str:
    response = auth.post_form("/settings", "/settings/calendar", {"action": action})
    assert response.status_code == 302 and response.location.startswith("/settings")
    match = FEED.search(text(client.get("/settings")))
    assert match, "no calendar address on the settings page"
    return match.group(1)


def events(response) -> list:
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return list(Calendar.from_ical(response.data).walk("VEVENT"))


def test_the_feed_has_due_dates_and_pickup_deadlines_and_needs_no_login(app, adapter, auth, client, login_as):
    demo = login_as("hold-ready")
    path = make_feed(auth, client)
    auth.logout()
    stranger = app.test_client()  # a calendar app: no cookies at all
    found = events(stranger.get(path))
    loans = adapter.loans(demo.key)
    ready = [h for h in adapter.holds(demo.key) if h.status is HoldStatus.READY]
    assert len(found) == len(loans) + len(ready)
    by_summary = {str(event["SUMMARY"]): event for event in found}
    for loan in loans:
        event = by_summary[translated(app, "ja", "Due back: %(title)s", title=loan.title)]
        assert event.decoded("DTSTART") == loan.due_date
    assert ready
    for hold in ready:
        event = by_summary[translated(app, "ja", "Pickup deadline: %(title)s", title=hold.title)]
        assert event.decoded("DTSTART") == hold.pickup_deadline


def test_the_feed_holds_nothing_but_titles_and_dates(app, adapter, auth, client, login_as, patron):
    demo = login_as("hold-ready")
    path = make_feed(auth, client)
    raw = app.test_client().get(path).get_data(as_text=True)
    for secret in (demo.card, demo.name, demo.key, "本館"):  # card, name, the ILS's key, a pickup location
        assert secret not in raw
    for hold in adapter.holds(demo.key):
        if hold.author:
            assert hold.author not in raw
    for event in Calendar.from_ical(raw).walk("VEVENT"):
        assert set(event.keys()) <= {"UID", "DTSTAMP", "SUMMARY", "DTSTART", "DTEND", "TRANSP"}


def test_regenerating_and_revoking(app, auth, client, login_as):
    login_as("regular")
    first = make_feed(auth, client)
    second = make_feed(auth, client, "regenerate")
    assert first != second
    stranger = app.test_client()
    assert stranger.get(first).status_code == 404
    assert stranger.get(second).status_code == 200
    auth.post_form("/settings", "/settings/calendar", {"action": "revoke"})
    assert stranger.get(second).status_code == 404
    assert not FEED.search(text(client.get("/settings")))


def test_a_tampered_or_unknown_address_is_not_found(app, auth, client, login_as):
    login_as("regular")
    path = make_feed(auth, client)
    stranger = app.test_client()
    calendar_id, signature = path[len("/calendar/"):-len(".ics")].split(".", 1)
    # The first character: the last one of base64 carries unused bits, so changing it may change nothing.
    other = "B" if signature.startswith("A") else "A"
    assert stranger.get(f"/calendar/{calendar_id}.{other}{signature[1:]}.ics").status_code == 404
    assert stranger.get(f"/calendar/{'0' * 32}.{signature}.ics").status_code == 404
    assert stranger.get("/calendar/nonsense.ics").status_code == 404


def test_the_feed_is_in_the_patrons_language(app, auth, client, login_as):
    login_as("english")
    auth.post_form("/settings", "/settings", {"language": "en"})
    path = make_feed(auth, client)
    summaries = [str(e["SUMMARY"]) for e in events(app.test_client().get(path))]
    assert summaries and all(s.startswith(("Due back: ", "Pickup deadline: ")) for s in summaries)


def test_managing_the_feed_needs_login_and_a_form(app, client):
    assert client.post("/settings/calendar", data={"action": "create"}).status_code in (302, 400)
    auth = AuthActions(client)
    auth.login("2000000001", "yamada2024")
    response = auth.post_form("/settings", "/settings/calendar", {"action": "delete-everything"})
    assert response.status_code == 302
    assert not FEED.search(text(client.get("/settings")))

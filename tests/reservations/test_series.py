"""順番予約: three volumes of 1Q84 reserved in order on the demo ILS; volume 2 is placed by the
notice run only after volume 1 has been picked up, exactly once, with a mail through loopback SMTP."""

from __future__ import annotations

import threading

import pytest

from adapters.models import Capability, HoldStatus
from notifications.notices import NoticeRun
from store import series
from tests.conftest import csrf_token
from tests.notifications.conftest import register_address
from tests.notifications.smtp import body, smtp  # noqa: F401

REGULAR_CARD, REGULAR_PASSWORD, REGULAR = "2000000001", "yamada2024", "P001"
VOLUMES = ["R0062", "R0284", "R0285"]  # 1Q84 BOOK1, BOOK2, BOOK3: one copy each, all on the shelf


@pytest.fixture
def app_config(app_config, smtp):  # noqa: F811
    app_config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=smtp.port, PUBLIC_BASE_URL="http://localhost",
                      MAIL_FROM="library@example.jp")
    return app_config


def run(app):
    return NoticeRun(app, kinds=()).run()


def queue_all(auth, client):
    auth.login(REGULAR_CARD, REGULAR_PASSWORD)
    record = client.get("/records/R0284").get_data(as_text=True)
    assert "「1Q84」の巻を順番に予約する" in record
    page = client.get("/series/R0062").get_data(as_text=True)
    assert page.count('name="volume"') == 3 and page.count("checked") == 3
    return client.post("/series/R0062", data={"csrf_token": csrf_token(page), "volume": VOLUMES,
                                              "pickup_location": "MAIN"})


def record_holds(demo):
    return {hold.record_id: hold for hold in demo.holds(REGULAR)}


def pick_up(demo, record_id):
    """Wait demo days until the volume is ready at the pickup branch, then lend it to the patron."""
    for _ in range(3):
        hold = record_holds(demo)[record_id]
        if hold.status is HoldStatus.READY:
            break
        demo.advance_clock(1)
    hold = record_holds(demo)[record_id]
    assert hold.status is HoldStatus.READY
    item = next(item for item in (f"I{record_id[1:]}-1",))
    demo.checkout(REGULAR_CARD, item)


def test_volume_two_is_placed_only_after_volume_one_is_picked_up(app, auth, client, smtp):  # noqa: F811
    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR, "taro@example.jp", hold_ready=False, due_soon=False)
    response = queue_all(auth, client)
    assert response.status_code == 302 and response.location == "/holds"
    assert set(record_holds(demo)) & set(VOLUMES) == {"R0062"}  # the first volume at once
    holds_page = client.get("/holds").get_data(as_text=True)
    assert holds_page.count("前の巻を待っています") == 2
    assert run(app).series_volumes == 0
    demo.advance_clock(1)  # volume 1 is pulled from the shelf: in transit or ready, not yet picked up
    assert record_holds(demo)["R0062"].status in (HoldStatus.IN_TRANSIT, HoldStatus.READY)
    assert run(app).series_volumes == 0 and "R0284" not in record_holds(demo)
    pick_up(demo, "R0062")
    summary = run(app)
    assert summary.series_volumes == 1 and summary.errors == 0
    holds = record_holds(demo)
    assert "R0284" in holds and "R0285" not in holds  # volume 3 waits for volume 2
    [message] = smtp.sink.wait_for(1)
    assert "1Q84 BOOK2" in body(message) and "次の巻を予約しました" in body(message)
    assert run(app).series_volumes == 0 and len(smtp.sink.messages) == 1  # exactly once
    assert client.get("/holds").get_data(as_text=True).count("前の巻を待っています") == 1


def test_two_overlapping_runs_place_the_next_volume_once(app, auth, client, smtp):  # noqa: F811
    demo = app.extensions["shiori.adapter"]
    queue_all(auth, client)
    pick_up(demo, "R0062")
    results = []
    barrier = threading.Barrier(2)

    def one_run():
        barrier.wait()
        results.append(run(app))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result.series_volumes for result in results) == 1
    assert sum(1 for hold in demo.holds(REGULAR) if hold.record_id == "R0284") == 1
    with app.app_context():
        states = {row.record_id: row.state for row in series.entries(REGULAR)}
    assert states == {"R0062": "placed", "R0284": "placed", "R0285": "queued"}


def test_a_queued_volume_can_be_cancelled_from_the_holds_page(app, auth, client):
    demo = app.extensions["shiori.adapter"]
    queue_all(auth, client)
    page = client.get("/holds").get_data(as_text=True)
    with app.app_context():
        book3 = next(row.id for row in series.entries(REGULAR) if row.record_id == "R0285")
        other = series.queue_volumes("P010", [demo.record("R0285")], "MAIN", None)[0].id
    client.post("/series/cancel", data={"csrf_token": csrf_token(page), "entry": str(other)})  # not theirs
    client.post("/series/cancel", data={"csrf_token": csrf_token(page), "entry": str(book3)})
    with app.app_context():
        states = {(row.patron_key, row.record_id): row.state for row in [*series.entries(REGULAR),
                                                                         *series.entries("P010")]}
    assert states[(REGULAR, "R0285")] == "cancelled" and states[("P010", "R0285")] == "queued"
    assert client.get("/holds").get_data(as_text=True).count("前の巻を待っています") == 1


def test_an_adapter_without_series_data_says_so(app, auth, client):
    demo = app.extensions["shiori.adapter"].inner
    demo.capabilities = demo.capabilities - {Capability.SERIES}
    auth.login(REGULAR_CARD, REGULAR_PASSWORD)
    assert "順番に予約する" not in client.get("/records/R0062").get_data(as_text=True)
    assert "シリーズの巻を順番に予約することはできません" in client.get("/holds").get_data(as_text=True)
    response = client.get("/series/R0062")
    assert response.status_code == 404 and "順番予約はできません" in response.get_data(as_text=True)




def test_a_volume_is_claimed_by_one_run_only_until_its_lease_runs_out(app):
    from datetime import timedelta

    from store.models import utcnow

    demo = app.extensions["shiori.adapter"]
    with app.app_context():
        entry = series.queue_volumes(REGULAR, [demo.record("R0284")], "MAIN", None)[0].id
        token = series.claim(entry)
        assert token is not None
        assert series.claim(entry) is None  # a second run at the same time
        assert series.claim(entry, now=utcnow() + series.LEASE + timedelta(seconds=1)) is not None  # a dead run's
        series.finish(entry, token, series.PLACED, hold_id="H1")  # the first run's claim is no longer its own
        assert series.entries(REGULAR)[0].state == "placing"


def test_a_portal_without_mail_still_advances_the_queues(app, auth, client, runner):
    demo = app.extensions["shiori.adapter"]
    queue_all(auth, client)
    pick_up(demo, "R0062")
    app.config["MAIL_HOST"] = ""
    result = runner.invoke(args=["notices", "run"])
    assert result.exit_code == 1 and "MAIL_HOST is empty" in result.output
    assert "1 series volumes reserved" in result.output
    assert "R0284" in record_holds(demo)


def test_a_series_mail_the_server_refused_is_sent_by_the_next_run(app, auth, client, smtp):  # noqa: F811
    demo = app.extensions["shiori.adapter"]
    register_address(app, REGULAR, "taro@example.jp", hold_ready=False, due_soon=False)
    queue_all(auth, client)
    pick_up(demo, "R0062")
    smtp.sink.refuse = True
    first = run(app)
    assert first.series_volumes == 1 and first.errors == 1 and smtp.sink.messages == []
    smtp.sink.refuse = False
    second = run(app)
    assert second.series_volumes == 0 and second.series_placed == 1
    [message] = smtp.sink.wait_for(1)
    assert "1Q84 BOOK2" in body(message)
    assert run(app).series_placed == 0 and len(smtp.sink.messages) == 1

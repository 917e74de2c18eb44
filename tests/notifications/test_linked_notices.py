"""Notices about a linked card: to the card's own address as always, and a copy to the patron who
linked it when they asked; one mail per event per recipient, and one only when both share an address."""

from __future__ import annotations

from adapters.models import HoldStatus
from store.links import add_link, set_notify_owner
from tests.notifications.conftest import register_address
from tests.notifications.smtp import body

PARENT, CHILD = "P001", "P004"  # the demo's regular reader, and the reader with a hold ready


def link(app, notify: bool = True) -> int:
    with app.app_context():
        made = add_link(PARENT, "山田 花子", CHILD, "2000000004", "高橋 美咲")
        set_notify_owner(made, notify)
        return made.id


def run(runner) -> str:
    result = runner.invoke(args=["notices", "run"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_parent_gets_a_copy_once_and_the_child_its_own(app, runner, smtp):
    register_address(app, PARENT, "parent@example.jp", due_soon=False)
    register_address(app, CHILD, "child@example.jp", due_soon=False)
    link_id = link(app)
    [hold] = [h for h in app.extensions["shiori.adapter"].holds(CHILD) if h.status is HoldStatus.READY]
    assert "2 notices sent (2 hold-ready" in run(runner)
    messages = smtp.sink.wait_for(2)
    by_address = {message["To"]: message for message in messages}
    assert set(by_address) == {"parent@example.jp", "child@example.jp"}
    copy = body(by_address["parent@example.jp"])
    assert hold.title in copy and "高橋 美咲" in copy and f"/holds?whose={link_id}" in copy
    assert "高橋 美咲" not in body(by_address["child@example.jp"])  # the holder's own mail, as always
    assert by_address["parent@example.jp"]["Message-ID"] != by_address["child@example.jp"]["Message-ID"]
    assert "0 notices sent" in run(runner)
    assert len(smtp.sink.messages) == 2


def test_no_copy_unless_the_parent_asks(app, runner, smtp):
    register_address(app, PARENT, "parent@example.jp", due_soon=False)
    register_address(app, CHILD, "child@example.jp", due_soon=False)
    link(app, notify=False)
    assert "1 notices sent" in run(runner)
    assert [message["To"] for message in smtp.sink.wait_for(1)] == ["child@example.jp"]


def test_a_shared_family_address_gets_one_mail_per_event(app, runner, smtp):
    register_address(app, PARENT, "family@example.jp", due_soon=False)
    register_address(app, CHILD, "Family@example.jp", due_soon=False)
    link(app)
    assert "1 notices sent" in run(runner)
    assert len(smtp.sink.wait_for(1)) == 1


def test_a_child_without_an_address_is_still_told_through_the_parent(app, runner, smtp):
    register_address(app, PARENT, "parent@example.jp", due_soon=False)
    link(app)
    assert "1 notices sent (1 hold-ready" in run(runner)
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "parent@example.jp" and "高橋 美咲" in body(message)


def test_an_unlinked_card_sends_no_more_copies(app, runner, smtp):
    from store.links import links_of, remove_link

    register_address(app, PARENT, "parent@example.jp", due_soon=False)
    link(app)
    with app.app_context():
        remove_link(links_of(PARENT)[0])
    assert "0 notices sent" in run(runner)

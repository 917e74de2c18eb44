"""``flask demo``: the demo ILS's patrons, its clock, and the library's desk (check-in, check-out).

The commands work on the demo database even when the portal runs another adapter
(``PORTAL_ADAPTER=sip2``): they then build a DemoAdapter from ``DEMO_DATABASE``.
"""

from __future__ import annotations

import json
import signal

import click
from flask import current_app
from flask.cli import AppGroup

from adapters.demo.adapter import DemoAdapter
from adapters.demo.circulation import CirculationError, Event
from adapters.errors import IlsError

demo_cli = AppGroup("demo", help="The embedded demo ILS: its patrons, its clock, check-in and check-out.")


def _adapter() -> DemoAdapter:
    from extensions import ils  # the app's accessor; imported late so the module imports without an app

    try:
        adapter = ils()
    except KeyError:  # the app has no adapter attached (yet)
        adapter = None
    return adapter if isinstance(adapter, DemoAdapter) else DemoAdapter.from_config(current_app.config)


def _describe(adapter: DemoAdapter, event: Event) -> str:
    who = adapter.patron(event.patron_key).display_name if event.patron_key else ""
    hold = f"Hold H{event.hold_id} of {who}"
    return {
        "returned": f"{event.item_id} returned by {who}.",
        "lent": f"{event.item_id} lent to {who}, due {event.day}.",
        "ready": f"{hold} is ready for pickup ({event.item_id}).",
        "in_transit": f"{hold} is in transit to its pickup branch ({event.item_id}).",
        "arrived": f"{event.day}: {hold} arrived and is ready for pickup.",
        "expired": f"{event.day}: {hold} was not collected and expired; {event.item_id} is free.",
        "lapsed": f"{event.day}: {hold} passed its not-needed-after date and lapsed.",
    }[event.kind]


def _echo_events(adapter: DemoAdapter, events: list[Event]) -> None:
    for event in events:
        click.echo(_describe(adapter, event))


@demo_cli.command("patrons")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {card, password, case, name}.")
def patrons_command(as_json: bool) -> None:
    """List the demo patrons with their seeded passwords and the case each shows."""
    rows = _adapter().demo_patrons()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'card':<12}{'password':<16}{'case':<13}name")
    for row in rows:
        click.echo(f"{row['card']:<12}{row['password']:<16}{row['case']:<13}{row['name']}")


@demo_cli.command("reset")
def reset_command() -> None:
    """Throw away every change (renewals, holds, passwords, the clock) and seed afresh from today."""
    adapter = _adapter()
    adapter.reset()
    click.echo(f"Demo ILS reset: {len(adapter.demo_patrons())} patrons, demo date {adapter.today()}.")


@demo_cli.command("checkin")
@click.argument("item")
def checkin_command(item: str) -> None:
    """Check ITEM (a barcode such as I0001-1) in; the next hold on its title gets it."""
    adapter = _adapter()
    try:
        events = adapter.checkin(item)
    except (CirculationError, IlsError) as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_events(adapter, events)
    if not any(event.kind in ("ready", "in_transit") for event in events):
        click.echo(f"No hold waiting for it: {item.upper()} is back on the shelf.")


@demo_cli.command("checkout")
@click.argument("card")
@click.argument("item")
def checkout_command(card: str, item: str) -> None:
    """Lend ITEM to the patron with library card CARD (fulfilling their hold on it, if any)."""
    adapter = _adapter()
    try:
        event = adapter.checkout(card, item)
    except (CirculationError, IlsError) as exc:
        raise click.ClickException(str(exc)) from exc
    _echo_events(adapter, [event])


@demo_cli.command("clock")
@click.argument("days", required=False)
@click.option("--reset", "back", is_flag=True, help="Back to the real date (same as `clock 0`).")
def clock_command(days: str | None, back: bool) -> None:
    """Print the demo date, or move it: `+N` (or N) days forward, `0` back to the real date.

    Moving forward plays each day: holds in transit arrive, uncollected ones expire.
    """
    adapter = _adapter()
    if back or (days is not None and days.strip() in ("0", "+0")):
        adapter.reset_clock()
    elif days is not None:
        text = days.strip()
        if not text.lstrip("+").isdigit():
            raise click.BadParameter("give +N to move N days forward, or 0 to go back to today", param_hint="DAYS")
        _echo_events(adapter, adapter.advance_clock(int(text.lstrip("+"))))
    offset = adapter.clock_offset()
    shift = "real date" if not offset else f"real date {offset:+d} day" + ("s" if abs(offset) != 1 else "")
    click.echo(f"Demo date: {adapter.today()} ({shift})")


@demo_cli.command("sip2-server")
@click.option("--port", type=click.IntRange(0, 65535), required=True, help="TCP port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Delay every reply by this much (to measure the portal against a slow ILS).")
@click.option("--user", default="", help="SIP2 login user (93 CN) to require; none by default.")
@click.option("--password", default="", help="SIP2 login password (93 CO) to require with --user.")
@click.option("--profile", type=click.Choice(["generic", "koha", "evergreen", "folio"]), default="generic",
              show_default=True, help="Answer as this SIP2 server does (adapters/sip2/README.md, server profiles).")
@click.option("--datatype", type=click.Choice(["title", "barcode"]), default="title", show_default=True,
              help="With --profile evergreen: what the 64 lists carry (Evergreen's msg64_*_datatype).")
def sip2_server_command(port: int, host: str, latency_ms: float, user: str, password: str, profile: str,
                        datatype: str) -> None:
    """Serve the demo ILS over SIP2, for running the portal with PORTAL_ADAPTER=sip2 against it."""
    from adapters.demo.sip2_common import pickup_locations_setting
    from adapters.demo.sip2_server import DemoSip2Server

    adapter = _adapter()
    try:
        server = DemoSip2Server(adapter, host=host, port=port, latency_ms=latency_ms, user=user, password=password,
                                profile=profile, datatype=datatype)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    pickups = pickup_locations_setting(adapter)
    login = f" PORTAL_SIP2_USER={user} PORTAL_SIP2_PASSWORD=..." if user else ""
    dialect = f" PORTAL_SIP2_PROFILE={profile} PORTAL_SIP2_ENCODING=utf-8" if profile != "generic" else ""
    if profile == "evergreen" and datatype == "barcode":
        dialect += " PORTAL_SIP2_HOLD_IDS=barcode PORTAL_SIP2_LOAN_IDS=barcode"
    terminator = "CRLF" if profile == "koha" else "CR"
    click.echo(f"Demo SIP2 server on {server.host}:{server.port} (institution {server.acs.institution}, profile "
               f"{profile}, UTF-8, {terminator}, error detection as the client sends it). Ctrl-C stops it.")
    click.echo(f"Run the portal against it with:\n  PORTAL_ADAPTER=sip2 PORTAL_SIP2_HOST={server.host} "
               f"PORTAL_SIP2_PORT={server.port}{login}{dialect} PORTAL_SIP2_PICKUP_LOCATIONS='{pickups}' flask run")
    if host not in ("127.0.0.1", "::1", "localhost"):
        click.echo("Warning: SIP2 is unencrypted and this server lets anyone with a card number read the account.",
                   err=True)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # `kill` stops it as cleanly as Ctrl-C

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        click.echo("Demo SIP2 server stopped.")

"""``flask ils check [--card CARD]``: run the configured adapter's connection check and print it."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from adapters.check import Verdict

ils_cli = AppGroup("ils", help="The library system this portal is configured for.")


@ils_cli.command("check")
@click.option("--card", help="Also look at this patron (read-only); the password is asked for without echo.")
def check_command(card: str | None) -> None:
    """Check the configured ILS: reachable, login, what it declares, and optionally one patron.

    Exits 1 if anything needs fixing. Never renews, places or cancels anything."""
    from adapters.registry import create_adapter
    from adapters.validation import normalize_card_number

    password = click.prompt("Password", hide_input=True) if card else None
    # A fresh adapter, not the app's guarded one: the circuit breaker and maintenance windows
    # would hide exactly the failures this command is for.
    adapter = create_adapter(current_app.config)
    click.echo(f"adapter: {current_app.config['ADAPTER']}")
    problems = 0
    try:
        for finding in adapter.check_connection(normalize_card_number(card) if card else None, password):
            click.echo(finding.line())
            problems += finding.verdict is Verdict.PROBLEM
    finally:
        adapter.close()
    click.echo("all checks passed" if not problems else f"{problems} problem(s) found")
    sys.exit(1 if problems else 0)

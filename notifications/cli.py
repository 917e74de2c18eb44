"""``flask notices``: the notice run for cron or a systemd timer, and a test email for the SMTP set-up."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from notifications.ledger import DUE_SOON, HOLD_READY, RENEWABLE
from notifications.mail import MailError, SmtpMailer, mail_enabled
from notifications.notices import KINDS, NoticeRun
from notifications.render import render_mail

notices_cli = AppGroup("notices", help="Email notices: hold ready for pickup, due-date reminders, renewal open, "
                       "series volumes reserved, and a test email.")

ONLY = {"hold-ready": (HOLD_READY,), "due-date": (DUE_SOON,), "renewal-open": (RENEWABLE,), "all": KINDS}


@notices_cli.command("run")
@click.option("--only", type=click.Choice(sorted(ONLY)), default="all", show_default=True,
              help="Send only one kind of notice.")
def run_command(only: str) -> None:
    """Send every notice due now, each once (safe to run again, or twice at the same time).

    Prints one summary line; exits with status 1 if any patron or notice failed (cron mails that).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not mail_enabled(app.config):
        summary = NoticeRun(app, kinds=()).run()  # series queues still advance
        click.echo(summary.line())
        raise click.ClickException("MAIL_HOST is empty: this portal sends no email")
    summary = NoticeRun(app, kinds=ONLY[only]).run()
    click.echo(summary.line())
    if summary.errors:
        sys.exit(1)


@notices_cli.command("test-email")
@click.argument("address")
@click.option("--language", type=click.Choice(["ja", "en"]), default=None, help="Default: the library's first language.")
def test_email_command(address: str, language: str | None) -> None:
    """Send a test email to ADDRESS through the configured SMTP server."""
    config = current_app.config
    if not mail_enabled(config):
        raise click.ClickException("MAIL_HOST is empty: this portal sends no email")
    mail = render_mail("test", language, smtp=f"{config['MAIL_HOST']}:{config['MAIL_PORT']}")
    mailer = SmtpMailer(config)
    try:
        mailer.send(mail.message(address, automatic=False))
    except MailError as exc:
        raise click.ClickException(f"not sent: {exc}") from exc
    finally:
        mailer.close()
    security = "SSL" if config.get("MAIL_SSL") else "STARTTLS" if config.get("MAIL_STARTTLS") else "plain"
    click.echo(f"Test email sent to {address} through {config['MAIL_HOST']}:{config['MAIL_PORT']} ({security}).")

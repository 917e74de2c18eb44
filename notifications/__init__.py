"""Email: the SMTP connection, the mail templates, the background outbox, and the notices that
``flask notices run`` sends (reserved book ready for pickup, books due soon) exactly once.

- ``mail`` — building a message and sending it over SMTP (MAIL_* settings).
- ``render`` — a mail's subject, plain text and HTML in the patron's language, and absolute links.
- ``outbox`` — mail sent from a page goes out on a background thread, after the response.
- ``tokens`` — the signed email-confirmation links and the single-use password-reset links.
- ``ledger`` — the table that makes each notice go out once, even with overlapping or crashed runs.
- ``notices`` — one notice run: who gets what, with bounded concurrency toward the ILS.
- ``cli`` — ``flask notices run`` and ``flask notices test-email ADDRESS``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from notifications.cli import notices_cli

    app.cli.add_command(notices_cli)

"""Secrets in URLs never reach a log line: the password-reset, email-confirmation and calendar-feed
tokens are in the path of their routes, and whoever reads a logged reset path could use it.

``redact`` replaces the token of those routes wherever a path shows up in a line; ``RedactSecrets``
is a logging filter doing it for every record, installed on gunicorn's access and error logs
(deploy/gunicorn.conf.py), on the Werkzeug development server's log and on the portal's own
handlers (app.configure_logging); the portal's error handlers also log paths redacted. Nothing
here imports Flask, so gunicorn's master process can load it. tests/views/test_redaction.py checks
that every route with a ``<token>`` is covered here.
"""

from __future__ import annotations

import logging
import re

# The path prefixes of the routes whose <token> is a secret (reset.reset_password, email.confirm,
# calendar.feed). Their tokens are URL-safe base64 with "." between signed parts (or hex), perhaps
# percent-encoded: everything of those characters after the prefix goes ("/calendar/[token]" loses
# its ".ics" too).
SECRET_PATH_PREFIXES = ("/password/reset/", "/email/confirm/", "/calendar/")
_SECRET = re.compile("(" + "|".join(map(re.escape, SECRET_PATH_PREFIXES)) + r")[A-Za-z0-9_.~%=+-]+")
REDACTED = "[token]"


def redact(text: str) -> str:
    """``text`` with the token of every secret route's path in it replaced."""
    return _SECRET.sub(r"\1" + REDACTED, text) if "/" in text else text


class RedactSecrets(logging.Filter):
    """Put the message in its final form, redacted (a filter sees each record before any handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install(*loggers: logging.Logger | logging.Handler) -> None:
    """Add the filter to these loggers or handlers, once."""
    for target in loggers:
        if not any(isinstance(existing, RedactSecrets) for existing in target.filters):
            target.addFilter(RedactSecrets())

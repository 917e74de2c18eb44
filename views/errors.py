"""Calm pages for everything that goes wrong: the ILS down, a missing page, an expired form.

The patron sees a short explanation and a way on; the log gets the detail (never a password).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Flask, render_template, request
from flask_babel import format_time
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound

from adapters.errors import IlsError, IlsUnavailable, NotSupported, RecordNotFound, Refused
from extensions import limiter
from views.redaction import redact

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: (_l("Something in the request was not right"), _l("Please go back and try again.")),
    403: (_l("Not allowed"), _l("You cannot open this page.")),
    404: (_l("Page not found"), _l("The page or book you asked for does not exist.")),
    405: (_l("Not allowed"), _l("Please use the buttons on the page.")),
    413: (_l("Too much data"), _l("Please send less at once.")),
    429: (_l("Too many attempts"), _l("Please try again later.")),
}


def render_error(status: int, title, detail):
    return render_template("errors/error.html", title=title, detail=detail, status=status), status


def retry_time() -> str | None:
    """When the rate limit this request broke lets it through again: a time of day, in the library's zone."""
    breached = limiter.current_limit
    if breached is None or not breached.breached:
        return None
    return format_time(datetime.fromtimestamp(breached.reset_at, UTC), "HH:mm")


def handle_http_error(error: HTTPException):
    if error.code == 429:
        # The wait is the limit's own: an hourly limit must not say "a few minutes".
        until = retry_time()
        if request.endpoint == "auth.login":
            log.warning("login throttled on %s", request.remote_addr)
            if until is not None:
                return render_error(429, _l("Too many attempts"), _(
                    "Logins for this card or from this computer are paused after repeated failures. "
                    "Please try again after %(time)s, or contact the library.", time=until))
        elif until is not None:
            return render_error(429, _l("Too many attempts"), _("Please try again after %(time)s.", time=until))
    title, detail = HTTP_MESSAGES.get(error.code or 500, (_l("Something went wrong"), _l("Please try again later.")))
    return render_error(error.code or 500, title, detail)


def handle_csrf_error(error: CSRFError):
    log.info("CSRF check failed on %s: %s", redact(request.path), error.description)
    return render_error(400, _l("The form has expired"), _l("Please reload the page and try again."))


def handle_ils_unavailable(error: IlsUnavailable):
    log.warning("ILS unavailable on %s %s: %r", request.method, redact(request.path), error)
    return render_error(
        503,
        _l("The library system is unavailable"),
        _l("The library system is not answering right now. Please try again in a little while."),
    )


def handle_not_supported(error: NotSupported):
    log.info("not supported by this ILS: %s", error.capability)
    return render_error(
        501, _l("Not available online"), _l("This library does not offer this online. Please contact the library.")
    )


def handle_ils_error(error: IlsError):
    if isinstance(error, RecordNotFound):
        return handle_http_error(NotFound())
    if isinstance(error, Refused):
        log.info("ILS refused on %s: %s", redact(request.path), error.reason)
        return render_error(409, _l("The library system refused this request"), _l("Please contact the library."))
    log.error("unexpected ILS error on %s %s", request.method, redact(request.path), exc_info=error)
    return render_error(503, _l("The library system is unavailable"), _l("Please try again later."))


def handle_unexpected(error: Exception):
    log.exception("unhandled error on %s %s", request.method, redact(request.path))
    return render_error(500, _l("Something went wrong"), _l("Please try again later."))


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(IlsUnavailable, handle_ils_unavailable)
    app.register_error_handler(NotSupported, handle_not_supported)
    app.register_error_handler(IlsError, handle_ils_error)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)

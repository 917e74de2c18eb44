"""What every part of the Koha adapter shares: its logger, Koha's numeric ids, and telling a Koha
that is down from one request that failed."""

from __future__ import annotations

import logging

from adapters.errors import IlsUnavailable
from adapters.koha.client import RETRY_STATUSES, KohaServerError

#: One logger for the whole adapter, under the name it had while the adapter was the single module
#: adapters/koha/adapter.py, so that a deployment's logging configuration for it still applies.
log = logging.getLogger("adapters.koha.adapter")


def numeric_id(value: str | int | None) -> str | None:
    """``value`` as a Koha id (ASCII digits, at most 18), safe to put in a URL path; None if it is not one."""
    text = str(value if value is not None else "").strip()
    return text if text.isascii() and text.isdigit() and len(text) <= 18 else None


def koha_is_down(error: IlsUnavailable) -> bool:
    """Whether Koha itself is down (no answer, 502/503/504), not just failing on one request (500).

    A batch (renewals, cancellations) stops asking Koha once it is down, and answers the rest
    ``Reason.UNAVAILABLE`` without a request each."""
    return not isinstance(error, KohaServerError) or error.status in RETRY_STATUSES

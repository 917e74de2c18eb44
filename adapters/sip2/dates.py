"""SIP2 date handling: the strict 18-char form for sending, best-effort parsing for reading.

The fixed date fields and BW/CJ/CM are ``YYYYMMDDZZZZHHMMSS``, where ZZZZ is four blanks for
ACS-local time or ends in a zone letter (``   Z`` = UTC). The AH due date is free-format
(README §2.2): Evergreen and FOLIO send the 18-char form, Koha ``YYYYMMDD    235900``, and a
real ACS quoted by php-sip2 sent ``5/23/2008,23:59``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_SIP_DATETIME = re.compile(r"(?P<date>[0-9]{8})(?P<zone>[ A-Z]{0,4})(?P<time>[0-9]{6})?\s*$")
_ISO_DATE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?:[T ,].*)?$")
_SLASHED = re.compile(r"(?P<a>[0-9]{1,4})[/.](?P<b>[0-9]{1,2})[/.](?P<c>[0-9]{2,4})(?:[T ,;].*)?$")


def format_sip_datetime(moment: datetime) -> str:
    """Render ``moment`` as the 18-char SIP2 form.

    Naive datetimes are taken as ACS-local time and get four blanks (the spec's preferred
    form); aware ones are converted to UTC and marked ``   Z``.
    """
    if moment.tzinfo is None:
        zone = "    "
    else:
        moment = moment.astimezone(UTC)
        zone = "   Z"
    return f"{moment:%Y%m%d}{zone}{moment:%H%M%S}"


def parse_sip_datetime(raw: str | None) -> datetime | None:
    """Parse the 18-char form to a datetime: naive for local time, UTC-aware for ``Z``.

    Other zone letters are returned naive (their offsets are site conventions). Blank,
    all-zero (``000000000000000000`` = "unsupported" in 98) and malformed values give None.
    """
    if not raw:
        return None
    text = raw.strip("\r\n")
    match = _SIP_DATETIME.match(text)
    if match is None or match.group("time") is None:
        return None
    try:
        moment = datetime.strptime(match.group("date") + match.group("time"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if match.group("zone").endswith("Z"):
        moment = moment.replace(tzinfo=UTC)
    return moment


def parse_sip_date(raw: str | None) -> date | None:
    """Best-effort calendar date from a free-format SIP2 date (mostly AH due dates).

    Understood: the 18-char form (also with too few blanks, or date only), ISO
    ``YYYY-MM-DD[...]``, ``YYYY/MM/DD``, and slashed or dotted day-month orders. For
    ``a/b/yyyy`` the US order month/day is assumed, as SIP2 and its ACSs are of US origin,
    unless the first number cannot be a month (``23/05/2008``); dotted ``d.m.yyyy`` is read
    day-first as in Europe. Anything else gives None: callers must keep and show the raw
    text.
    """
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    match = _SIP_DATETIME.match(text)
    if match is not None:
        return _safe_date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    match = _ISO_DATE.match(text)
    if match is not None:
        return _safe_date(int(match["y"]), int(match["m"]), int(match["d"]))
    match = _SLASHED.match(text)
    if match is None:
        return None
    first, second, third = match["a"], match["b"], match["c"]
    if len(first) == 4:
        return _safe_date(int(first), int(second), int(third))
    if len(third) != 4:
        return None  # two-digit years are too ambiguous to guess
    year, a, b = int(third), int(first), int(second)
    day_first = "." in text[: match.end("b")] or a > 12
    month, day = (b, a) if day_first else (a, b)
    return _safe_date(year, month, day)


def _safe_date(year: int, month: int, day: int) -> date | None:
    if year == 0:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None

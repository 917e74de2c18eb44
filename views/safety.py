"""Small guards shared by views."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import url_for

# C0 controls, DEL and the C1 controls: a CR or LF would split the Location header (Werkzeug then
# refuses the whole response: a 500), and none belongs in a path of this site.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_next_url(target: str | None, default_endpoint: str = "account.menu") -> str:
    """Only a path on this site may be a redirect target (no open redirect to another host, no control
    characters); anything else gives the default page."""
    if target and not _CONTROL.search(target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
    return url_for(default_endpoint)

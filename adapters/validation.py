"""Cleaning what a patron types before it goes anywhere near an ILS.

Library cards are printed with hyphens and spaces ("1234-5678-90") and phones type full-width
digits; the seed guide tells patrons to leave the hyphens out, and we simply accept them.
Control characters and SIP2's field delimiter never pass: they could forge a protocol field.
"""

from __future__ import annotations

import re
import unicodedata

from adapters.errors import InvalidInput

CARD_NUMBER_MAX = 32
PASSWORD_MAX = 128
# Hyphen-like characters a phone keyboard or a copied card number may contain.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－﹣]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def normalize_card_number(raw: str) -> str:
    """Return the card number as the ILS knows it: NFKC (full-width to ASCII), separators removed,
    the letters in the case the patron typed them: Evergreen user names and barcodes and Koha
    ``userid``s are case-sensitive (``djfiander`` is not ``DJFIANDER``), so only the ILS may fold case.

    Raises InvalidInput for anything else: control characters, ``|``, or an overlong value.
    """
    value = unicodedata.normalize("NFKC", raw or "").strip()
    check_safe_text(value, CARD_NUMBER_MAX)
    value = _SEPARATORS.sub("", value)
    if not value or not value.isascii() or not value.isalnum():
        raise InvalidInput("card number")
    return value


def check_safe_text(value: str, max_length: int, *, allow_delimiter: bool = False) -> str:
    """Refuse control characters, SIP2's ``|`` delimiter (unless allowed) and overlong values.

    Passwords may contain ``|`` (Koha accepts it); the SIP2 codec refuses to send such a value.
    """
    if len(value) > max_length or _CONTROL.search(value) or (not allow_delimiter and "|" in value):
        raise InvalidInput("unsafe text")
    return value


def mask_card_number(card_number: str) -> str:
    """What a log line may say of a card number: its last four characters."""
    return "*" * max(len(card_number) - 4, 0) + card_number[-4:]

"""SIP2 server profiles: how each server fills the messages the portal reads (``SIP2_PROFILE``).

The SIP2 standard leaves much to the server: what its 64's hold list (AS) holds, whether the
lists carry item barcodes or titles, which patron status flags it sets for every patron, how
its replies end. A profile writes down one server's answers, read from its own source code
(adapters/sip2/README.md cites file and commit for each value). Every value can be overridden
by a setting (``SIP2_HOLD_ITEMS``, ``SIP2_UNAVAILABLE_HOLDS``, ``SIP2_HOLD_IDS``, ``SIP2_LOAN_IDS``,
``SIP2_IGNORED_FLAGS``, ``SIP2_ENCODING``, ``SIP2_TERMINATOR``, ``SIP2_ERROR_DETECTION``,
``SIP2_DISABLED_FEATURES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.models import Capability
from adapters.sip2.responses import PATRON_STATUS_FLAGS

#: AS lists only holds ready for pickup (the spec's "hold items": available ones).
AVAILABLE = "available"
#: AS lists every open hold, ready or not.
ALL = "all"
HOLD_ITEMS = (AVAILABLE, ALL)
#: what a 64 list value is: an item barcode (a 17 can look it up, 29/15 can act on it) or a title.
BARCODE = "barcode"
TITLE = "title"
ID_KINDS = (BARCODE, TITLE)


@dataclass(frozen=True)
class Profile:
    """One SIP2 server's dialect.

    ``unavailable_holds``: the 64's CD list holds the open holds not yet available (so a hold in AS
    and not in CD is on the hold shelf). False where CD means something else (FOLIO lists closed
    requests there) and is ignored. ``ignored_flags``: patron status flags the server sets for
    every patron, which therefore say nothing. ``encoding``, ``terminator`` (what the server sends
    by default; Shiori sends it too unless ``SIP2_TERMINATOR`` says otherwise) and
    ``error_detection`` are the server's defaults; ``disabled`` the features it announces in BX
    but does not carry out. ``case_sensitive_ids`` is documentation for ``flask ils check``:
    Shiori always sends a card number in the case the patron typed it.
    """

    name: str
    description: str
    hold_items: str = AVAILABLE
    unavailable_holds: bool = True
    hold_ids: str = BARCODE
    loan_ids: str = BARCODE
    ignored_flags: frozenset[str] = frozenset()
    encoding: str = "utf-8"
    terminator: str = "CR"
    error_detection: bool = True
    disabled: frozenset[Capability] = frozenset()
    case_sensitive_ids: bool | None = None

    def __post_init__(self) -> None:
        if self.hold_items not in HOLD_ITEMS:
            raise ValueError(f"SIP2_HOLD_ITEMS must be one of {', '.join(HOLD_ITEMS)}, not {self.hold_items!r}")
        for name, value in (("SIP2_HOLD_IDS", self.hold_ids), ("SIP2_LOAN_IDS", self.loan_ids)):
            if value not in ID_KINDS:
                raise ValueError(f"{name} must be barcode or title, not {value!r}")
        unknown = self.ignored_flags - set(PATRON_STATUS_FLAGS)
        if unknown:
            raise ValueError(f"SIP2_IGNORED_FLAGS: unknown flag(s) {', '.join(sorted(unknown))} "
                             f"(choose from {', '.join(PATRON_STATUS_FLAGS)})")


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "generic", "the SIP2 2.00 standard: AS lists the holds available for pickup, CD the others, "
            "by item barcode",
        ),
        Profile(
            "koha", "Koha's SIP server: AS lists waiting holds (found W) by barcode, CD the others (a "
            "title-level hold by its record's first copy); replies end in CRLF unless the account says CR",
            terminator="CRLF", case_sensitive_ids=False,
        ),
        Profile(
            "evergreen", "Evergreen's SIP server: AS lists every open hold unless msg64_hold_items_available "
            "is set, CD those not on the shelf at their pickup library; titles unless msg64_hold_datatype / "
            "msg64_summary_datatype are barcode; recall privileges always denied unless "
            "patron_calculate_recal_ok; holds cancelled but not placed",
            hold_items=ALL, hold_ids=TITLE, loan_ids=TITLE, ignored_flags=frozenset({"recall_privileges_denied"}),
            encoding="ascii", disabled=frozenset({Capability.PLACE_HOLD}), case_sensitive_ids=True,
        ),
        Profile(
            "folio", "FOLIO edge-sip2: AS lists every open Hold request by item barcode, CD closed requests "
            "(ignored), its unavailable-holds count is blank; no hold message (BX); IBM850 and no error "
            "detection unless the tenant's config says otherwise",
            hold_items=ALL, unavailable_holds=False, encoding="cp850", error_detection=False,
        ),
    )
}
DEFAULT_PROFILE = "generic"

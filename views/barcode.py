"""The library card's barcode as an SVG, in the symbology the library's own cards use.

The bars come from python-barcode (its tables and check characters for Codabar/NW-7, Code 39 and
Code 128); the SVG is drawn here from its module pattern, because its own SVG writer sizes in
millimetres with an XML prolog: this one scales to the phone's width (a viewBox in modules,
``crispEdges`` so no bar is blurred), and sits inline in the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from barcode import codabar, codex
from barcode.errors import BarcodeError
from markupsafe import Markup

from config.loader import ConfigError

SYMBOLOGIES = ("codabar", "code39", "code128")
CODABAR_GUARDS = frozenset("ABCD")
# Blank modules either side: scanners want at least 10 narrow bars of quiet zone.
QUIET_ZONE = 12
# Bar height in modules: tall enough for a scanner held at an angle to a phone.
HEIGHT = 60


@dataclass(frozen=True)
class CardSymbology:
    """How the library's cards are printed: the symbology, and Codabar's start and stop characters."""

    name: str
    start: str = "A"
    stop: str = "A"

    @classmethod
    def from_config(cls, config) -> CardSymbology | None:
        """The configured symbology, None when CARD_BARCODE is empty; ConfigError for a wrong value."""
        name = str(config.get("CARD_BARCODE") or "").strip().lower().replace("nw-7", "codabar").replace("nw7", "codabar")
        if not name:
            return None
        if name not in SYMBOLOGIES:
            raise ConfigError(f"CARD_BARCODE must be one of {', '.join(SYMBOLOGIES)} or empty, not {name!r}")
        start = str(config.get("CARD_BARCODE_START") or "A").upper()
        stop = str(config.get("CARD_BARCODE_STOP") or "A").upper()
        if name == "codabar" and not {start, stop} <= CODABAR_GUARDS:
            raise ConfigError("CARD_BARCODE_START and CARD_BARCODE_STOP must each be A, B, C or D for Codabar")
        return cls(name, start, stop)

    def modules(self, card_number: str) -> str:
        """The bars as a string of 1 (bar) and 0 (space), one character per module.
        Raises BarcodeError for a number this symbology cannot carry."""
        if self.name == "codabar":
            return codabar.CODABAR(f"{self.start}{card_number}{self.stop}").build()[0]
        if self.name == "code39":  # no check character: library cards are printed without one
            return codex.Code39(card_number, add_checksum=False).build()[0]
        return codex.Code128(card_number).build()[0]

    def svg(self, card_number: str, label: str) -> Markup | None:
        """The barcode as inline SVG (``label`` is its accessible name), or None if it cannot be drawn."""
        try:
            pattern = self.modules(card_number)
        except (BarcodeError, KeyError, ValueError):
            return None
        width = len(pattern) + 2 * QUIET_ZONE
        bars, position = [], 0
        for run in _runs(pattern):
            if run[0] == "1":
                bars.append(f'<rect x="{QUIET_ZONE + position}" y="0" width="{len(run)}" height="{HEIGHT}"/>')
            position += len(run)
        return Markup(  # noqa: S704 (only numbers and the escaped label)
            f'<svg class="card-barcode__svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" '
            f'preserveAspectRatio="none" shape-rendering="crispEdges" role="img" aria-label="{Markup.escape(label)}">'
            f'<rect width="{width}" height="{HEIGHT}" fill="#fff"/><g fill="#000">{"".join(bars)}</g></svg>'
        )


def _runs(pattern: str) -> list[str]:
    """'1100111' -> ['11', '00', '111']."""
    runs: list[str] = []
    for module in pattern:
        if runs and runs[-1][0] == module:
            runs[-1] += module
        else:
            runs.append(module)
    return runs

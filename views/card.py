"""The library card on the phone's screen (/card): the card number as the barcode the library's
scanners read, the digits under it, nothing else competing; one screen per card, the patron's own
and each linked card's. And the web app manifest, so the portal can sit on a home screen.

No service worker is installed, so nothing is kept for offline use: pages are ``no-store``
(views/security.py) because phones and PCs are shared.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from views.barcode import CardSymbology
from views.layout import _localised
from views.linked import acting_card, cards_all

bp = Blueprint("card", __name__)
SYMBOLOGY = "shiori.card_symbology"
# Spaces every four digits make the number easy to read out at the counter.
GROUP = 4


@bp.get("/card")
@login_required
def show():
    symbology: CardSymbology | None = current_app.extensions[SYMBOLOGY]
    if symbology is None:
        abort(404)
    card = acting_card() or abort(404)
    svg = symbology.svg(card.card_number, _("Barcode of card number %(number)s", number=card.card_number))
    return render_template(
        "card/index.html", card=card, svg=svg, cards=cards_all(),
        digits=" ".join(card.card_number[i : i + GROUP] for i in range(0, len(card.card_number), GROUP)),
    )


@bp.get("/manifest.webmanifest")
def manifest():
    """The installable web app's manifest, in the library's first language."""
    config = current_app.config
    language = config["LANGUAGES"][0]
    name = _plain(_localised(config["LIBRARY_NAME"], language, language))
    response = jsonify({
        "name": name,
        "short_name": name[:12],
        "lang": language,
        "start_url": url_for("account.menu"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": config["LIBRARY_COLOURS"]["brand"],
        "icons": [
            {"src": url_for("static", filename=f"icons/icon-{size}.png"), "sizes": f"{size}x{size}",
             "type": "image/png", "purpose": "any"}
            for size in (192, 512)
        ] + [{"src": url_for("static", filename="icons/icon-maskable-512.png"), "sizes": "512x512",
              "type": "image/png", "purpose": "maskable"}],
    })
    response.mimetype = "application/manifest+json"
    response.cache_control.max_age = 3600
    return response


def _plain(text: str) -> str:
    """A config text without its {漢字|よみ} reading marks."""
    return re.sub(r"\{([^|{}]+)\|[^|{}]+\}", r"\1", text)


def init_app(app: Flask) -> None:
    """Read CARD_BARCODE once: a wrong value stops start-up with the valid choices."""
    app.extensions[SYMBOLOGY] = CardSymbology.from_config(app.config)
    app.jinja_env.globals["card_barcode_enabled"] = lambda: app.extensions[SYMBOLOGY] is not None

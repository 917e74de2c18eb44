"""/card (the library card on the phone), the web app manifest and its icons."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from config.loader import ConfigError
from views.barcode import CardSymbology

STATIC = Path(__file__).resolve().parents[2] / "static"


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_card_page_shows_the_barcode_and_the_digits(client, login_as):
    demo = login_as("regular")
    page = text(client.get("/card"))
    assert page.count("<svg") == 1 and 'role="img"' in page
    assert "2000 0000 01" in page
    assert demo.card in page  # in the barcode's accessible name
    assert "site-nav" not in page  # a quiet screen: no menu competing with the barcode


def test_the_card_page_needs_a_login(client):
    response = client.get("/card")
    assert response.status_code == 302 and "/login" in response.location


def test_no_card_page_when_the_library_turns_it_off(app_config, patron):
    from app import create_app
    from tests.conftest import AuthActions

    app_config["CARD_BARCODE"] = ""
    app = create_app(app_config)
    client = app.test_client()
    demo = patron("regular")
    AuthActions(client).login(demo.card, demo.password)
    assert client.get("/card").status_code == 404
    assert 'href="/card"' not in text(client.get("/"))
    app.extensions["shiori.adapter"].close()


@pytest.mark.parametrize("config", [{"CARD_BARCODE": "qr"}, {"CARD_BARCODE": "codabar", "CARD_BARCODE_START": "E"}])
def test_a_wrong_barcode_setting_stops_start_up(config):
    with pytest.raises(ConfigError):
        CardSymbology.from_config(config)


@pytest.mark.parametrize("name", ["codabar", "NW-7", "code39", "code128"])
def test_every_symbology_draws_bars(name):
    symbology = CardSymbology.from_config({"CARD_BARCODE": name, "CARD_BARCODE_START": "B", "CARD_BARCODE_STOP": "D"})
    svg = str(symbology.svg("2000000001", "card"))
    assert len(re.findall(r"<rect x=", svg)) > 20


def test_codabar_uses_the_configured_start_and_stop_characters():
    a = CardSymbology.from_config({"CARD_BARCODE": "codabar", "CARD_BARCODE_START": "A", "CARD_BARCODE_STOP": "A"})
    c = CardSymbology.from_config({"CARD_BARCODE": "codabar", "CARD_BARCODE_START": "C", "CARD_BARCODE_STOP": "C"})
    assert a.modules("1234") != c.modules("1234")


def test_a_number_the_symbology_cannot_carry_gives_no_barcode():
    assert CardSymbology("codabar").svg("12AB34", "card") is None


def test_manifest_makes_the_portal_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert manifest["name"] == "しおり市立図書館"  # the reading marks are not part of the name
    for icon in manifest["icons"]:
        path = STATIC / icon["src"].removeprefix("/static/")
        width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG's IHDR
        assert f"{width}x{height}" == icon["sizes"]
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    assert any(icon["purpose"] == "maskable" for icon in manifest["icons"])


def test_pages_link_the_manifest_and_nothing_is_kept_offline(client, login_as):
    login_as("regular")
    for url in ("/", "/card", "/loans"):
        response = client.get(url)
        assert 'rel="manifest"' in text(response)
        assert response.headers["Cache-Control"] == "no-store"
    assert not list(STATIC.rglob("*worker*.js"))  # no service worker: nothing cached for offline use

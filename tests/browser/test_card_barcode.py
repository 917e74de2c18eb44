"""The card on a phone's screen is read back by an independent barcode reader.

Chromium renders /card at phone size, as a patron would show it; the barcode's pixels go to
zxing-cpp (a reader nobody on this project wrote, unrelated to python-barcode, which drew the
bars), which must find the card number in it, in every symbology the portal offers.
"""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from adapters.demo.seed import BY_CASE

pytestmark = pytest.mark.browser
PHONE = {"width": 375, "height": 667}
SYMBOLOGIES = {
    "codabar-A-A": ({"CARD_BARCODE": "codabar", "CARD_BARCODE_START": "A", "CARD_BARCODE_STOP": "A"},
                    zxingcpp.BarcodeFormat.Codabar, "A{card}A"),
    "codabar-B-D": ({"CARD_BARCODE": "NW-7", "CARD_BARCODE_START": "B", "CARD_BARCODE_STOP": "D"},
                    zxingcpp.BarcodeFormat.Codabar, "B{card}D"),
    "code39": ({"CARD_BARCODE": "code39"}, zxingcpp.BarcodeFormat.Code39, "{card}"),
    "code128": ({"CARD_BARCODE": "code128"}, zxingcpp.BarcodeFormat.Code128, "{card}"),
}


@pytest.fixture
def app_config(app_config, request):
    app_config.update(SYMBOLOGIES[request.param][0])
    return app_config


def decode(png: bytes, barcode_format) -> list[str]:
    """Every barcode of this format zxing-cpp finds in the picture, as text (start/stop included)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(image, formats=barcode_format)]


@pytest.mark.parametrize("scale", [2, 3])
@pytest.mark.parametrize("app_config", list(SYMBOLOGIES), indirect=True)
def test_a_reader_gets_the_card_number_back_from_the_phone_screen(browser, live_server, screenshot, app_config,
                                                                  request, scale):
    name = request.node.callspec.params["app_config"]
    _config, barcode_format, expected = SYMBOLOGIES[name]
    demo = BY_CASE["regular"]
    context = browser.new_context(viewport=PHONE, device_scale_factor=scale, locale="ja-JP")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.locator("#card_number").fill(demo.card)
    page.locator("#password").fill(demo.password)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/card")
    barcode = page.locator(".card-barcode")
    found = decode(barcode.screenshot(), barcode_format)
    screenshot(page, f"card-{name}-x{scale}")
    assert found == [expected.format(card=demo.card)]
    assert page.locator(".card-screen__number").inner_text().replace(" ", "") == demo.card
    context.close()

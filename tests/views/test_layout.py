"""Library branding from configuration: name, logo, colours, contact text, home page and OPAC links."""

from __future__ import annotations

import pytest

from app import create_app
from config.loader import ConfigError
from views.layout import contrast_with_white


def test_branding_from_config_in_both_languages(app_config, monkeypatch):
    monkeypatch.setenv("PORTAL_LIBRARY_COLOURS", '{"brand": "#7a1f3d", "brand_dark": "#4d1326"}')
    app_config.update(
        LIBRARY_NAME={"ja": "{奄美|あまみ}{図書館|としょかん}", "en": "Amami Library"},
        LIBRARY_CONTACT={"ja": "{電話|でんわ} 0997-00-0000", "en": "Call 0997-00-0000"},
        LIBRARY_LOGO="img/amami.png",
        LIBRARY_HOME_URL="https://library.example.jp/",
        LIBRARY_OPAC_URL="https://opac.example.jp/",
    )
    client = create_app(app_config).test_client()
    ja = client.get("/login").get_data(as_text=True)
    assert "奄美図書館" in ja and "{" not in ja
    assert 'href="https://library.example.jp/"' in ja and 'href="https://opac.example.jp/"' in ja
    assert 'src="/static/img/amami.png"' in ja
    assert "電話 0997-00-0000" in ja
    en = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Amami Library" in en and "Call 0997-00-0000" in en
    css = client.get("/branding.css")
    assert css.mimetype == "text/css"
    assert "--brand: #7a1f3d" in css.get_data(as_text=True)


@pytest.mark.parametrize("colour", ["#ffcc00", "red", "#12345", "#1f5f8b; } body { display: none"])
def test_colours_that_are_malformed_or_too_light_stop_start_up(app_config, colour):
    app_config["LIBRARY_COLOURS"] = {"brand": colour, "brand_dark": "#164766"}
    with pytest.raises(ConfigError, match="LIBRARY_COLOURS"):
        create_app(app_config)


def test_contrast_ratio_matches_wcag():
    assert round(contrast_with_white("#000000"), 1) == 21.0
    assert round(contrast_with_white("#767676"), 1) == 4.5
    assert round(contrast_with_white("#ffffff"), 1) == 1.0

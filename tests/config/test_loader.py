"""Layered configuration and the adapter registry."""

from __future__ import annotations

import textwrap

import pytest

from adapters.registry import UnknownAdapter, available_adapters
from app import create_app
from config.loader import ConfigError, write_instance_file


def test_missing_secret_key_stops_start_up(app_config):
    app_config["SECRET_KEY"] = ""
    with pytest.raises(ConfigError, match="config.init"):
        create_app(app_config)


def test_unknown_adapter_lists_the_valid_choices(app_config):
    app_config["ADAPTER"] = "folio-magic"
    with pytest.raises(UnknownAdapter) as excinfo:
        create_app(app_config)
    for name in ("demo", "sip2", "koha"):
        assert name in str(excinfo.value)


def test_layers_apply_in_order(app_config, tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "portal.cfg").write_text("IDLE_TIMEOUT_MINUTES = 5\nDUE_SOON_DAYS = 4\nSEARCH_PAGE_SIZE = 7\n")
    monkeypatch.setenv("PORTAL_DUE_SOON_DAYS", "2")
    monkeypatch.setenv("PORTAL_SEARCH_PAGE_SIZE", "9")
    app_config["SEARCH_PAGE_SIZE"] = 11
    app = create_app(app_config)
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 5  # instance file over default
    assert app.config["DUE_SOON_DAYS"] == 2  # environment over instance file, parsed as JSON
    assert app.config["SEARCH_PAGE_SIZE"] == 11  # create_app's mapping over everything


def test_init_writes_a_secret_once(tmp_path):
    written = write_instance_file(str(tmp_path / "inst"))
    assert written is not None
    first = written.read_text()
    assert "SECRET_KEY = '" in first and len(first) > 60
    assert write_instance_file(str(tmp_path / "inst")) is None
    assert written.read_text() == first


def test_a_plugin_adapter_is_found_through_its_entry_point(app_config, tmp_path, monkeypatch):
    """A library's own package adds an adapter with no change to Shiori: install one for real."""
    site = tmp_path / "site"
    package = site / "mylibrary_ils"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from adapters.base import IlsAdapter
            from adapters.models import Patron

            class MyLibraryAdapter(IlsAdapter):
                name = "mylibrary"

                @classmethod
                def from_config(cls, config):
                    adapter = cls()
                    adapter.greeting = config.get("MYLIBRARY_GREETING")
                    return adapter

                def authenticate(self, card_number, password):
                    return Patron(key=card_number, card_number=card_number, display_name="x")

                def patron(self, patron_key):
                    return Patron(key=patron_key, card_number=patron_key, display_name="x")

                def loans(self, patron_key):
                    return []
            """
        )
    )
    dist = site / "mylibrary_ils-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mylibrary-ils\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[shiori.adapters]\nmylibrary = mylibrary_ils:MyLibraryAdapter\n")
    monkeypatch.syspath_prepend(str(site))

    assert "mylibrary" in available_adapters()
    app_config.update(ADAPTER="mylibrary", MYLIBRARY_GREETING="hello")
    app = create_app(app_config)
    adapter = app.extensions["shiori.adapter"].inner  # behind the circuit breaker
    assert type(adapter).__name__ == "MyLibraryAdapter"
    assert adapter.greeting == "hello"

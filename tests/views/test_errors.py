"""A library system that is down or slow gets a calm 503 page and a log line, never a 500."""

from __future__ import annotations

import logging

import pytest

from adapters.errors import IlsUnavailable


def fail(*args, **kwargs):
    raise IlsUnavailable("connection refused by 127.0.0.1:6001")


@pytest.mark.parametrize("operation, url", [("loans", "/loans"), ("holds", "/holds"), ("account_summary", "/")])
def test_ils_down_on_a_page_gives_a_calm_503(client, login_as, adapter, monkeypatch, caplog, operation, url):
    login_as("regular")
    monkeypatch.setattr(adapter, operation, fail)
    with caplog.at_level(logging.WARNING):
        response = client.get(url)
    assert response.status_code == 503
    assert "図書館のシステムが利用できません" in response.get_data(as_text=True)
    assert any("ILS unavailable" in record.getMessage() for record in caplog.records)


def test_ils_down_at_login_gives_a_calm_503_without_the_password_in_the_log(auth, adapter, monkeypatch, caplog):
    monkeypatch.setattr(adapter, "authenticate", fail)
    with caplog.at_level(logging.DEBUG):
        response = auth.login("2000000001", "yamada2024")
    assert response.status_code == 503
    assert "yamada2024" not in caplog.text


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "ページが見つかりません" in response.get_data(as_text=True)

"""Page-test helpers: the demo's patrons by case, and the app's adapter."""

from __future__ import annotations

import pytest

from adapters.demo.seed import BY_CASE


@pytest.fixture
def adapter(app):
    return app.extensions["shiori.adapter"]


@pytest.fixture
def patron():
    """``patron("regular")`` -> the demo patron (card, password, key) showing that case."""
    return BY_CASE.__getitem__


@pytest.fixture
def login_as(auth, patron):
    def login(case: str):
        demo = patron(case)
        response = auth.login(demo.card, demo.password)
        assert response.status_code == 302, response.get_data(as_text=True)
        return demo

    return login

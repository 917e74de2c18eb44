"""Security headers, and the probes a load balancer uses."""

from __future__ import annotations

from adapters.errors import IlsUnavailable


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here


def test_hsts_is_sent_behind_tls(client):
    response = client.get("/login", base_url="https://portal.example.jp")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_inline_script_or_style_in_any_page(client, login_as):
    login_as("regular")
    for url in ["/", "/loans", "/holds", "/settings", "/search?q=a", "/records/R0001"]:
        page = client.get(url).get_data(as_text=True)
        assert "<script" not in page and "<style" not in page and " style=" not in page, url


def test_session_cookie_is_httponly_and_samesite(auth, patron):
    regular = patron("regular")
    response = auth.login(regular.card, regular.password)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_healthz_answers_while_the_ils_is_down(client, adapter, monkeypatch):
    def down():
        raise IlsUnavailable("down")

    monkeypatch.setattr(adapter, "check_ready", down)
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"ils": "unavailable", "store": "ok"}


def test_readyz_when_all_is_well(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_metrics_count_requests_and_ils_calls(client, login_as):
    login_as("regular")
    client.get("/loans")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'shiori_request_seconds_count{endpoint="account.loans",method="GET",status="200"}' in body
    assert 'shiori_ils_call_seconds_count{operation="loans"}' in body
    assert 'shiori_ils_call_seconds_count{operation="authenticate"}' in body

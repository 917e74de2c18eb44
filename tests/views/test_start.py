"""The start page a visitor sees at / (seed guide steps 1 and 2)."""

from __future__ import annotations


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_visitor_gets_the_start_page_not_an_error(client):
    response = client.get("/")
    page = text(response)
    assert response.status_code == 200
    assert 'href="/login"' in page and 'href="/password/forgot"' in page
    assert "flash" not in page  # no "Please log in to see this page"
    assert "8" in page  # the password rules, from the policy


def test_the_start_page_in_the_librarys_words_per_language(app_config):
    from app import create_app

    app_config["START_PAGE_TEXT"] = {"ja": "{当館|とうかん}のページです。\n\n二段落目。", "en": "Our own words."}
    app = create_app(app_config)
    client = app.test_client()
    page = text(client.get("/"))
    assert "<p>当館のページです。</p>" in page and "<p>二段落目。</p>" in page
    english = text(client.get("/", headers={"Accept-Language": "en"}))
    assert "Our own words." in english
    app.extensions["shiori.adapter"].close()


def test_a_logged_in_patron_gets_the_menu(client, login_as):
    demo = login_as("regular")
    page = text(client.get("/"))
    assert demo.name in page and 'href="/loans"' in page


def test_other_pages_still_ask_a_visitor_to_log_in(client):
    response = client.get("/loans")
    assert response.status_code == 302 and "/login" in response.location

"""Furigana mode: curated readings over every kanji of the Japanese UI, switchable before login."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from views.furigana import KANJI, READINGS_FILE, Readings

RUBY = re.compile(r"<ruby>.*?</ruby>", re.DOTALL)


def kanji_left_bare(html: str) -> set[str]:
    return set(KANJI.findall(RUBY.sub("", html)))


def test_every_kanji_in_the_japanese_catalogue_has_a_curated_reading():
    readings = Readings.parse(READINGS_FILE.read_text(encoding="utf-8"))
    with open("translations/ja/LC_MESSAGES/messages.po", "rb") as handle:
        catalogue = read_po(handle)
    missing = {}
    for message in catalogue:
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for string in filter(None, strings):
            bare = kanji_left_bare(readings.annotate(string))
            if bare:
                missing[string] = bare
    assert missing == {}


def test_context_decides_the_reading():
    readings = Readings.parse("{中|ちゅう}\n{中|なか}に\n{取|と}り\n{消|け}し\n{予約|よやく}\n{予約日|よやくび}")
    assert "なか" in readings.annotate("リストの中に") and "ちゅう" in readings.annotate("予約中")
    assert readings.annotate("予約日") == '<ruby>予約日<rt aria-hidden="true">よやくび</rt></ruby>'
    assert readings.annotate("取り消し").count("<ruby>") == 2


def test_escaped_text_stays_escaped():
    readings = Readings.parse("{予約|よやく}")
    assert readings.annotate("&lt;script&gt;予約") == '&lt;script&gt;<ruby>予約<rt aria-hidden="true">よやく</rt></ruby>'


def switch(auth, page: str, value: str):
    return auth.post_form(page, "/furigana", {"furigana": value, "next": page})


def text(response) -> str:
    return response.get_data(as_text=True)


def test_switch_before_login_puts_readings_on_every_kanji_of_the_page(auth, client):
    assert "<ruby>" not in text(client.get("/login"))
    assert switch(auth, "/login", "on").location == "/login"
    page = text(client.get("/login"))
    main = page.split('<main id="main"')[1].split("</main>")[0]
    assert '<ruby>図書館<rt aria-hidden="true">としょかん</rt></ruby>' in main
    labels = re.findall(r'<label[^>]*>(.*?)</label>', main, re.DOTALL)
    assert labels and all(not kanji_left_bare(label) for label in labels)
    assert "<ruby>" not in page.split("<title>")[1].split("</title>")[0]
    switch(auth, "/login", "off")
    assert "<ruby>" not in text(client.get("/login"))


@pytest.mark.parametrize("url", ["/", "/loans", "/holds", "/settings", "/search?q=%E6%BC%B1%E7%9F%B3", "/settings/password"])
def test_account_pages_in_furigana_mode_leave_no_ui_kanji_bare(auth, client, login_as, url):
    login_as("hold-ready")
    switch(auth, "/", "on")
    page = text(client.get(url))
    main = page.split('<main id="main"')[1].split("</main>")[0]
    # Book titles, authors and branch names come from the ILS; everything else is the portal's own.
    for data in re.findall(r'class="(?:item__title|item__author|item__meta)"[^>]*>[^<]*<', main):
        main = main.replace(data, "")
    for facts in re.findall(r"<dd>[^<]*</dd>", main):
        main = main.replace(facts, "")
    main = re.sub(r"<option[^>]*>[^<]*</option>", "", main)
    main = re.sub(r'<h1>[^<]*さん、', "<h1>", main)  # the patron's own name
    assert kanji_left_bare(re.sub(r'value="[^"]*"', "", main)) == set()


def test_the_choice_is_saved_for_a_logged_in_patron(auth, client, login_as):
    login_as("regular")
    switch(auth, "/", "on")
    auth.logout()
    with client.session_transaction() as session:
        session.pop("furigana", None)
    login_as("regular")
    assert "<ruby>" in text(client.get("/"))


def test_english_pages_never_get_readings(auth, client):
    switch(auth, "/login", "on")
    auth.post_form("/login", "/language", {"language": "en", "next": "/login"})
    page = text(client.get("/login"))
    assert "<ruby>" not in page and "Library card number" in page
    assert 'action="/furigana"' not in page  # the switch is offered with Japanese only

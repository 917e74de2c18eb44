"""Japanese is the first language: every UI string has a Japanese translation with the same placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_the_catalogue_template_is_up_to_date(tmp_path):
    """Every string in the code is in messages.pot (run pybabel extract if this fails)."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-o", str(fresh), "--no-location", "--sort-output", "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with fresh.open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    with (ROOT / "translations" / "messages.pot").open("rb") as handle:
        committed = {message.id for message in read_po(handle) if message.id}
    assert extracted - committed == set()


def test_every_message_has_a_japanese_translation_with_the_same_placeholders():
    with (ROOT / "translations" / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if not all(strings) or "fuzzy" in message.flags:
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert problems == []

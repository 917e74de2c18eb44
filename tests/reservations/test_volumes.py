"""Volume labels as Japanese and English libraries catalogue them, in reading order."""

from __future__ import annotations

import pytest

from adapters.volumes import volume, volume_number


@pytest.mark.parametrize(("label", "number"), [
    ("上", 1), ("中", 2), ("下", 3), ("前編", 1), ("後編", 2), ("一", 1), ("八", 8), ("十", 10), ("十二", 12),
    ("二十三", 23), ("BOOK2", 2), ("第3巻", 3), ("３", 3), ("v. 10", 10),
])
def test_labels_give_their_order(label, number):
    assert volume_number(label) == number


def test_no_position_no_volume():
    assert volume_number("") is None and volume_number("special edition") is None
    assert volume("1Q84", None) is None and volume(None, "BOOK1") is None
    assert volume(" 1Q84 ", "BOOK1 ").label == "BOOK1"


def test_upper_middle_lower_sort_in_order():
    labels = ["下", "上", "中"]
    assert sorted(labels, key=volume_number) == ["上", "中", "下"]

"""Codec tests: the shared vectors, strict encoding, lenient decoding, encodings, unsafe values."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.sip2.codec import (
    Message,
    check_encoding,
    check_field_value,
    checksum,
    checksum_verdict,
    decode_message,
    encode_message,
)
from adapters.sip2.errors import Sip2ChecksumError, Sip2ProtocolError, UnsafeFieldValue
from adapters.sip2.layouts import FIXED_LAYOUTS
from adapters.sip2.responses import PARSERS, parse_response
from tests.adapters.sip2.vectors import load_vectors

VECTORS = load_vectors()
ENCODINGS = ["utf-8", "cp850", "ascii", "shift_jis", "cp932"]
NOW = "20250825    143000"


def item_info_message(*fields: tuple[str, str]) -> Message:
    fixed = {"circulation_status": "03", "security_marker": "00", "fee_type": "01", "transaction_date": NOW}
    return Message("18", fixed, tuple(fields))


# -- the shared vectors ---------------------------------------------------------------------


def test_loader_finds_all_120_vectors_byte_exact():
    assert len(VECTORS) == 120
    assert [v for v in VECTORS if len(v.text) != v.declared_length] == []


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_vector_checksum_verdict_reproduced(vector):
    frame = vector.text.encode("utf-8")
    assert checksum_verdict(frame) == vector.verdict
    if vector.correct_checksum is not None:
        prefix = frame[: frame.rindex(b"AZ") + 2]
        assert checksum(prefix) == vector.correct_checksum


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_vector_parses_leniently_and_strictly_by_verdict(vector):
    frame = vector.text.encode("utf-8")
    message = decode_message(frame, "utf-8", verify_checksum=False)
    assert message.command == vector.text[:2]
    assert len(message.fixed) == len(FIXED_LAYOUTS[message.command])
    if message.command in PARSERS:
        parse_response(message)
    if vector.verdict == "mismatch":
        with pytest.raises(Sip2ChecksumError):
            decode_message(frame, "utf-8")
    else:
        assert decode_message(frame, "utf-8") == message


def test_worked_examples_from_the_readme():
    assert checksum(b"97AZ") == "FEF5"
    assert checksum(b"96AZ") == "FEF6"
    assert checksum(b"9300CNscclient|COclientpwd|CPCIRC|AY0AZ") == "F265"
    assert int(checksum(b"12345"), 16) == 65281  # Koha t/SIP/Sip.t
    assert int(checksum(b"teststring"), 16) == 64425
    text = "Café"
    assert checksum(text.encode("utf-8")) != checksum(text.encode("cp850"))


# -- strict encoding ------------------------------------------------------------------------


def test_every_identified_field_ends_with_delimiter_and_checksum_is_upper_hex():
    message = item_info_message(("AB", "1"), ("AJ", ""), ("AF", "one"), ("AF", "two"))
    frame = encode_message(message, "ascii", sequence=7)
    assert frame == b"1803000120250825    143000AB1|AJ|AFone|AFtwo|AY7AZ" + checksum(frame[:-4]).encode()
    assert re.fullmatch(rb".*\|AY7AZ[0-9A-F]{4}", frame)
    assert encode_message(message, "ascii", error_detection=False).endswith(b"AFtwo|")


def test_resend_requests_carry_no_sequence():
    assert encode_message(Message("97"), "ascii") == b"97AZFEF5"
    assert encode_message(Message("97"), "ascii", error_detection=False) == b"97"


@pytest.mark.parametrize(
    ("fixed", "problem"),
    [
        ({"transaction_date": " " * 18}, "blank"),
        ({"transaction_date": "20250825143000"}, "18"),
        ({"transaction_date": "2025-08-25 14:30:00"}, "18"),
        ({"when": NOW}, "fixed fields"),
    ],
)
def test_malformed_fixed_fields_are_not_sent(fixed, problem):
    with pytest.raises(ValueError, match=problem):
        encode_message(Message("17", fixed, (("AO", "LIB"), ("AB", "1"))), "ascii", sequence=0)


def test_sequence_number_is_required_and_single_digit_with_error_detection():
    message = Message("17", {"transaction_date": NOW}, (("AO", "LIB"), ("AB", "1")))
    for sequence in (None, 10, -1):
        with pytest.raises(ValueError, match="sequence"):
            encode_message(message, "ascii", sequence=sequence)


@pytest.mark.parametrize("field_id", ["AY", "AZ", "a1", "A", "ABC"])
def test_reserved_or_malformed_field_ids_are_not_sent(field_id):
    with pytest.raises(ValueError, match="field id"):
        encode_message(item_info_message((field_id, "x")), "ascii", sequence=0)


# -- lenient decoding -----------------------------------------------------------------------


def test_missing_final_delimiter_empty_values_and_unknown_ids():
    frame = b"64  Y           00020100623    141130000000000000000000000000AA999999|AE|PBx|XI|AUa|AUb|BON"
    message = decode_message(frame, "ascii")
    assert message.fields == (
        ("AA", "999999"),
        ("AE", ""),
        ("PB", "x"),
        ("XI", ""),
        ("AU", "a"),
        ("AU", "b"),
        ("BO", "N"),
    )
    assert message.by_id["AU"] == ["a", "b"]
    assert message.by_id["BO"] == "N"
    assert message.get("AE") == ""
    assert "XI" in message and "ZZ" not in message


def test_lower_case_checksum_is_accepted():
    frame = encode_message(item_info_message(("AB", "1")), "ascii", sequence=3)
    lowered = frame[:-4] + frame[-4:].lower()
    assert lowered != frame
    message = decode_message(lowered, "ascii")
    assert (message.sequence, message.checksum) == (3, frame[-4:].decode())


@pytest.mark.parametrize("wrapping", [b"%s\r", b"%s\r\n", b"\n%s\r", b"\n\n%s\r\n"])
def test_terminators_and_stray_line_feeds_are_ignored(wrapping):
    frame = encode_message(item_info_message(("AB", "1")), "ascii", sequence=1)
    assert decode_message(wrapping % frame, "ascii") == decode_message(frame, "ascii")


def test_stray_delimiter_after_fixed_part_is_skipped():
    message = decode_message(b"15+20201013    093158|AOinst|AApatron|", "ascii")
    assert message.fields == (("AO", "inst"), ("AA", "patron"))


def test_date_a_few_blanks_short_keeps_identified_fields_aligned():
    message = decode_message(b"36Y20080228 145537AOWOHLERS|AAX00000000|", "ascii")
    assert message.fixed["transaction_date"] == "20080228 145537"
    assert message.get("AO") == "WOHLERS"


def test_all_zero_date_time_sync_is_taken_at_full_width():
    message = decode_message(b"98YYYYNN600003000000000000000000" + b"2.00AOLIB|BXYYYYYYYYYYYYYYYY|", "ascii")
    assert message.fixed["date_time_sync"] == "0" * 18
    assert message.fixed["protocol_version"] == "2.00"


def _frame_with_small_checksum() -> bytes:
    """A frame whose checksum is below 0x1000, where unpadded and space-padded forms differ."""
    fields: list[tuple[str, str]] = []
    filler = "z"
    while True:
        prefix = encode_message(item_info_message(*fields), "ascii", sequence=0)[:-4]
        if int(checksum(prefix), 16) < 0x1000:
            return prefix
        fields.append(("AF", filler))
        filler = "z" if len(filler) >= 200 else filler + "z"


@pytest.mark.parametrize("style", ["%X", "%4X"], ids=["unpadded-PyPI-Sip2", "space-padded-php-sip2"])
def test_buggy_checksum_paddings_of_real_clients_verify(style):
    prefix = _frame_with_small_checksum()
    value = int(checksum(prefix), 16)
    frame = prefix + (style % value).encode()
    assert len(frame) < len(prefix) + 4 or b" " in frame[-4:]
    assert checksum_verdict(frame) == "ok"
    assert decode_message(frame, "ascii").checksum == checksum(prefix)


def test_unpadded_tail_that_does_not_verify_is_kept_as_data():
    message = decode_message(b"36Y" + NOW.encode() + b"AOLIB|AAX|AFSee AZ12", "ascii")
    assert message.get("AF") == "See AZ12"
    assert message.checksum is None


@pytest.mark.parametrize(
    "frame",
    [b"", b"9", b"XX", b"\x00\xff\xfe garbage", b"1803", b"64YYYY", b"941|A|"],
    ids=["empty", "one-char", "unknown-command", "binary", "truncated-18", "truncated-64", "one-char-field"],
)
def test_unparseable_frames_raise_protocol_error(frame):
    with pytest.raises(Sip2ProtocolError):
        decode_message(frame, "utf-8")


def test_undecodable_bytes_become_replacement_characters():
    message = decode_message(b"1803000120250825    143000AB1|AJcaf\xe9|", "utf-8")
    assert message.get("AJ") == "caf\ufffd"


# -- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932"])
def test_shift_jis_trail_byte_0x7c_does_not_cut_a_field(encoding):
    title = "ポスター展"  # ポ is 0x83 0x7C: its trail byte is '|'
    body = b"1803000120250825    143000ABbook-1|AJ" + title.encode(encoding) + b"|AQ" + "本館".encode(encoding) + b"|"
    assert body.count(b"|") == 4  # three delimiters plus the one inside ポ
    message = decode_message(body, encoding)
    assert message.fields == (("AB", "book-1"), ("AJ", title), ("AQ", "本館"))


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932"])
def test_shift_jis_round_trip(encoding):
    # ソ (0x83 0x5C) and 表 (0x95 0x5C) have a backslash trail byte; harmless for splitting.
    message = item_info_message(("AB", "1"), ("AJ", "ソフトウェア表"), ("AF", "貸出中"))
    assert decode_message(encode_message(message, encoding, sequence=4), encoding).fields == message.fields


@pytest.mark.parametrize("encoding", ["shift_jis", "cp932"])
def test_sending_a_value_with_a_0x7c_byte_is_refused(encoding):
    # An ACS that splits bytes before decoding (pysip2 does) would cut the field at ポ.
    with pytest.raises(UnsafeFieldValue, match="0x7C"):
        encode_message(item_info_message(("AJ", "ポスター")), encoding, sequence=0)


def test_checksum_is_over_the_encoded_bytes():
    message = item_info_message(("AJ", "Café"))
    utf8, cp850 = encode_message(message, "utf-8", sequence=0), encode_message(message, "cp850", sequence=0)
    assert utf8[-4:] != cp850[-4:]
    assert decode_message(utf8, "utf-8").get("AJ") == decode_message(cp850, "cp850").get("AJ") == "Café"


@pytest.mark.parametrize("encoding", ENCODINGS + ["latin-1", "CP850", "UTF8"])
def test_ascii_compatible_encodings_are_accepted(encoding):
    assert check_encoding(encoding)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "no-such-codec"])
def test_encodings_that_cannot_carry_sip2_are_refused(encoding):
    with pytest.raises(ValueError):
        check_encoding(encoding)


# -- unsafe values --------------------------------------------------------------------------

UNSAFE = ["12|AD0000", "12\r", "12\nAD", "\x00", "\x1b[2J", "tab\there", "\x7f", "nel\x85", "ls\u2028", "x" * 256]


@pytest.mark.parametrize("value", UNSAFE, ids=[repr(v)[:16] for v in UNSAFE])
def test_unsafe_values_are_refused_with_or_without_encoding(value):
    with pytest.raises(UnsafeFieldValue):
        check_field_value("AA", value)
    with pytest.raises(UnsafeFieldValue):
        encode_message(item_info_message(("AB", value)), "utf-8", sequence=0)


@pytest.mark.parametrize(
    ("value", "encoding", "safe"),
    [
        ("x" * 255, "ascii", True),
        ("é" * 255, "cp850", True),  # one byte each in cp850
        ("é" * 128, "utf-8", False),  # 256 bytes in utf-8
        ("é", "ascii", False),
        ("漢字", "cp850", False),
        ("漢字", "cp932", True),
        ("¢", "cp932", False),  # best-fit mapped to fullwidth '￠': the ACS would see another value
    ],
)
def test_length_and_encodability_are_judged_on_encoded_bytes(value, encoding, safe):
    if safe:
        assert check_field_value("AJ", value, encoding) == value
    else:
        with pytest.raises(UnsafeFieldValue):
            check_field_value("AJ", value, encoding)


def test_non_text_values_are_refused():
    with pytest.raises(UnsafeFieldValue, match="not text"):
        check_field_value("AA", 1234)


# -- properties -----------------------------------------------------------------------------


@given(frame=st.binary(max_size=300), encoding=st.sampled_from(ENCODINGS), verify=st.booleans())
def test_random_bytes_raise_only_declared_errors(frame, encoding, verify):
    try:
        message = decode_message(frame, encoding, verify_checksum=verify)
    except Sip2ProtocolError:
        return
    if message.command in PARSERS:
        parse_response(message)


@given(
    command=st.sampled_from(sorted(PARSERS)),
    tail=st.text(alphabet=st.sampled_from("AB|YN0123456789 \r\nZ"), max_size=120),
)
def test_plausible_frames_raise_only_declared_errors(command, tail):
    with contextlib.suppress(Sip2ProtocolError):
        parse_response(decode_message((command + tail).encode(), "ascii"))


@given(
    values=st.lists(st.text(max_size=40), min_size=1, max_size=5),
    encoding=st.sampled_from(ENCODINGS),
    sequence=st.integers(0, 9),
)
def test_safe_values_round_trip_and_unsafe_ones_are_refused(values, encoding, sequence):
    message = item_info_message(*(("AF", value) for value in values))
    try:
        for value in values:
            check_field_value("AF", value, encoding)
    except UnsafeFieldValue:
        with pytest.raises(UnsafeFieldValue):
            encode_message(message, encoding, sequence=sequence)
        return
    frame = encode_message(message, encoding, sequence=sequence)
    assert checksum_verdict(frame) == "ok"
    decoded = decode_message(frame, encoding)
    assert (decoded.fields, decoded.sequence) == (message.fields, sequence)


@given(data=st.data())
def test_any_single_byte_change_is_caught_by_the_checksum(data):
    frame = encode_message(item_info_message(("AB", "item-1"), ("AJ", "A title")), "ascii", sequence=5)
    position = data.draw(st.integers(0, len(frame) - 8))  # inside the body, before AY5AZxxxx
    replacement = data.draw(st.integers(0, 255).filter(lambda byte: byte != frame[position]))
    damaged = frame[:position] + bytes([replacement]) + frame[position + 1 :]
    assert checksum_verdict(damaged) == "mismatch"

"""Property tests (hypothesis) over the codec and the request builders.

test_codec.py already checks random bytes, plausible frames, one checksum flip and 18 replies with
random AF values; test_messages.py checks each builder against published frames and four fixed
unsafe values. What is added here:

* parse(build(m)) == m for every request the builders make (93, 99, 23, 63, 17, 29, 65, 15, 35, 97)
  with random safe values in every argument, and for every response layout (94, 98, 24, 64, 18, 30,
  66, 16, 36, 96 ...) with random fixed fields and random, repeated and unknown identified fields;
  with and without error detection, in every encoding the portal offers;
* no patron-supplied string can add or change a field: random strings with ``|``, CR, LF, other
  control characters, line separators, lone surrogates, text that looks like field ids or an
  AY/AZ trailer, and Shift_JIS characters whose trail byte is ``|`` (0x7C), put in the patron id,
  password, item id or pickup location, are either refused (``UnsafeFieldValue``, nothing built or
  sent) or come back as exactly the fields that were meant, with the same values.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sip2 import builders
from adapters.sip2.codec import Message, check_field_value, decode_message, encode_message
from adapters.sip2.errors import UnsafeFieldValue
from adapters.sip2.layouts import FIXED_LAYOUTS, REPLY_COMMAND, RESEND_COMMANDS
from adapters.sip2.responses import PARSERS, parse_response

ENCODINGS = ["utf-8", "cp850", "ascii", "shift_jis", "cp932", "latin-1"]
REFUSED_CATEGORIES = {"Cc", "Zl", "Zp", "Cs"}

# Characters whose Shift_JIS/CP932 form ends in 0x7C, the delimiter byte (ポ is 0x83 0x7C), and the
# famous 0x5C trail bytes (ソ, 表, 能) for good measure.
SJIS_PIPE_TRAIL = [
    char for char in map(chr, range(0x3000, 0xA000))
    if len(encoded := char.encode("shift_jis", errors="ignore")) == 2 and encoded[1] == 0x7C
]  # JIS X 0208, so the same bytes in CP932
assert "ポ" in SJIS_PIPE_TRAIL


# --- strategies ------------------------------------------------------------------------------------------

def _encodable(text: str, encoding: str) -> bool:
    try:
        check_field_value("AA", text, encoding)
    except UnsafeFieldValue:
        return False
    return True


# Characters a safe value may hold, per encoding, so few examples are thrown away.
_SAFE_ALPHABETS = {
    "ascii": st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|"),
    "latin-1": st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="|\x7f",
                             exclude_categories=("Cc",)),
    "cp850": st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|"),
                       st.sampled_from("ÄÖÜäöüßéèçñ£¥░▒▓│┤")),
    "utf-8": st.characters(exclude_categories=tuple(REFUSED_CATEGORIES), exclude_characters="|"),
    "shift_jis": st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|\\~"),
                           st.sampled_from("あいうえおカキクケコ漢字図書館本日貸出予約延長")),
    "cp932": st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="|"),
                       st.sampled_from("あいうえおカキクケコ漢字図書館本日貸出予約延長①Ⅱ")),
}


def safe_values(encoding: str, *, min_size: int = 0, max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(_SAFE_ALPHABETS[encoding], min_size=min_size, max_size=max_size).filter(
        lambda text: _encodable(text, encoding))


NASTY = [
    "|", "\r", "\n", "\r\n", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\ud800", "\t",
    "AY1AZ", "AZFEF5", "|AD1234", "|AOOTHER|", "|AA2000000001|", "AC", "\ufffd", "¦", "｜", "\\",
    *SJIS_PIPE_TRAIL, "ソ", "表", "能",
]
hostile = st.lists(st.one_of(st.sampled_from(NASTY), st.characters()), max_size=12).map("".join)
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0))
optional = st.none() | st.just("")  # a field left out, or sent empty


def round_trip(message: Message, encoding: str, sequence: int, error_detection: bool) -> Message:
    frame = encode_message(message, encoding, sequence=sequence, error_detection=error_detection)
    decoded = decode_message(frame, encoding)
    assert decoded.sequence == (sequence if error_detection and message.command not in RESEND_COMMANDS else None)
    return decoded


def same(decoded: Message, message: Message) -> bool:
    return (decoded.command, dict(decoded.fixed), decoded.fields) == (message.command, dict(message.fixed),
                                                                       message.fields)


# --- parse(build(m)) == m for every request ---------------------------------------------------------------

@st.composite
def requests(draw) -> tuple[Message, str]:
    """A request from one of the builders, every argument drawn, and an encoding that carries it."""
    encoding = draw(st.sampled_from(ENCODINGS))
    value = safe_values(encoding)
    some = safe_values(encoding, min_size=1)
    maybe = st.none() | value
    when = draw(moments)
    command = draw(st.sampled_from(["93", "99", "23", "63", "17", "29", "65", "15", "35", "97"]))
    if command == "93":
        message = builders.login_request(draw(value), draw(value), draw(maybe),
                                         algorithms=draw(st.sampled_from(["00", "01", "10", "11"])))
    elif command == "99":
        message = builders.sc_status_request(draw(st.sampled_from("012")), draw(st.integers(0, 999)),
                                             draw(st.sampled_from(["1.00", "2.00"])))
    elif command == "23":
        message = builders.patron_status_request(draw(value), draw(value), draw(value), draw(value),
                                                 language=draw(st.sampled_from(["000", "001", "014"])), when=when)
    elif command == "63":
        start = draw(st.none() | st.integers(1, 9999))
        end = None if start is None else draw(st.none() | st.integers(start, 9999))
        message = builders.patron_information_request(
            draw(value), draw(value), draw(maybe), draw(maybe),
            summary=draw(st.none() | st.sampled_from(sorted(builders.SUMMARY_POSITIONS))),
            start_item=start, end_item=end, language=draw(st.sampled_from(["000", "014"])), when=when)
    elif command == "17":
        message = builders.item_information_request(draw(value), draw(value), draw(maybe), when=when)
    elif command == "29":
        item, title = draw(st.one_of(st.tuples(some, st.none()), st.tuples(st.none(), some), st.tuples(some, some)))
        message = builders.renew_request(
            draw(value), draw(value), item_id=item, title_id=title, patron_password=draw(maybe),
            terminal_password=draw(maybe), item_properties=draw(maybe), fee_acknowledged=draw(st.none() | st.booleans()),
            third_party_allowed=draw(st.booleans()), no_block=draw(st.booleans()), when=when)
    elif command == "65":
        message = builders.renew_all_request(draw(value), draw(value), draw(maybe), draw(maybe),
                                             fee_acknowledged=draw(st.none() | st.booleans()), when=when)
    elif command == "15":
        item, title = draw(st.one_of(st.tuples(some, st.none()), st.tuples(st.none(), some)))
        message = builders.hold_request(
            draw(st.sampled_from("+-*")), draw(value), draw(value), item_id=item, title_id=title,
            patron_password=draw(maybe), terminal_password=draw(maybe), pickup_location=draw(maybe),
            expiration=draw(st.none() | moments), hold_type=draw(st.none() | st.sampled_from("1234")),
            fee_acknowledged=draw(st.none() | st.booleans()), when=when)
    elif command == "35":
        message = builders.end_patron_session_request(draw(value), draw(value), draw(maybe), draw(maybe), when=when)
    else:
        message = builders.resend_request()
    return message, encoding


@settings(max_examples=400, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(request=requests(), sequence=st.integers(0, 9), error_detection=st.booleans())
def test_every_request_parses_back_to_what_was_built(request, sequence, error_detection):
    message, encoding = request
    decoded = round_trip(message, encoding, sequence, error_detection)
    assert same(decoded, message)


def test_the_request_strategy_covers_every_request_the_portal_sends():
    """The builders above cover every request with a reply, less those the portal never sends."""
    never_sent = {"01", "09", "11", "19", "25", "37"}  # block, check in/out, item status, enable, fee paid
    built = {"93", "99", "23", "63", "17", "29", "65", "15", "35"}
    assert built == set(REPLY_COMMAND) - never_sent


# --- parse(build(m)) == m for every response layout --------------------------------------------------------

RESPONSE_COMMANDS = sorted({*REPLY_COMMAND.values(), "96"})
KNOWN_IDS = ["AO", "AA", "AE", "AF", "AG", "AB", "AJ", "AH", "AM", "AN", "AP", "AQ", "AS", "AT", "AU", "AV", "BU",
             "CD", "BM", "BN", "BL", "CQ", "BH", "BV", "BZ", "CA", "CB", "CC", "CF", "CK", "CM", "BW", "BR", "BS",
             "BX", "BD", "BE", "BF", "BK", "BT", "CH", "CJ"]
UNKNOWN_IDS = ["PB", "PC", "PI", "FU", "FV", "ZZ", "X1", "99"]  # Evergreen, FOLIO, made up


@st.composite
def fixed_value(draw, width: int, *, is_datetime: bool, blank_ok: bool) -> str:
    if is_datetime:
        moment = draw(moments)
        zone = draw(st.sampled_from(["    ", "   Z"]))
        return f"{moment:%Y%m%d}{zone}{moment:%H%M%S}"
    alphabet = "0123456789YNU " if blank_ok else "0123456789YNU"
    value = draw(st.text(st.sampled_from(alphabet), min_size=width, max_size=width))
    return value if blank_ok or value.strip() else "Y" * width


@st.composite
def responses(draw) -> tuple[Message, str]:
    encoding = draw(st.sampled_from(ENCODINGS))
    command = draw(st.sampled_from(RESPONSE_COMMANDS))
    fixed = {spec.name: draw(fixed_value(spec.width, is_datetime=spec.is_datetime, blank_ok=spec.blank_ok))
             for spec in FIXED_LAYOUTS[command]}
    fields = () if command in RESEND_COMMANDS else tuple(draw(st.lists(
        st.tuples(st.sampled_from(KNOWN_IDS + UNKNOWN_IDS), safe_values(encoding)), max_size=12)))
    return Message(command, fixed, fields), encoding


@settings(max_examples=400, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(response=responses(), sequence=st.integers(0, 9), error_detection=st.booleans())
def test_every_response_parses_back_to_what_was_built(response, sequence, error_detection):
    message, encoding = response
    decoded = round_trip(message, encoding, sequence, error_detection)
    assert same(decoded, message)
    if decoded.command in PARSERS:  # the typed view reads what was sent
        typed = parse_response(decoded)
        assert typed.message is decoded
        if decoded.command == "64":
            assert typed.charged_items == [value for fid, value in message.fields if fid == "AU"]
            assert typed.unavailable_hold_items == [value for fid, value in message.fields if fid == "CD"]
        screen = getattr(typed, "screen_messages", None)
        if screen is not None:
            assert screen == [value for fid, value in message.fields if fid == "AF"]


# --- no patron-supplied string can add or change a field ---------------------------------------------------

# Each builder call with one patron-supplied slot; the marker shows which field the slot is.
PATRON_SLOTS: dict[str, tuple[str, Callable[[str], Message]]] = {
    "63 patron id": ("AA", lambda v: builders.patron_information_request("LIB", v, summary="charged")),
    "63 password": ("AD", lambda v: builders.patron_information_request("LIB", "2000000001", v)),
    "23 patron id": ("AA", lambda v: builders.patron_status_request("LIB", v, "pw")),
    "23 password": ("AD", lambda v: builders.patron_status_request("LIB", "2000000001", v)),
    "17 item id": ("AB", lambda v: builders.item_information_request("LIB", v)),
    "29 patron id": ("AA", lambda v: builders.renew_request("LIB", v, item_id="I0001-1")),
    "29 item id": ("AB", lambda v: builders.renew_request("LIB", "2000000001", item_id=v)),
    "65 patron id": ("AA", lambda v: builders.renew_all_request("LIB", v)),
    "15 patron id": ("AA", lambda v: builders.hold_request("+", "LIB", v, item_id="I0001-1")),
    "15 item id": ("AB", lambda v: builders.hold_request("+", "LIB", "2000000001", item_id=v, pickup_location="MAIN")),
    "15 pickup location": ("BS", lambda v: builders.hold_request("+", "LIB", "2000000001", item_id="I0001-1",
                                                                 pickup_location=v, hold_type="2")),
    "15 cancel item id": ("AB", lambda v: builders.hold_request("-", "LIB", "2000000001", item_id=v)),
    "35 patron id": ("AA", lambda v: builders.end_patron_session_request("LIB", v)),
}
PORTAL_ENCODINGS = ["utf-8", "cp850", "ascii", "shift_jis", "cp932"]


def _refused(value: str) -> bool:
    return "|" in value or any(unicodedata.category(char) in REFUSED_CATEGORIES for char in value)


@pytest.mark.parametrize("slot", sorted(PATRON_SLOTS))
@settings(max_examples=150, deadline=None)
@given(value=hostile, encoding=st.sampled_from(PORTAL_ENCODINGS), sequence=st.integers(0, 9),
       error_detection=st.booleans())
def test_no_patron_supplied_string_can_add_or_change_a_field(slot, value, encoding, sequence, error_detection):
    field_id, build = PATRON_SLOTS[slot]
    meant = build("X").fields  # the fields the request is meant to have, with a harmless value in the slot
    try:
        message = build(value)
        frame = encode_message(message, encoding, sequence=sequence, error_detection=error_detection)
    except UnsafeFieldValue as refused:
        assert refused.field_id == field_id  # refused for the patron's value, not anything else
        return
    assert not _refused(value), "a delimiter or control character got through"
    assert b"\r" not in frame and b"\n" not in frame
    assert frame.count(b"|") == len(meant), "a 0x7C byte inside a value would cut it for a byte-splitting ACS"
    decoded = decode_message(frame, encoding)
    expected = tuple((fid, value if fid == field_id and meant_value == "X" else meant_value)
                     for fid, meant_value in meant)
    assert decoded.fields == expected
    assert decoded.fixed == message.fixed
    assert decoded.sequence == (sequence if error_detection else None)


@pytest.mark.parametrize("char", SJIS_PIPE_TRAIL[:8] + ["ソ", "表"])
@pytest.mark.parametrize("encoding", ["shift_jis", "cp932"])
def test_shift_jis_pipe_trail_bytes_are_refused_and_backslash_trail_bytes_travel(char, encoding):
    message = builders.item_information_request("LIB", f"I{char}1")
    if char in SJIS_PIPE_TRAIL:
        with pytest.raises(UnsafeFieldValue, match="0x7C"):
            encode_message(message, encoding, sequence=0)
    else:
        decoded = decode_message(encode_message(message, encoding, sequence=0), encoding)
        assert decoded.get("AB") == f"I{char}1"

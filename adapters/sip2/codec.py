"""SIP2 wire codec: ``Message`` <-> bytes. Pure, no I/O; framing (the CR) is the
connection's job, so frames here never include the terminator.

Strict when encoding (every identified field ends with ``|``, fixed fields have their exact
width, values are checked by :func:`check_field_value`, the checksum is 4 upper-case hex
digits) and lenient when decoding (missing final ``|``, empty values, stray LF, lower-case
or unpadded checksums, unknown field ids, date fields a few blanks short). Frames are
decoded to text *before* splitting on ``|``, because in Shift_JIS/CP932 the trail byte of
characters such as ポ (0x83 0x7C) is the delimiter byte.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from adapters.sip2.dates import format_sip_datetime, parse_sip_date, parse_sip_datetime
from adapters.sip2.errors import Sip2ChecksumError, Sip2ProtocolError, UnsafeFieldValue
from adapters.sip2.layouts import FIXED_LAYOUTS, REPEATABLE_IDS, RESEND_COMMANDS, FixedField

__all__ = [
    "DELIMITER",
    "MAX_FIELD_BYTES",
    "Message",
    "check_encoding",
    "check_field_value",
    "checksum",
    "checksum_verdict",
    "decode_message",
    "encode_message",
    "format_sip_datetime",
    "parse_sip_date",
    "parse_sip_datetime",
]

DELIMITER = "|"
MAX_FIELD_BYTES = 255

# Unicode categories refused in values: C0/C1 controls (CR, LF, NUL, ESC, NEL ...), line and
# paragraph separators (line breaks in disguise) and lone surrogates.
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_FIELD_ID = re.compile(r"[A-Z0-9]{2}")
_STRICT_DATETIME = re.compile(r"[0-9]{8}[ A-Z]{4}[0-9]{6}")
_READ_DATETIME = re.compile(r"[0-9]{8}[ A-Z0-9]{4}[0-9]{6}")
_SHORT_DATETIME = re.compile(r"[0-9]{8} {1,3}[0-9]{6}")
# AY/AZ trailer. Besides the proper 4-digit form, accept the unpadded (PyPI Sip2 '%X') and
# space-padded (php-sip2 '%4X') forms, but only when they verify (see _split_trailer).
_TRAILER = re.compile(rb"(?:AY(?P<seq>[0-9]))?AZ(?P<sum>[0-9A-Fa-f]{4}| {1,3}[0-9A-Fa-f]{1,3}|[0-9A-Fa-f]{1,3})\Z")
_ASCII_PRINTABLE = bytes(range(0x20, 0x7F))


@dataclass(frozen=True)
class Message:
    """One SIP2 message.

    ``fixed`` maps fixed-field names to raw values in wire order (layouts in
    :mod:`adapters.sip2.layouts`). ``fields`` holds identified fields as ``(id, value)`` pairs
    in the order they appeared, so repeated and unknown ids survive a round trip.
    ``sequence`` and ``checksum`` are the AY/AZ values of a decoded frame (None if absent);
    when encoding, the sequence number is passed to :func:`encode_message` instead.
    """

    command: str
    fixed: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[tuple[str, str], ...] = ()
    sequence: int | None = None
    checksum: str | None = None

    @classmethod
    def build(cls, command: str, fixed: Mapping[str, str], fields: Iterable[tuple[str, str | None]]) -> Message:
        """Build an outgoing message, leaving out identified fields whose value is None
        (absent optional fields); an empty string is kept, as required-but-empty fields
        such as AC in 23 must be sent as ``AC|``."""
        present = tuple((fid, value) for fid, value in fields if value is not None)
        return cls(command, dict(fixed), present)

    def get(self, field_id: str, default: str | None = None) -> str | None:
        """Value of the first occurrence of ``field_id``."""
        for fid, value in self.fields:
            if fid == field_id:
                return value
        return default

    def get_all(self, field_id: str) -> list[str]:
        """Every value of a (repeatable) field, in wire order."""
        return [value for fid, value in self.fields if fid == field_id]

    def __contains__(self, field_id: object) -> bool:
        return any(fid == field_id for fid, _ in self.fields)

    @property
    def by_id(self) -> dict[str, str | list[str]]:
        """Identified fields keyed by id: repeatable ids (AS, AU, AF ...) as lists, other ids
        as their first value."""
        result: dict[str, str | list[str]] = {}
        for fid, value in self.fields:
            if fid in REPEATABLE_IDS:
                values = result.setdefault(fid, [])
                assert isinstance(values, list)
                values.append(value)
            else:
                result.setdefault(fid, value)
        return result


def check_encoding(encoding: str) -> str:
    """Return the codec's canonical name if it can carry SIP2 (printable ASCII must map to
    itself byte for byte, so command ids, fixed fields, ``|`` and AY/AZ stay readable);
    raise ValueError otherwise (e.g. UTF-16, unknown names)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None
    text = _ASCII_PRINTABLE.decode("ascii")
    try:
        ascii_compatible = _ASCII_PRINTABLE.decode(info.name) == text and text.encode(info.name) == _ASCII_PRINTABLE
    except UnicodeError:
        ascii_compatible = False
    if not ascii_compatible:
        raise ValueError(f"encoding {encoding!r} does not keep ASCII as-is, so it cannot carry SIP2")
    return info.name


def check_field_value(field_id: str, value: object, encoding: str | None = None) -> str:
    """Return ``value`` if it is safe in identified field ``field_id``, else raise
    :class:`UnsafeFieldValue`.

    Refused: non-text, ``|``, control characters (CR, LF, NUL, ...), line separators, and,
    when ``encoding`` is given, characters it cannot encode faithfully, more than 255 encoded bytes,
    and encodings that put a 0x7C byte inside a character (Shift_JIS ポ = 0x83 0x7C),
    because an ACS that splits bytes before decoding would cut the field there.
    """
    if not isinstance(value, str):
        raise UnsafeFieldValue(field_id, f"not text but {type(value).__name__}")
    if DELIMITER in value:
        raise UnsafeFieldValue(field_id, "contains the field delimiter '|'")
    for char in value:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise UnsafeFieldValue(field_id, f"contains control character U+{ord(char):04X}")
    if encoding is None:
        if len(value) > MAX_FIELD_BYTES:
            raise UnsafeFieldValue(field_id, f"longer than {MAX_FIELD_BYTES} characters")
        return value
    try:
        data = value.encode(encoding)
    except UnicodeEncodeError:
        raise UnsafeFieldValue(field_id, f"cannot be encoded as {encoding}") from None
    if data.decode(encoding, errors="replace") != value:
        # Best-fit mappings (cp932 sends '¢' as fullwidth '￠') would make the ACS see
        # another value than the patron typed: wrong PIN, wrong barcode.
        raise UnsafeFieldValue(field_id, f"would not survive {encoding} unchanged")
    if len(data) > MAX_FIELD_BYTES:
        raise UnsafeFieldValue(field_id, f"{len(data)} bytes in {encoding}, over 255")
    if DELIMITER.encode("ascii") in data:
        raise UnsafeFieldValue(field_id, f"encodes to a 0x7C byte in {encoding}")
    return value


def checksum(prefix: bytes) -> str:
    """AZ value for ``prefix`` (first byte through ``AZ`` inclusive): two's complement of
    the 16-bit byte sum, as 4 upper-case hex digits."""
    return format(-sum(prefix) & 0xFFFF, "04X")


def checksum_verdict(frame: bytes) -> Literal["ok", "mismatch", "absent"]:
    """Whether a frame (without terminator) carries a valid, a wrong, or no checksum."""
    trailer = _split_trailer(frame.rstrip(b"\r\n"))
    if trailer is None:
        return "absent"
    return "ok" if trailer[3] else "mismatch"


def encode_message(
    message: Message,
    encoding: str,
    *,
    sequence: int | None = None,
    error_detection: bool = True,
) -> bytes:
    """Encode ``message`` to a frame without terminator.

    With ``error_detection`` the frame ends in ``AY<sequence>AZ<checksum>`` (96/97 get only
    ``AZ<checksum>``; a sequence number 0-9 is required otherwise). Raises
    :class:`UnsafeFieldValue` for a bad identified value and ValueError for a malformed
    message (unknown command, fixed field of wrong width or blank, bad field id).
    """
    layout = FIXED_LAYOUTS.get(message.command)
    if layout is None:
        raise ValueError(f"unknown SIP2 command {message.command!r}")
    for field_id, value in message.fields:
        if not _FIELD_ID.fullmatch(field_id) or field_id in ("AY", "AZ"):
            raise ValueError(f"invalid identified field id {field_id!r}")
        check_field_value(field_id, value, encoding)
    parts = [message.command, _encode_fixed(message, layout)]
    parts.extend(f"{fid}{value}{DELIMITER}" for fid, value in message.fields)
    body = "".join(parts).encode(encoding)
    if not error_detection:
        return body
    if message.command in RESEND_COMMANDS:
        prefix = body + b"AZ"
    else:
        if sequence is None or not 0 <= sequence <= 9:
            raise ValueError(f"sequence number must be 0-9 with error detection, not {sequence}")
        prefix = body + b"AY%dAZ" % sequence
    return prefix + checksum(prefix).encode("ascii")


def _encode_fixed(message: Message, layout: tuple[FixedField, ...]) -> str:
    expected = [spec.name for spec in layout]
    if list(message.fixed) != expected:
        raise ValueError(f"{message.command} needs fixed fields {expected}, got {list(message.fixed)}")
    for spec in layout:
        value = message.fixed[spec.name]
        if len(value) != spec.width or not value.isascii() or not value.isprintable():
            raise ValueError(f"fixed field {spec.name} must be {spec.width} ASCII chars: {value!r}")
        if not spec.blank_ok and not value.strip():
            raise ValueError(f"required fixed field {spec.name} is blank")
        if spec.is_datetime and not _STRICT_DATETIME.fullmatch(value):
            raise ValueError(f"fixed field {spec.name} is not YYYYMMDDZZZZHHMMSS: {value!r}")
    return "".join(message.fixed.values())


def decode_message(frame: bytes, encoding: str, *, verify_checksum: bool = True) -> Message:
    """Parse one frame (terminator optional) leniently.

    Raises :class:`Sip2ChecksumError` when ``verify_checksum`` is set and the AZ value does
    not match, and :class:`Sip2ProtocolError` for anything that cannot be a SIP2 message
    (unknown command, truncated fixed part, malformed field). Bytes the encoding cannot
    decode become U+FFFD rather than failing the frame: the checksum already vouched for
    the bytes, and a mangled character in a title beats an unreadable account page.
    """
    body = frame.lstrip(b"\n").rstrip(b"\r\n")
    sequence: int | None = None
    received_checksum: str | None = None
    trailer = _split_trailer(body)
    if trailer is not None:
        body, sequence, received_checksum, valid = trailer
        if verify_checksum and not valid:
            raise Sip2ChecksumError(f"checksum {received_checksum} does not match the frame")
    text = body.decode(encoding, errors="replace")
    command = text[:2]
    layout = FIXED_LAYOUTS.get(command)
    if layout is None:
        raise Sip2ProtocolError(f"unknown or missing command id {command!r}")
    position = 2
    fixed: dict[str, str] = {}
    for spec in layout:
        width = _read_width(text, position, spec)
        value = text[position : position + width]
        if len(value) < width:
            raise Sip2ProtocolError(f"{command} message truncated in fixed field {spec.name}")
        fixed[spec.name] = value
        position += width
    fields = tuple(_parse_identified(text[position:]))
    return Message(command, fixed, fields, sequence, received_checksum)


def _read_width(text: str, position: int, spec: FixedField) -> int:
    """Width of a fixed field as actually sent. Dates a few blanks short of 18 chars
    (``20080228 145537``, quoted from a real ACS by php-sip2) are taken at their real
    length so the identified fields after them still line up."""
    if not spec.is_datetime or _READ_DATETIME.fullmatch(text, position, position + 18):
        return spec.width
    short = _SHORT_DATETIME.match(text, position)
    return short.end() - position if short else spec.width


def _parse_identified(text: str) -> Iterable[tuple[str, str]]:
    for segment in text.split(DELIMITER):
        if not segment:
            continue  # stray or doubled delimiter, e.g. invenio's '...093158|AO...'
        field_id = segment[:2]
        if len(field_id) < 2 or not all("!" <= char <= "~" for char in field_id):
            raise Sip2ProtocolError(f"malformed identified field {segment[:10]!r}")
        yield field_id, segment[2:]


def _split_trailer(body: bytes) -> tuple[bytes, int | None, str, bool] | None:
    """Split off an AY/AZ trailer: ``(payload, sequence, checksum, valid)`` or None."""
    match = _TRAILER.search(body)
    if match is None:
        return None
    digits = match["sum"]
    valid = (sum(body[: match.start("sum")]) + int(digits, 16)) & 0xFFFF == 0
    if len(digits.strip()) < 4 and not valid:
        # An unpadded "checksum" that does not verify is more likely the tail of a value
        # whose final '|' was left out; keep it as data.
        return None
    sequence = int(match["seq"]) if match["seq"] is not None else None
    return body[: match.start()], sequence, digits.decode("ascii").strip().upper().zfill(4), valid

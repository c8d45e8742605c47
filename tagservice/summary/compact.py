"""The compact binary encoding of a validated summary, as carried inside a tag.

A wallet-card QR code holds few bytes, so the summary is a CBOR array of
positional fields: dates as day counts, enums as small ints, common words as
indexes into the `vocab` tables, names 5 bits a letter, phone numbers 4 bits a
character. docs/summary-format.md is the specification. The tag code deflates
the output with `DICTIONARIES[dict_id]` and keeps the smaller of the two.
`decode` is strict: anything malformed is a ValueError, never another exception.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Mapping
from datetime import date, timedelta

import cbor2

from tagservice.summary import model, vocab
from tagservice.summary.packing import PHONE_SYMBOLS, pack_letters, unpack_letters

COMPACT_VERSION = 1
CURRENT_DICT_ID = 1
DICTIONARIES: dict[int, bytes] = {1: " ".join(vocab.DEFLATE_WORDS_V1).encode()}
MAX_ENCODED_BYTES = 4096  # far above any summary that fits a QR code; refused unread


# ---- text fields: a code table entry, a packed string or plain UTF-8 -------------

_DOSE = re.compile(r"(0|[1-9][0-9]{0,5})(?:\.([0-9]{1,2}))?( ?)(.+)")
_UNIT_INDEX = {unit: index for index, unit in enumerate(vocab.DOSE_UNITS_V1)}
if len(vocab.DOSE_UNITS_V1) > vocab.DOSE_UNIT_SLOTS:
    raise RuntimeError("vocab.DOSE_UNITS_V1 has outgrown DOSE_UNIT_SLOTS")


def _swap_first(text: str) -> str:
    return text[:1].swapcase() + text[1:]


class TextCodec:
    """One text field. In the tag a text is a uint (table entry), a negative int
    (the entry with its first letter's case swapped, or for doses a number and
    unit), bytes (packed letters) or a text string (as typed)."""

    def __init__(self, table: tuple[str, ...] = (), *, name: bool = False,
                 surname: bool = False, dose: bool = False):
        self.table, self.name, self.surname, self.dose = table, name, surname, dose
        self.index = {entry: i for i, entry in enumerate(table)}

    def encode(self, text: str, surname: str, pack_free_text: bool) -> int | str | bytes:
        if text in self.index:
            return self.index[text]
        swapped = self.index.get(_swap_first(text))
        if self.dose:
            number = _dose_number(text)
            if number is not None:
                return -1 - number
        elif swapped is not None and self._entry(swapped, True) == text:
            return -1 - swapped
        if not (self.name or pack_free_text):
            return text  # left as text for the deflate dictionary to match
        packed = pack_letters(text, surname if self.surname else None)
        return packed if packed is not None and len(packed) < len(text.encode()) else text

    def decode(self, item: object, surname: str) -> str:
        if isinstance(item, str):
            return item
        if isinstance(item, bytes):
            return unpack_letters(item, surname if self.surname else None)
        if type(item) is not int:
            raise ValueError("a text field holds neither text nor a code")
        if item < 0 and self.dose:
            return _dose_text(-1 - item)
        return self._entry(item if item >= 0 else -1 - item, item < 0)

    def _entry(self, index: int, swapped: bool) -> str:
        if index >= len(self.table):
            raise ValueError("a code is not in this version's table")
        return _swap_first(self.table[index]) if swapped else self.table[index]


def _dose_number(text: str) -> int | None:
    match = _DOSE.fullmatch(text)
    if not match or match[4] not in _UNIT_INDEX:
        return None
    whole, fraction, space, unit = match.groups()
    mantissa, places = int(whole + (fraction or "")), len(fraction or "")
    return ((mantissa * 3 + places) * 2 + (not space)) * vocab.DOSE_UNIT_SLOTS + _UNIT_INDEX[unit]


def _dose_text(number: int) -> str:
    rest, unit = divmod(number, vocab.DOSE_UNIT_SLOTS)
    rest, no_space = divmod(rest, 2)
    mantissa, places = divmod(rest, 3)
    if unit >= len(vocab.DOSE_UNITS_V1) or mantissa >= 10**8:
        raise ValueError("a dose code is out of range")
    digits = str(mantissa).rjust(places + 1, "0")
    value = f"{digits[:-places]}.{digits[-places:]}" if places else digits
    return value + ("" if no_space else " ") + vocab.DOSE_UNITS_V1[unit]


class EnumCodec:
    def __init__(self, choices: tuple[str, ...]):
        self.choices = choices

    def encode(self, value: str, surname: str, pack_free_text: bool) -> int:
        return self.choices.index(value)

    def decode(self, item: object, surname: str) -> str:
        if type(item) is not int or not 0 <= item < len(self.choices):
            raise ValueError("an enum code is out of range")
        return self.choices[item]


class PhoneCodec:
    """Phone numbers, 4 bits a character; a final nibble 15 pads an odd length."""

    def encode(self, phone: str, surname: str = "", pack_free_text: bool = True) -> bytes:
        nibbles = [PHONE_SYMBOLS.index(c) for c in phone] + [15] * (len(phone) % 2)
        return bytes(hi << 4 | lo for hi, lo in zip(nibbles[::2], nibbles[1::2], strict=True))

    def decode(self, item: object, surname: str = "") -> str:
        if not isinstance(item, bytes):
            raise ValueError("a phone number is not packed")
        nibbles = [n for byte in item for n in (byte >> 4, byte & 15)]
        nibbles = nibbles[:-1] if nibbles and nibbles[-1] == 15 else nibbles
        if not nibbles or 15 in nibbles:
            raise ValueError("a phone number is badly packed")
        return "".join(PHONE_SYMBOLS[n] for n in nibbles)


# ---- layout --------------------------------------------------------------------

NAME, FREE_TEXT = TextCodec(name=True), TextCodec()
# Each list section (and gp) is one flat CBOR array of its items' fields in
# this order, with null for an absent optional field.
ITEM_LAYOUTS: dict[str, tuple[tuple[str, TextCodec | EnumCodec | PhoneCodec], ...]] = {
    "alerts": (("code", EnumCodec(model.ALERT_CODES)), ("text", TextCodec(vocab.DRUGS_V1))),
    "allergies": (
        ("substance", TextCodec(vocab.ALLERGENS_V1)),
        ("reaction", TextCodec(vocab.REACTIONS_V1)),
        ("severity", EnumCodec(model.SEVERITIES)),
    ),
    "medications": (
        ("name", TextCodec(vocab.DRUGS_V1)),
        ("dose", TextCodec(vocab.DOSES_V1, dose=True)),
        ("frequency", TextCodec(vocab.FREQUENCIES_V1)),
    ),
    "conditions": (("name", TextCodec(vocab.CONDITIONS_V1)),),
    "baseline": (
        ("kind", EnumCodec(model.BASELINE_KINDS)),
        ("value", TextCodec(vocab.BASELINE_VALUES_V1)),
    ),
    "contacts": (
        ("name", TextCodec(name=True, surname=True)),
        ("relationship", TextCodec(vocab.RELATIONSHIPS_V1)),
        ("phone", PhoneCodec()),
    ),
    "gp": (("name", NAME), ("phone", PhoneCodec())),
}
SCALAR_CODECS = {"language": TextCodec(vocab.LANGUAGES_V1), "note": FREE_TEXT}
OPTIONAL_SECTIONS = (*model.LIST_SECTIONS, "gp", "language", "note")

# The 16-bit shape word, low bits first: sex (3 bits, 0 = absent), then flags,
# then from FIRST_SECTION_BIT one presence bit per OPTIONAL_SECTIONS entry.
SEX_MASK, VERIFIED_FLAG, NKA_FLAG, NHS_FLAG, REVIEW_FLAG = 0b111, 1 << 3, 1 << 4, 1 << 5, 1 << 6
FIRST_SECTION_BIT = 7


def _days(iso: str) -> int:
    return (date.fromisoformat(iso) - model.EARLIEST_DATE).days


def _iso(days: int) -> str:
    return (model.EARLIEST_DATE + timedelta(days=days)).isoformat()


def _surname(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def encode(summary: dict, *, dict_id: int = CURRENT_DICT_ID) -> bytes:
    """The compact bytes for a summary exactly as returned by `summary.validate`.

    Free text is either packed 5 bits a letter or left as UTF-8 for the deflate
    dictionary to match; whichever makes the smaller tag with `dict_id` wins.
    """
    if model.validate(summary, today=model.LATEST_DATE) != summary:
        raise ValueError("encode() needs a summary exactly as returned by summary.validate()")
    candidates = [_encode(summary, pack_free_text) for pack_free_text in (True, False)]
    return min(candidates, key=lambda raw: min(len(raw), len(deflate(raw, dict_id))))


def deflate(raw: bytes, dict_id: int) -> bytes:
    """Raw deflate with a preset dictionary, exactly as the tag stores it."""
    compressor = zlib.compressobj(level=9, wbits=-15, zdict=DICTIONARIES[dict_id])
    return compressor.compress(raw) + compressor.flush()


def _encode(summary: dict, pack: bool) -> bytes:
    identity, meta = summary["identity"], summary["meta"]
    surname = _surname(identity["name"])
    shape = model.SEXES.index(identity["sex"]) + 1 if "sex" in identity else 0
    shape |= VERIFIED_FLAG * (meta["source"] == "clinician-verified")
    shape |= NKA_FLAG * ("no_known_allergies" in summary)
    shape |= NHS_FLAG * ("nhs_number" in identity) | REVIEW_FLAG * ("review" in meta)
    sections = []
    for bit, section in enumerate(OPTIONAL_SECTIONS, FIRST_SECTION_BIT):
        if not (value := summary.get(section)):
            continue
        shape |= 1 << bit
        if section in SCALAR_CODECS:
            sections.append(SCALAR_CODECS[section].encode(value, surname, pack))
            continue
        sections.append([
            codec.encode(item[key], surname, pack) if key in item else None
            for item in (value if isinstance(value, list) else [value])
            for key, codec in ITEM_LAYOUTS[section]
        ])
    header = struct.pack(">HHH", shape, _days(identity["date_of_birth"]), _days(meta["issued"]))
    if "nhs_number" in identity:
        header += struct.pack(">I", int(identity["nhs_number"][:9]))  # check digit is implied
    if "review" in meta:
        header += struct.pack(">H", _days(meta["review"]) - _days(meta["issued"]))
    fields = [COMPACT_VERSION, header, NAME.encode(identity["name"], surname, pack), *sections]
    if "verified_by" in meta:
        fields.append(FREE_TEXT.encode(meta["verified_by"], surname, pack))
    return cbor2.dumps(fields)


# ---- decoding ------------------------------------------------------------------


def _refuse_tag(*args: object) -> None:
    raise ValueError("CBOR tags are not allowed")


class _RefuseEveryTag(Mapping):
    """semantic_decoders turning off all of cbor2's tag handling: tags have no use here."""

    __getitem__ = staticmethod(lambda tag: _refuse_tag)
    __contains__ = staticmethod(lambda tag: True)
    __iter__ = staticmethod(lambda: iter(()))
    __len__ = staticmethod(lambda: 0)


def decode(data: bytes, *, today: date = model.LATEST_DATE) -> dict:
    """The normalised summary held by compact bytes; ValueError for anything malformed.

    The result has passed `summary.validate` with `today` (the default accepts
    any storable date of birth), so a caller that wants the date of birth
    checked against the real date passes it here rather than validating again.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("decode() takes bytes")
    data = bytes(data)
    if len(data) < 2 or len(data) > MAX_ENCODED_BYTES:
        raise ValueError("compact summary has an impossible length")
    # Version first, checked first: a definite array of < 24 fields, then a small uint.
    if not 0x80 < data[0] < 0x98 or data[1] >= 24:
        raise ValueError("compact summary does not start with a format version")
    if data[1] != COMPACT_VERSION:
        raise ValueError(f"unknown compact summary version {data[1]}")
    stream = io.BytesIO(data)
    try:
        fields = cbor2.CBORDecoder(
            stream, read_size=1, max_depth=2, allow_indefinite=False,
            tag_hook=_refuse_tag, semantic_decoders=_RefuseEveryTag(),
        ).decode()
    except Exception as error:  # any failure of a third-party parser on hostile bytes
        raise ValueError("compact summary is not well-formed CBOR") from error
    if stream.tell() != len(data):
        raise ValueError("compact summary has trailing bytes")
    try:
        summary = _summary_from_fields(fields)
    except (struct.error, TypeError, IndexError, KeyError, OverflowError) as error:
        raise ValueError("compact summary is malformed") from error
    try:
        return model.validate(summary, today=today)
    except ValueError as error:
        raise ValueError(f"compact summary holds an invalid summary: {error}") from error


def _summary_from_fields(fields: list) -> dict:
    if not 3 <= len(fields) <= 4 + len(OPTIONAL_SECTIONS) or not isinstance(fields[1], bytes):
        raise ValueError("compact summary has the wrong number of fields")
    shape, born, issued = struct.unpack_from(">HHH", fields[1])
    if len(fields[1]) != 6 + 4 * bool(shape & NHS_FLAG) + 2 * bool(shape & REVIEW_FLAG):
        raise ValueError("compact summary header has the wrong length")
    identity = {"name": NAME.decode(fields[2], None), "date_of_birth": _iso(born)}
    surname = _surname(identity["name"])
    extra = fields[1][6:]
    if shape & NHS_FLAG:
        identity["nhs_number"] = _nhs_number(struct.unpack_from(">I", extra)[0])
        extra = extra[4:]
    if shape & SEX_MASK:
        identity["sex"] = model.SEXES[(shape & SEX_MASK) - 1]
    meta = {"issued": _iso(issued)}
    if shape & REVIEW_FLAG:
        meta["review"] = _iso(issued + struct.unpack(">H", extra)[0])
    meta["source"] = model.SOURCES[bool(shape & VERIFIED_FLAG)]
    present = [s for bit, s in enumerate(OPTIONAL_SECTIONS, FIRST_SECTION_BIT) if shape >> bit & 1]
    rest = fields[3:]  # the present sections, then verified_by
    if len(rest) != len(present) + bool(shape & VERIFIED_FLAG):
        raise ValueError("compact summary fields do not match its header")
    summary: dict = {"format": 1, "identity": identity}
    summary.update({section: [] for section in model.LIST_SECTIONS})
    for section, item in zip(present, rest, strict=False):
        if section in SCALAR_CODECS:
            summary[section] = SCALAR_CODECS[section].decode(item, surname)
        else:
            entries = _entries(section, item, surname)
            summary[section] = entries if section in model.LIST_SECTIONS else entries[0]
    if shape & VERIFIED_FLAG:
        meta["verified_by"] = FREE_TEXT.decode(rest[-1], surname)
    if shape & NKA_FLAG:
        summary["no_known_allergies"] = True
    summary["meta"] = meta
    return summary


def _nhs_number(first_nine: int) -> str:
    digits = f"{first_nine:09d}"
    check = model.nhs_check_digit(digits) if len(digits) == 9 else None
    if check is None:
        raise ValueError("compact summary holds an impossible NHS number")
    return digits + str(check)


def _entries(section: str, flat: object, surname: str) -> list[dict]:
    layout = ITEM_LAYOUTS[section]
    most = model.MAX_ITEMS.get(section, 1) * len(layout)
    if not isinstance(flat, list) or not flat or len(flat) % len(layout) or len(flat) > most:
        raise ValueError(f"compact summary section {section} has the wrong shape")
    return [
        {
            key: codec.decode(value, surname)
            for (key, codec), value in zip(layout, flat[start:start + len(layout)], strict=True)
            if value is not None
        }
        for start in range(0, len(flat), len(layout))
    ]

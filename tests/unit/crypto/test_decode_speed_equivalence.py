"""The faster tag-opening code accepts and refuses exactly what the slower code did.

Each optimisation is compared with the logic it replaced, kept here as the reference:
the per-character category check in summary.validate, strict base32 in
crypto.decode_payload, and validating the decoded summary once instead of twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import unicodedata
from datetime import date, timedelta

import cbor2
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tagservice import crypto, tag_digits
from tagservice.summary import compact
from tagservice.summary import model as summary
from tagservice.summary.packing import pack_letters
from tests.paths import FIXTURES

B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"summary-{name}.json").read_text("utf-8"))


# ---- summary: the rejected-character check ------------------------------------------


def old_has_rejected_char(text: str) -> bool:
    return any(unicodedata.category(c) in summary._REJECTED_CATEGORIES for c in text)


def test_printable_fast_path_never_skips_a_rejected_character():
    """Every code point: printable implies not rejected, so the fast path is exact.

    Both checks look at characters one at a time (isprintable() is true only when
    every character is printable), so agreeing on every single character proves
    they agree on every string.
    """
    for code in range(0x110000):
        char = chr(code)
        assert summary._has_rejected_char(char) == old_has_rejected_char(char), hex(code)
        if char.isprintable():
            assert not old_has_rejected_char(char), hex(code)


AWKWARD = st.sampled_from(
    "\x00\t\n\x1f \x7f\x85\xa0\u00ad\u0301\u0378\u1680\u2000\u200b\u2028\u2029\u202f"
    "\u3000\ud800\udfff\ue000\ufeff\U000e0001\U0010ffff"
)
ANY_TEXT = st.text(st.one_of(st.characters(exclude_categories=()), AWKWARD), max_size=40)


@given(ANY_TEXT)
def test_rejected_char_check_matches_the_per_character_check(text):
    assert summary._has_rejected_char(text) == old_has_rejected_char(text)


# ---- crypto.decode_payload: strict base32 ---------------------------------------------


def old_decode_payload(text: str) -> bytes:
    """decode_payload as it was, with base64.b32decode and a round-trip check.

    Finding the payload in a URL is not part of the speed-up and has its own rule
    since (one `/T/`, no `?` or `#` before it: tests/unit/crypto/test_crypto_guards.py and the
    vectors), so the reference takes the payload the same way.
    """
    if not isinstance(text, str):
        raise TypeError("tag text must be str")
    if len(text) > crypto._MAX_TEXT_CHARS:
        raise crypto.MalformedTag("This code is far too long to be an emergency tag.")
    payload = crypto._payload_of(text)
    if len(payload) > crypto._B32_MAX_CHARS:
        raise crypto.MalformedTag("This code is far too long to be an emergency tag.")
    if not payload.isascii():
        raise crypto.MalformedTag()
    payload = payload.upper()
    if not payload or not crypto._B32_RE.fullmatch(payload) or len(payload) % 8 in (1, 3, 6):
        raise crypto.MalformedTag()
    try:
        data = base64.b32decode(payload + "=" * (-len(payload) % 8))
    except (binascii.Error, ValueError) as e:
        raise crypto.MalformedTag() from e
    if crypto.encode_payload(data) != payload:
        raise crypto.MalformedTag()
    return data


def numeric_spelling(text: str) -> bool:
    try:
        return tag_digits.is_numeric(crypto._payload_of(text))
    except crypto.MalformedTag:
        return False


def outcome(function, *args):
    """The result, or the exception's type and message, for comparing two versions."""
    try:
        return ("ok", function(*args))
    except Exception as error:
        return ("error", type(error), str(error))


B32_TEXT = st.text(st.sampled_from(B32_ALPHABET + B32_ALPHABET.lower()), max_size=1700)
PREFIXES = st.sampled_from(["", "http://127.0.0.1:8000/T/", "HTTPS://X/t/", "/T//T/", "a/T/"])


@given(PREFIXES, B32_TEXT)
@example("", "A" * 1639)
@example("", "7" * 1639)
@example("", "A" * 1640)
@example("", "AB")
@example("", "AE")
@example("", "AEAA7")
@settings(max_examples=500)
def test_decode_payload_matches_base64_on_base32_text(prefix, payload):
    text = prefix + payload
    assert outcome(crypto.decode_payload, text) == outcome(old_decode_payload, text)


@given(st.one_of(st.text(max_size=60), st.text(st.sampled_from(B32_ALPHABET + "=/T ſ1"))))
def test_decode_payload_matches_base64_on_any_text(text):
    assume(not numeric_spelling(text))  # digits are read by tag_digits (tag-format 1.1)
    assert outcome(crypto.decode_payload, text) == outcome(old_decode_payload, text)


@given(st.binary(min_size=1, max_size=crypto.MAX_TAG_BYTES))
def test_decode_payload_reads_every_encoded_tag(data):
    assert crypto.decode_payload(crypto.encode_payload(data)) == data
    assert crypto.decode_payload(crypto.tag_url("http://x", data).lower()) == data


def test_decode_payload_refuses_every_non_zero_padding_bit():
    payload = crypto.encode_payload(bytes(range(1, 12)))  # 11 bytes: 3 spare bits
    for last in B32_ALPHABET:
        text = payload[:-1] + last
        assert outcome(crypto.decode_payload, text) == outcome(old_decode_payload, text)


# ---- crypto.open_verified: the summary validated once ---------------------------------


def old_decode_and_validate(plaintext: bytes, today: date) -> dict:
    """Step 11 as it was: compact.decode (which validates), then validate again."""
    return summary.validate(compact.decode(plaintext), today=today)


# Text that tests normalisation: spaces at either end, decomposed accents, characters
# whose NFC form differs, controls and line breaks, table words, packed names.
NICE_PIECES = [
    "a", "Z", "e\u0301", "\u0301", " ", "\u2000", "\u00a0", "\u3000", "\u1100\u1161",
    "\u212b", "\u0344", "Smith", "-", "'", "5", "mg", "twice daily", "Penicillin", "Warfarin",
]  # fmt: skip
BAD_PIECES = ["\t", "\n", "\u2028", "\x00", "\x85", "+", "(", ")"]
NICE_TEXT = st.lists(st.sampled_from(NICE_PIECES), min_size=1, max_size=8).map("".join)
TEXT = st.lists(st.sampled_from(NICE_PIECES + BAD_PIECES), max_size=12).map("".join)
ANY_PIECES = st.one_of(st.sampled_from([*NICE_PIECES, *BAD_PIECES, "\ud800"]), st.characters())
ANY_FIELD_TEXT = st.lists(ANY_PIECES, max_size=12).map("".join)  # CBOR text cannot hold these
JUNK = st.one_of(TEXT, st.none(), st.integers(-300, 300), st.binary(max_size=12))
PHONES = st.text("0123456789 +()-", min_size=1, max_size=22).map(compact.PhoneCodec().encode)
DAYS = st.integers(0, 0xFFFF)
LETTERS = st.text("abcXYZ -'", min_size=1, max_size=12)


def value_for(codec) -> st.SearchStrategy:
    """Mostly what `codec` can decode, sometimes anything at all."""
    if isinstance(codec, compact.EnumCodec):
        likely = st.integers(0, len(codec.choices) - 1)
    elif isinstance(codec, compact.PhoneCodec):
        likely = PHONES
    elif codec.table:
        likely = st.one_of(NICE_TEXT, st.integers(-len(codec.table), len(codec.table) - 1))
    else:
        likely = st.one_of(NICE_TEXT, LETTERS.map(lambda text: pack_letters(text) or text))
    return st.integers(0, 19).flatmap(lambda n: likely if n else st.one_of(st.none(), JUNK))


@st.composite
def compact_fields(draw) -> bytes:
    """Compact summaries, mostly well-formed, with awkward values in them."""
    shape = draw(st.integers(0, 0xFFFF))
    if draw(st.booleans()):  # a sex the table has, and an issue date after the birth
        shape &= ~compact.SEX_MASK | draw(st.integers(0, len(summary.SEXES)))
    born = draw(DAYS)
    issued = draw(st.one_of(st.integers(born, 0xFFFF), DAYS))
    header = struct.pack(">HHH", shape, born, issued)
    if shape & compact.NHS_FLAG:
        header += struct.pack(">I", draw(st.integers(0, 10**9)))
    if shape & compact.REVIEW_FLAG:
        header += struct.pack(">H", draw(DAYS))
    fields = [compact.COMPACT_VERSION, header, draw(value_for(compact.NAME))]
    for bit, section in enumerate(compact.OPTIONAL_SECTIONS, compact.FIRST_SECTION_BIT):
        if shape >> bit & 1:
            if section in compact.SCALAR_CODECS:
                fields.append(draw(value_for(compact.SCALAR_CODECS[section])))
                continue
            layout = compact.ITEM_LAYOUTS[section]
            count = draw(st.integers(1, 3))
            fields.append([draw(value_for(codec)) for _ in range(count) for _, codec in layout])
    if shape & compact.VERIFIED_FLAG:
        fields.append(draw(value_for(compact.FREE_TEXT)))
    return cbor2.dumps(fields)


TODAYS = st.dates(summary.EARLIEST_DATE, summary.LATEST_DATE + timedelta(days=400))


@given(compact_fields(), TODAYS)
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_validating_once_accepts_and_refuses_what_validating_twice_did(plaintext, today):
    old = outcome(old_decode_and_validate, plaintext, today)
    new = outcome(lambda: compact.decode(plaintext, today=today))
    assert old[0] == new[0]
    if old[0] == "ok":
        assert old == new
    else:  # open_verified turns any ValueError here into InvalidSummary()
        assert issubclass(old[1], ValueError) and issubclass(new[1], ValueError)


@given(compact_fields())
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_compact_decode_default_is_unchanged(plaintext):
    """Without `today`, decode validates against the latest storable date, as before."""
    old = outcome(
        lambda: summary.validate(
            compact._summary_from_fields(cbor2.loads(plaintext)), today=summary.LATEST_DATE
        )
    )
    new = outcome(compact.decode, plaintext)
    assert old[0] == new[0]
    if old[0] == "ok":
        assert old == new


@given(
    st.fixed_dictionaries(
        {"name": ANY_FIELD_TEXT, "date_of_birth": st.sampled_from(["1990-01-31", "2070-05-05"])},
        optional={"sex": st.sampled_from(summary.SEXES), "nhs_number": ANY_FIELD_TEXT},
    ),
    st.lists(
        st.fixed_dictionaries({"name": ANY_FIELD_TEXT}, optional={"dose": ANY_FIELD_TEXT}),
        max_size=3,
    ),
    st.fixed_dictionaries({}, optional={"name": ANY_FIELD_TEXT, "phone": ANY_FIELD_TEXT}),
    st.fixed_dictionaries({}, optional={"note": ANY_FIELD_TEXT, "language": ANY_FIELD_TEXT}),
    TODAYS,
)
@settings(max_examples=400)
def test_validate_is_idempotent(identity, medications, gp, extra, today):
    """What makes the second validation redundant: validating the result changes nothing."""
    data = {
        "identity": identity,
        "medications": medications,
        "gp": gp,
        "meta": {"issued": "2026-11-27", "source": "self-reported"},
        **extra,
    }
    try:
        once = summary.validate(data, today=today)
    except summary.SummaryError:
        return
    assert summary.validate(once, today=today) == once


@pytest.mark.parametrize("name", ["typical", "heavy", "minimal", "unicode", "no-known-allergies"])
def test_fixture_tags_open_to_the_same_summary(name):
    data = summary.validate(fixture(name), today=date(2026, 11, 27))
    plaintext = compact.encode(data)
    today = date.today()
    assert compact.decode(plaintext, today=today) == old_decode_and_validate(plaintext, today)

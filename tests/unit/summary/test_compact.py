"""The compact tag encoding: exact round trips, strict decoding, sizes and frozen tables."""

from __future__ import annotations

import hashlib
import json
import unicodedata
import zlib
from datetime import date, timedelta

import cbor2
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tagservice.summary import compact, vocab
from tagservice.summary import model as summary
from tagservice.summary.compact import decode, encode
from tests.paths import FIXTURES

TODAY = date(2026, 11, 27)
TYPICAL_TARGET = 48  # bytes left in a version-10-M QR after 131 bytes of tag overhead
HEAVY_TARGET = 260


def fixture(name: str) -> dict:
    return summary.validate(
        json.loads((FIXTURES / f"summary-{name}.json").read_text("utf-8")), today=TODAY
    )


def stored_size(encoded: bytes) -> int:
    """What the tag holds: raw deflate with the preset dictionary, or the raw bytes if smaller."""
    return min(len(encoded), len(compact.deflate(encoded, compact.CURRENT_DICT_ID)))


def with_changes(name: str, **changes) -> dict:
    data = fixture(name)
    data.update(changes)
    return summary.validate(data, today=TODAY)


def assert_decodes_to_a_valid_summary_or_refuses(data: bytes) -> None:
    try:
        result = decode(data)
    except ValueError:
        return
    assert summary.validate(result, today=summary.LATEST_DATE) == result


# ------------------------------------------------------------------ sizes


def test_typical_summary_fits_the_version_10_qr_budget():
    encoded = encode(fixture("typical"))
    assert stored_size(encoded) <= TYPICAL_TARGET


def test_heavy_summary_fits_its_budget():
    encoded = encode(fixture("heavy"))
    assert stored_size(encoded) <= HEAVY_TARGET


def test_deflate_helper_matches_the_tag_recipe():
    encoded = encode(fixture("heavy"))
    recipe = zlib.compressobj(level=9, wbits=-15, zdict=compact.DICTIONARIES[1])
    assert compact.deflate(encoded, 1) == recipe.compress(encoded) + recipe.flush()


# ------------------------------------------------------------------ round trips


FIXTURE_NAMES = sorted(p.stem.removeprefix("summary-") for p in FIXTURES.glob("summary-*.json"))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_round_trips_exactly(name):
    data = fixture(name)
    assert decode(encode(data)) == data


def test_typical_encoding_is_the_one_in_the_spec():
    # docs/summary-format.md section 3 walks through these bytes
    assert encode(fixture("typical")).hex(" ") == (
        "87 01 4a 17 21 50 2e b4 f5 38 3c 4f 6f 47 a4 0d 26 a4 c4 4c ff 83 00 00 03 "
        "83 0d 00 00 81 00 83 44 a5 c7 6e bb 00 46 07 70 0a 90 01 23"
    )


def test_format_version_is_the_first_element():
    fields = cbor2.loads(encode(fixture("typical")))
    assert fields[0] == compact.COMPACT_VERSION == 1


@pytest.mark.parametrize(
    "text", ["Penicillin", "penicillin", "PENICILLIN", "Penicillin ", "Pénicilline"]
)
def test_case_and_spelling_of_table_words_survive_the_round_trip(text):
    data = with_changes("typical", allergies=[{"substance": text}])
    assert decode(encode(data))["allergies"] == [{"substance": text.strip()}]


def test_a_table_word_costs_one_byte_and_its_other_case_too():
    first = cbor2.loads(encode(with_changes("typical", allergies=[{"substance": "Penicillin"}])))
    second = cbor2.loads(encode(with_changes("typical", allergies=[{"substance": "penicillin"}])))
    assert first[3] == [0, None, None] and second[3] == [-1, None, None]


@pytest.mark.parametrize("dose", ["7.5 mg", "0.05 mg", "10.50 ml", "5mg", "120 micrograms",
                                  "05 mg", "1,000 mg", "3 tablets daily", "2  puffs"])
def test_doses_round_trip_whether_numeric_or_free_text(dose):
    data = with_changes("typical", medications=[{"name": "Warfarin", "dose": dose}])
    assert decode(encode(data))["medications"][0]["dose"] == dose


def test_uncommon_numeric_dose_is_packed_as_a_number():
    data = with_changes("typical", medications=[{"name": "Warfarin", "dose": "7.5 mg"}])
    assert isinstance(cbor2.loads(encode(data))[4][1], int)


def test_contact_sharing_the_patients_surname_refers_to_it():
    shared = with_changes("typical")
    other = with_changes("typical", contacts=[{**shared["contacts"][0], "name": "John Brown"}])
    assert len(encode(shared)) < len(encode(other))
    assert decode(encode(shared))["contacts"][0]["name"] == "John Smith"


@pytest.mark.parametrize("name", ["O'Brien", "McDonald", "de la Cruz", "Kowalczyk-Brown",
                                  "ANNE-MARIE", "x", "a b c d e f g", "JANE smith"])
def test_names_pack_into_five_bit_letters_and_back(name):
    packed = compact.pack_letters(name)
    assert packed is not None and len(packed) <= len(name)
    assert compact.unpack_letters(packed, None) == name


@pytest.mark.parametrize("name", ["Zoë", "Jane Smith 2", "J. Smith", "李"])
def test_names_outside_the_letter_alphabet_are_not_packed(name):
    assert compact.pack_letters(name) is None


@pytest.mark.parametrize("phone", ["07700 900123", "+44 (0)20 7946-0018", "999", "0"])
def test_phone_numbers_pack_into_nibbles_and_back(phone):
    packed = compact.PhoneCodec().encode(phone)
    assert len(packed) == (len(phone) + 1) // 2
    assert compact.PhoneCodec().decode(packed) == phone


def test_encode_refuses_a_summary_that_has_not_been_validated():
    raw = json.loads((FIXTURES / "summary-typical.json").read_text("utf-8"))
    with pytest.raises(ValueError, match="validate"):
        encode(raw)


# ------------------------------------------------------------------ strict decoding


def test_unknown_version_is_refused_before_anything_else():
    encoded = bytearray(encode(fixture("typical")))
    encoded[1] = 2
    with pytest.raises(ValueError, match="unknown compact summary version 2"):
        decode(bytes(encoded))


@pytest.mark.parametrize("data, reason", [
    (b"", "impossible length"),
    (b"\x01", "impossible length"),
    (b"\x01\x01", "does not start with a format version"),
    (b"\xa1\x01\x01", "does not start with a format version"),
    (b"\x9f\x01\xff", "does not start with a format version"),
    (b"\x81\x18\x01", "does not start with a format version"),
    (b"\x82\x01\xc1\x01", "not well-formed CBOR"),
    (b"\x82\x01\xf9\x3c\x00", "malformed|wrong number"),
    (b"\x83\x01\x46\x00\x00\x00\x00\x00\x00", "not well-formed CBOR"),
    (b"\x81\x01\x00", "trailing bytes"),
    (bytes(5000), "impossible length"),
])
def test_malformed_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        decode(data)


def test_indefinite_length_strings_are_refused():
    header = cbor2.loads(encode(fixture("minimal")))[1]
    data = b"\x83\x01" + cbor2.dumps(header) + b"\x7f\x61J\xff"
    with pytest.raises(ValueError, match="not well-formed CBOR"):
        decode(data)


def test_wrong_header_length_is_refused():
    fields = cbor2.loads(encode(fixture("typical")))
    fields[1] = fields[1][:-1]
    with pytest.raises(ValueError, match="header"):
        decode(cbor2.dumps(fields))


def test_sections_not_matching_the_header_are_refused():
    fields = cbor2.loads(encode(fixture("typical")))
    with pytest.raises(ValueError, match="do not match"):
        decode(cbor2.dumps(fields[:-1]))


def test_codes_beyond_the_table_are_refused():
    fields = cbor2.loads(encode(fixture("typical")))
    fields[3][0] = len(vocab.ALLERGENS_V1)
    with pytest.raises(ValueError, match="not in this version's table"):
        decode(cbor2.dumps(fields))


def test_a_decoded_summary_that_breaks_the_rules_is_refused():
    fields = cbor2.loads(encode(fixture("typical")))
    fields[3][0] = None  # an allergy without a substance
    with pytest.raises(ValueError, match="invalid summary"):
        decode(cbor2.dumps(fields))


def test_decode_wants_bytes():
    with pytest.raises(TypeError):
        decode("not bytes")  # type: ignore[arg-type]
    assert decode(bytearray(encode(fixture("typical")))) == fixture("typical")


def test_every_truncation_of_a_valid_encoding_is_refused():
    encoded = encode(fixture("heavy"))
    for end in range(len(encoded)):
        with pytest.raises(ValueError):
            decode(encoded[:end])


@pytest.mark.parametrize("name", ["typical", "heavy"])
def test_every_single_bit_flip_decodes_to_a_valid_summary_or_is_refused(name):
    encoded = encode(fixture(name))
    for position in range(len(encoded) * 8):
        mutated = bytearray(encoded)
        mutated[position // 8] ^= 1 << (position % 8)
        assert_decodes_to_a_valid_summary_or_refuses(bytes(mutated))


def test_every_single_byte_replacement_of_the_typical_encoding_is_safe():
    encoded = encode(fixture("typical"))
    for position in range(len(encoded)):
        for value in range(256):
            mutated = bytearray(encoded)
            mutated[position] = value
            assert_decodes_to_a_valid_summary_or_refuses(bytes(mutated))


# ------------------------------------------------------------------ frozen tables

# Length and SHA-256 of each table as issued in format version 1. Appending
# entries keeps these prefixes intact; changing one breaks every printed tag.
TABLES_V1 = {
    "ALLERGENS_V1": (113, "f5c25dcf77ddaffe617363b6be64aa5874bc34cab9afb2d3fa4cca1dcfad603f"),
    "REACTIONS_V1": (70, "ec1d07dc9eb17cdd8e785210a9341c3c41ae6abe2f3c05d8fbe9d767b7b44484"),
    "DRUGS_V1": (252, "ef58c091d8c52eb5f80dccaac0db134c9930b1dbc520ac8c72ee2707888aac1f"),
    "DOSES_V1": (80, "758da6ec11bbb74d6a21db17cb201b8a8326ef2b45c88b8f2f1826234589d14b"),
    "FREQUENCIES_V1": (64, "fad5f3049cd8db88bdc2c5af5304ce43e479ffe5c4116481c880e6bcef1b4c77"),
    "CONDITIONS_V1": (156, "0db9def17704cb77a672a7b193876ba17afc960c7e4ed1ebf65bf4be1e3eeeff"),
    "RELATIONSHIPS_V1": (67, "fde142d0a7e6dd9cc85d8736eb17ea7b94944405bbc877b23d06efd7253c132a"),
    "BASELINE_VALUES_V1": (41, "17dd9d983271df7dce406b7b47ddcc9b667b545a151284874f3e3939e224afbb"),
    "LANGUAGES_V1": (108, "4f603ab87149cc35667b3c76dc78ff2b6c6dbdfd1c4959abb84bce42f730c961"),
    "DOSE_UNITS_V1": (28, "289e0a18483fce05a0b8bd96b446ae732890f1e3c62444dd4975b3f07f44befe"),
}
DICTIONARY_1_SHA256 = "4df5bc364af38e23c6197e66af8610d6d5c408e7aa4053eabcd0d0099edfdb13"


@pytest.mark.parametrize("name", sorted(TABLES_V1))
def test_code_tables_only_ever_grow_at_the_end(name):
    length, digest = TABLES_V1[name]
    table = getattr(vocab, name)
    assert hashlib.sha256("\n".join(table[:length]).encode()).hexdigest() == digest, (
        f"vocab.{name} changed an existing entry: that breaks every issued tag"
    )


def test_deflate_dictionary_1_never_changes():
    assert hashlib.sha256(compact.DICTIONARIES[1]).hexdigest() == DICTIONARY_1_SHA256, (
        "dictionary 1 changed: add a new dictionary id instead"
    )
    assert compact.CURRENT_DICT_ID in compact.DICTIONARIES
    assert len(compact.DICTIONARIES[1]) <= 32768  # deflate's window


@pytest.mark.parametrize("name", sorted(TABLES_V1))
def test_table_entries_are_unique_and_already_normalised(name):
    table = getattr(vocab, name)
    assert len(set(table)) == len(table)
    for entry in table:
        assert entry == unicodedata.normalize("NFC", entry).strip() and entry
        assert len(entry) <= 80


def test_dose_units_fit_their_reserved_slots():
    assert len(vocab.DOSE_UNITS_V1) <= vocab.DOSE_UNIT_SLOTS


# ------------------------------------------------------------------ properties

UNICODE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
SURNAMES = ["Smith", "Jones", "Żółć", "O'Neil", "Nguyễn", "李"]


def words(table: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Table entries as typed, in another case, or as free text."""
    return st.sampled_from(table).flatmap(
        lambda word: st.sampled_from([word, word.lower(), word.upper(), word.swapcase(), word[:-1]])
    ).filter(str.strip)


def free_text(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(UNICODE, min_size=1, max_size=limit // 3),
        st.from_regex(r"[A-Za-z][A-Za-z '\-]{0,30}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9 ,.%\-]{1,30}", fullmatch=True),
    ).filter(str.strip)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


PHONES = st.from_regex(r"\+?[0-9][0-9 ()\-]{1,16}[0-9]", fullmatch=True).filter(
    lambda p: 3 <= sum(c.isdigit() for c in p) <= 15
)
NHS = st.integers(0, 10**9 - 1).map(lambda n: f"{n:09d}").filter(
    lambda d: summary.nhs_check_digit(d) is not None
).map(lambda d: d + str(summary.nhs_check_digit(d)))
DOSES = st.one_of(words(vocab.DOSES_V1), free_text(40), st.from_regex(
    r"(0|[1-9][0-9]{0,7})(\.[0-9]{1,3})? ?(mg|units|ml|%|g|mcg|litres/min)", fullmatch=True
))


def drop_none(**fields) -> dict:
    return {key: value for key, value in fields.items() if value is not None}


@st.composite
def summaries(draw) -> dict:
    surname = draw(st.one_of(st.sampled_from(SURNAMES), free_text(20)))
    name = draw(st.one_of(free_text(60), free_text(30).map(lambda g: f"{g} {surname}")))
    born = draw(st.dates(summary.EARLIEST_DATE, TODAY))
    issued = draw(st.dates(born, summary.LATEST_DATE - timedelta(days=1)))
    review = draw(optional(st.dates(issued + timedelta(days=1), summary.LATEST_DATE)))
    verified = draw(st.booleans())
    allergies = draw(st.lists(st.builds(
        drop_none,
        substance=st.one_of(words(vocab.ALLERGENS_V1), free_text(60)),
        reaction=optional(st.one_of(words(vocab.REACTIONS_V1), free_text(60))),
        severity=optional(st.sampled_from(summary.SEVERITIES)),
    ), max_size=3))
    data = {
        "identity": drop_none(
            name=name, date_of_birth=born.isoformat(), nhs_number=draw(optional(NHS)),
            sex=draw(optional(st.sampled_from(summary.SEXES))),
        ),
        "alerts": draw(st.lists(st.builds(
            drop_none, code=st.sampled_from(summary.ALERT_CODES),
            text=st.one_of(words(vocab.DRUGS_V1), free_text(100)),
        ), max_size=3)),
        "allergies": allergies,
        "medications": draw(st.lists(st.builds(
            drop_none, name=st.one_of(words(vocab.DRUGS_V1), free_text(80)),
            dose=optional(DOSES),
            frequency=optional(st.one_of(words(vocab.FREQUENCIES_V1), free_text(40))),
        ), max_size=4)),
        "conditions": draw(st.lists(st.builds(
            drop_none, name=st.one_of(words(vocab.CONDITIONS_V1), free_text(80))
        ), max_size=3)),
        "baseline": draw(st.lists(st.builds(
            drop_none, kind=st.sampled_from(summary.BASELINE_KINDS),
            value=st.one_of(words(vocab.BASELINE_VALUES_V1), free_text(60)),
        ), max_size=2)),
        "contacts": draw(st.lists(st.builds(
            drop_none,
            name=st.one_of(free_text(40), free_text(20).map(lambda g: f"{g} {surname}")),
            relationship=optional(st.one_of(words(vocab.RELATIONSHIPS_V1), free_text(30))),
            phone=PHONES,
        ), max_size=2)),
        "meta": drop_none(
            issued=issued.isoformat(), review=review and review.isoformat(),
            source="clinician-verified" if verified else "self-reported",
            verified_by=draw(free_text(80)) if verified else None,
        ),
    }
    if draw(st.booleans()):
        data["gp"] = drop_none(name=draw(optional(free_text(80))), phone=draw(optional(PHONES)))
    for key, strategy in (("language", words(vocab.LANGUAGES_V1)), ("note", free_text(160))):
        if (value := draw(optional(strategy))) is not None:
            data[key] = value
    if not allergies and draw(st.booleans()):
        data["no_known_allergies"] = True
    try:
        return summary.validate(data, today=TODAY)
    except summary.SummaryError:
        assume(False)
        raise


PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(summaries())
def test_any_valid_summary_round_trips_exactly(data):
    assert decode(encode(data)) == data


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_value_error(data):
    assert_decodes_to_a_valid_summary_or_refuses(data)


@PROPERTY_SETTINGS
@given(st.integers(0x81, 0x97), st.binary(max_size=300))
def test_random_bytes_after_a_valid_start_raise_nothing_but_value_error(header, rest):
    assert_decodes_to_a_valid_summary_or_refuses(bytes([header, compact.COMPACT_VERSION]) + rest)


@PROPERTY_SETTINGS
@given(summaries(), st.data())
def test_single_byte_mutations_decode_to_a_valid_summary_or_are_refused(data, draw):
    encoded = bytearray(encode(data))
    position = draw.draw(st.integers(0, len(encoded) - 1))
    encoded[position] = draw.draw(st.integers(0, 255).filter(lambda b: b != encoded[position]))
    assert_decodes_to_a_valid_summary_or_refuses(bytes(encoded))


@PROPERTY_SETTINGS
@given(summaries())
def test_validating_a_normalised_summary_changes_nothing(data):
    assert summary.validate(data, today=TODAY) == data

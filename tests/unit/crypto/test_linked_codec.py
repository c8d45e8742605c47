"""Format v2 (linked tag), the pure part: the card's text, the QR size, and the sealed record."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cards import qr
from tagservice import crypto, linked
from tests.helpers import fixture

HOST_26 = "https://tag.example.nhs.uk"
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
KEYSET = crypto.KeySet.from_private(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
SUMMARY = fixture("summary-typical.json")
CARD_KEY = bytes(range(16))


# ------------------------------------------------------------------ the card's text and QR


def test_a_linked_url_with_a_26_character_https_host_is_a_version_3_m_qr_code():
    assert len(HOST_26) == 26
    for card_key in (b"\x00" * 16, b"\xff" * 16, CARD_KEY):  # every key has 39 digits
        code = qr.make_qr(linked.tag_url(HOST_26, card_key))
        assert (code.version, code.error) == (3, "M")


def test_the_version_3_code_decodes_with_zxing_cpp_to_the_same_url():
    url = linked.tag_url(HOST_26, b"\xff" * 16)
    image = Image.open(io.BytesIO(qr.qr_png(url, scale=4)))
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.text == url
    assert linked.decode_payload(barcode.text) == b"\xff" * 16


def test_the_card_key_is_the_numeric_segment_after_an_alphanumeric_prefix():
    url = linked.tag_url(HOST_26, CARD_KEY)
    assert url.startswith("HTTPS://TAG.EXAMPLE.NHS.UK/L/")
    assert len(url) - len("HTTPS://TAG.EXAMPLE.NHS.UK/L/") == linked.DIGITS == 39
    # a single alphanumeric segment for the same URL needs a bigger code
    single = qr.segno.make_qr(url, error="m", mode="alphanumeric", boost_error=False)
    assert single.version > qr.make_qr(url).version


@given(st.binary(min_size=16, max_size=16))
def test_any_card_key_round_trips_through_its_url(card_key):
    assert linked.decode_payload(linked.tag_url(HOST_26, card_key)) == card_key
    assert linked.decode_payload(linked.encode_payload(card_key)) == card_key


def test_a_payload_of_the_right_length_in_lower_case_route_is_read():
    url = linked.tag_url(HOST_26, CARD_KEY).lower()
    assert linked.decode_payload(url) == CARD_KEY


# Refusals, each before any other work: exactly one spelling per card key.
MAX = str(2**128 - 1)


@pytest.mark.parametrize(
    "payload, why",
    [
        (MAX[:-1], "one digit short"),
        ("0" + MAX, "one digit too many (a leading zero is a second spelling)"),
        (str(2**128).zfill(39), "2**128: past the byte length"),
        ("9" * 39, "the largest 39-digit number, far past 2**128"),
        ("٣" + MAX[1:], "an Arabic-Indic digit is a digit, but not an ASCII one"),
        ("３" + MAX[1:], "a full-width digit"),
        (MAX[:-1] + "a", "a letter"),
        (MAX[:20] + " " + MAX[20:-1], "a space inside"),
        ("+" + MAX[1:], "a sign"),
        ("", "nothing"),
    ],
)
def test_a_numeric_payload_with_another_spelling_is_refused(payload, why):
    with pytest.raises(crypto.InvalidTag):
        linked.decode_payload(payload)
    with pytest.raises(crypto.InvalidTag):
        linked.decode_payload(f"HTTPS://TAG.EXAMPLE.NHS.UK/L/{payload}")


def test_a_short_numeric_payload_says_only_part_was_read():
    with pytest.raises(crypto.TruncatedTag):
        linked.decode_payload(MAX[:20])


@pytest.mark.parametrize(
    "text",
    [
        f"HTTPS://H/L/X/L/{MAX}",  # two route marks
        f"HTTPS://H/?next=/L/{MAX}",  # the mark inside a query
        f"HTTPS://H/#/L/{MAX}",  # or a fragment
        f"HTTPS://H/L/{MAX}?x=1",  # a query after the key
        "1" * 5000,  # far too long: refused before it is searched
    ],
)
def test_a_url_that_is_not_exactly_a_linked_tag_url_is_refused(text):
    with pytest.raises(crypto.InvalidTag):
        linked.decode_payload(text)


def test_bare_digits_and_l_urls_are_routed_to_the_linked_decoder_and_v1_text_is_not():
    assert linked.is_linked(MAX)
    assert linked.is_linked(f"https://h/l/{MAX}")
    assert linked.is_linked("٣٣")  # so that it is refused by the strict decoder, not v1's
    assert not linked.is_linked("HTTPS://H/T/ABCDEF234567")
    assert not linked.is_linked("ABCDEF234567")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_the_decoder_only_ever_returns_a_16_byte_key_or_refuses(text):
    try:
        card_key = linked.decode_payload(text)
    except crypto.InvalidTag:
        return
    assert len(card_key) == 16
    assert linked.encode_payload(card_key) in text


# ------------------------------------------------------------------ the sealed record


def test_the_tag_id_is_derived_from_the_card_key_and_reveals_nothing_of_it():
    tag_id = linked.tag_id_of(CARD_KEY)
    assert len(tag_id) == 8
    assert tag_id == linked.tag_id_of(CARD_KEY)
    assert tag_id != linked.tag_id_of(bytes(16))
    assert tag_id not in CARD_KEY


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.integers(min_value=1, max_value=2**32 - 1))
def test_a_record_round_trips_for_any_card_key_and_revision(card_key, revision):
    record = linked.seal(SUMMARY, card_key, KEYSET, NOW, revision=revision)
    assert record.header.revision == revision
    opened = linked.open_record(record, card_key, KEYSET, NOW)
    assert opened.summary["identity"]["name"] == SUMMARY["identity"]["name"]
    assert opened.header.tag_id == linked.tag_id_of(card_key)


def test_the_stored_record_does_not_contain_the_card_key_or_the_summary_in_clear():
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)
    stored = record.body + record.signature
    assert CARD_KEY not in stored
    assert SUMMARY["identity"]["name"].encode() not in stored


def test_the_database_and_every_server_key_without_the_card_do_not_open_the_record():
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)
    for guess in (bytes(16), linked.tag_id_of(CARD_KEY) * 2):
        with pytest.raises(crypto.InvalidTag):
            linked.open_record(record, guess, KEYSET, NOW)


def test_the_card_without_the_server_secret_does_not_open_the_record():
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)
    issuer, _ = KEYSET.signing
    other = crypto.KeySet(
        issuers=KEYSET.issuers,
        readers={KEYSET.sealing[0]: X25519PrivateKey.generate()},  # same kid, another secret
        signing=KEYSET.signing,
    )
    with pytest.raises(crypto.DecryptionFailed):
        linked.open_record(record, CARD_KEY, other, NOW)
    assert issuer  # the issuer key alone signs, it never decrypts


def test_the_summary_key_needs_both_the_card_key_and_the_server_secret():
    tag_id = linked.tag_id_of(CARD_KEY)
    base = linked.summary_key(CARD_KEY, b"s" * 32, tag_id)
    assert base != linked.summary_key(bytes(16), b"s" * 32, tag_id)
    assert base != linked.summary_key(CARD_KEY, b"t" * 32, tag_id)


def test_a_record_signed_by_another_issuer_is_refused_before_decrypting():
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)
    forged = linked.SealedRecord(record.body, Ed25519PrivateKey.generate().sign(record.body))
    with pytest.raises(crypto.BadSignature):
        linked.open_record(forged, CARD_KEY, KEYSET, NOW)


def test_a_record_moved_into_another_cards_row_is_refused():
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)
    with pytest.raises(crypto.BadSignature):
        linked.verify_record(record, KEYSET, linked.tag_id_of(bytes(16)))


def test_every_single_bit_flip_of_the_stored_record_is_refused():
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)
    for i in range(len(record.body) * 8):
        body = bytearray(record.body)
        body[i // 8] ^= 1 << (i % 8)
        with pytest.raises(crypto.InvalidTag):
            linked.open_record(linked.SealedRecord(bytes(body), record.signature), CARD_KEY,
                               KEYSET, NOW)


def test_an_old_revision_cannot_pass_for_a_new_one():
    # the revision is in the signed header and the AEAD data: it cannot be rewritten
    record = linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW, revision=1)
    header = record.body[: linked.HEADER_BYTES]
    bumped = header[:-4] + (2).to_bytes(4, "big") + record.body[linked.HEADER_BYTES :]
    with pytest.raises(crypto.BadSignature):
        linked.verify_record(linked.SealedRecord(bumped, record.signature), KEYSET,
                             linked.tag_id_of(CARD_KEY))


def test_a_summary_larger_than_the_linked_limit_is_refused(monkeypatch):
    # the summary schema bounds every list and text well below the limit; the cap is
    # the last guard, so shrink it to show it holds
    monkeypatch.setattr(linked, "MAX_SUMMARY_BYTES", 20)
    with pytest.raises(ValueError, match="at most 20 bytes"):
        linked.seal(SUMMARY, CARD_KEY, KEYSET, NOW)


@settings(max_examples=400, deadline=None)
@given(
    st.binary(min_size=16, max_size=16),
    st.integers(min_value=0, max_value=80),
    st.sampled_from(["delete", "insert", "replace"]),
    st.characters(codec="utf-8"),
)
def test_edits_of_a_real_linked_url_are_refused_or_give_a_key_that_spells_the_same(
    card_key, position, edit, char
):
    url = linked.tag_url(HOST_26, card_key)
    i = position % (len(url) + 1)
    edited = {
        "delete": url[:i] + url[i + 1 :],
        "insert": url[:i] + char + url[i:],
        "replace": url[:i] + char + url[i + 1 :],
    }[edit]
    try:
        decoded = linked.decode_payload(edited)
    except crypto.InvalidTag:
        return
    # anything accepted is exactly one card key's one spelling, at the end of the text
    assert edited.rstrip().endswith(linked.encode_payload(decoded))

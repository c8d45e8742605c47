"""One rule per guard in crypto.py that nothing else pins: each test fails if its guard goes.

A cryptographic review (issue 16, item 5) found six checks in the decoder that
no test noticed being deleted. Each test below was checked by deleting its guard
and watching it fail (the mutation check recorded in the issue's report).
"""

from __future__ import annotations

import tracemalloc
import zlib
from datetime import UTC, datetime

import pytest

from tagservice import crypto
from tests.helpers import fixture
from tests.vectors.make_vectors import keyset

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def good_tag() -> bytes:
    return crypto._seal(fixture("summary-typical.json"), keyset(), NOW, tag_id=bytes(8))


def test_a_non_ascii_letter_whose_upper_case_is_ascii_is_not_a_base32_symbol():
    # Given "ſ" (long s), whose upper case is "S", in place of an "S"
    assert "ſ".upper() == "S"
    assert crypto.decode_payload("sSSSSSSS") == crypto.decode_payload("SSSSSSSS")
    # Then only ASCII case folds (docs/tag-format.md section 1): one spelling per tag
    with pytest.raises(crypto.MalformedTag):
        crypto.decode_payload("ſSSSSSSS")


@pytest.mark.parametrize("length", [1, 3, 6, 9, 11, 14, 17])
def test_a_payload_length_no_byte_string_has_is_refused_even_with_zero_spare_bits(length):
    # 1, 3 or 6 symbols past a multiple of 8 never come out of base32 encoding; read
    # anyway, "A" * 9 would be a second spelling of the five zero bytes "A" * 8 spells.
    with pytest.raises(crypto.MalformedTag):
        crypto.decode_payload("A" * length)


@pytest.mark.parametrize("length", [2, 4, 5, 7, 8, 10])
def test_every_payload_length_base32_can_produce_is_read(length):
    assert crypto.decode_payload("A" * length) == bytes(5 * length // 8)


def test_signed_tag_bytes_longer_than_the_maximum_are_refused_before_decrypting():
    # Given a tag our own issuer signed, 1025 bytes long, handed over as bytes (the
    # text path cannot carry it: its base32 is longer than the payload cap)
    ks = keyset()
    header = crypto.Header(1, 0, ks.signing[0], ks.sealing[0], bytes(8), 0)
    tag = crypto._assemble(header, bytes(crypto.MAX_TAG_BYTES + 1 - crypto.OVERHEAD_BYTES), ks)
    assert len(tag) == crypto.MAX_TAG_BYTES + 1
    # Then verifying step 3 refuses it (and a byte shorter passes to the next steps)
    with pytest.raises(crypto.MalformedTag, match="far too long"):
        crypto.verify_tag(tag, ks)
    shorter = crypto._assemble(header, bytes(crypto.MAX_TAG_BYTES - crypto.OVERHEAD_BYTES), ks)
    assert crypto.verify_tag(shorter, ks).tag_id == bytes(8)


def test_opening_a_tag_under_the_header_of_another_tag_is_a_caller_error(good_tag):
    ks = keyset()
    other = crypto._seal(fixture("summary-minimal.json"), ks, NOW, tag_id=bytes([7]) * 8)
    # Given the verified header of one tag and the bytes of another (both genuine)
    header = crypto.verify_tag(good_tag, ks)
    # Then open_verified refuses to decrypt rather than open bytes nobody verified
    with pytest.raises(ValueError, match="verified header"):
        crypto.open_verified(other, header, ks, NOW)


def test_inflating_a_bomb_stops_at_the_cap_without_building_the_whole_output():
    # Given 20 MB of zeros deflated to about 20 kB
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(bytes(20_000_000)) + deflater.flush()
    # When it is inflated, memory stays near the 4 kB cap: the input the capped
    # decompress() left unread (unconsumed_tail) is refused, never flushed
    tracemalloc.start()
    try:
        with pytest.raises(crypto.OversizePayload):
            crypto.inflate(bomb, b"")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"inflate held {peak} bytes at its peak"


def test_a_text_longer_than_any_tag_url_is_refused_even_if_it_ends_in_a_real_tag(good_tag):
    # Given a real tag URL behind a host so long that the whole text passes the cap
    payload = crypto.encode_payload(good_tag)
    text = f"https://{'h' * crypto._MAX_TEXT_CHARS}/T/{payload}"
    assert crypto.decode_payload(f"https://h/T/{payload}") == good_tag
    # Then it is refused whole, before it is searched (verifying step 1)
    with pytest.raises(crypto.MalformedTag, match="far too long"):
        crypto.decode_payload(text)


def test_a_payload_longer_than_the_longest_tag_is_refused_before_it_is_decoded():
    # Given 1640 symbols: a whole number of bytes (1025), one symbol past the cap
    payload = "A" * (crypto._B32_MAX_CHARS + 1)
    assert len(payload) % 8 == 0
    # Then step 1 refuses it; no byte string is built from it
    with pytest.raises(crypto.MalformedTag, match="far too long"):
        crypto.decode_payload(payload)

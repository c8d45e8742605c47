"""The tag format (docs/tag-format.md): vectors, round trips, and hostile input."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagservice import crypto
from tagservice.summary import compact
from tagservice.summary import model as summary
from tests.paths import FIXTURES, VECTORS
from tests.vectors import make_vectors
from tests.vectors.make_vectors import KEYS, keyset

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def load_vectors(name: str) -> list[dict]:
    doc = json.loads((VECTORS / f"{name}.json").read_text())
    assert doc["keys"] == KEYS, "vectors were made with other keys"
    return doc["vectors"]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def keys_named(name: str) -> crypto.KeySet:
    ks = keyset()
    if name == "issuer-retired":
        return replace(ks, issuers={}, retired=frozenset({ks.signing[0]}))
    if name == "reader-retired":
        return replace(ks, readers={}, retired=frozenset({ks.sealing[0]}))
    return ks


@pytest.fixture(scope="module")
def good_tag() -> bytes:
    return crypto._seal(fixture("summary-typical.json"), keyset(), NOW, tag_id=bytes(8))


# ------------------------------------------------------------------ vectors


@pytest.mark.parametrize("vector", load_vectors("issue"), ids=lambda v: v["desc"])
def test_issue_vector_reproduces_header_plaintext_and_length(vector):
    # Issuing steps 1-8 with a fixed tag id and time.
    now = datetime.fromisoformat(vector["now"])
    tag = crypto._seal(
        fixture(vector["summary_file"]), keyset(), now, tag_id=bytes.fromhex(vector["tag_id"])
    )
    assert tag[: crypto.HEADER_BYTES].hex() == vector["header"]
    assert len(tag) == vector["tag_length"]
    # HPKE is randomised: prove the ciphertext holds exactly the expected plaintext.
    ks = keyset()
    sealed = tag[crypto.HEADER_BYTES : -crypto.SIGNATURE_BYTES]
    info = crypto.HPKE_INFO + tag[: crypto.HEADER_BYTES]
    assert crypto._SUITE.decrypt(sealed, ks.reader(ks.sealing[0]), info=info).hex() == (
        vector["plaintext"]
    )


@pytest.mark.parametrize("vector", load_vectors("verify"), ids=lambda v: v["desc"])
def test_verify_vector_opens_to_the_expected_summary(vector):
    opened = crypto.open_tag(vector["tag"], keyset(), datetime.fromisoformat(vector["now"]))
    assert opened.summary == vector["summary"]
    assert opened.header.tag_id_hex == vector["tag_id"]


@pytest.mark.parametrize("vector", load_vectors("invalid"), ids=lambda v: v["desc"])
def test_invalid_vector_is_refused_with_its_own_reason(vector):
    error = getattr(crypto, vector["error"])
    with pytest.raises(error) as caught:
        crypto.open_tag(vector["tag"], keys_named(vector["keys"]), NOW)
    assert type(caught.value) is error
    assert str(caught.value), "every refusal carries a message a person can act on"


@pytest.mark.parametrize("name", list(make_vectors.MAKERS))
def test_regenerating_the_vectors_rewrites_each_file_byte_for_byte(name):
    # docs/tag-format.md section 8: published vectors never change, and the script
    # makes the rest deterministically (the same bytes from an empty folder twice).
    published = (VECTORS / f"{name}.json").read_text()
    assert make_vectors.render(name, json.loads(published)) == published
    assert make_vectors.render(name, None) == make_vectors.render(name, None)


def test_every_invalid_tag_error_is_a_distinct_subclass():
    names = {v["error"] for v in load_vectors("invalid")}
    classes = {getattr(crypto, n) for n in names}
    assert len(classes) == len(names) >= 10
    assert all(issubclass(c, crypto.InvalidTag) and c is not crypto.InvalidTag for c in classes)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("name", ["summary-typical.json", "summary-heavy.json"])
def test_sealed_fixture_opens_to_the_validated_summary_with_todays_issue_date(name):
    tag = crypto.seal(fixture(name), keyset(), NOW)
    opened = crypto.open_tag(crypto.tag_url("https://tag.example", tag), keyset(), NOW)
    expected = summary.validate(fixture(name))
    expected["meta"]["issued"] = "2026-11-27"
    assert opened.summary == expected
    assert opened.warnings == ()


def test_two_tags_of_the_same_summary_differ_in_id_and_ciphertext():
    a = crypto.seal(fixture("summary-typical.json"), keyset(), NOW)
    b = crypto.seal(fixture("summary-typical.json"), keyset(), NOW)
    assert a[10:18] != b[10:18]
    assert a[crypto.HEADER_BYTES :] != b[crypto.HEADER_BYTES :]


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s and s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_text, drug=_text, note=st.none() | _text)
def test_any_unicode_summary_round_trips(name, drug, note):
    data = fixture("summary-typical.json")
    data["identity"]["name"] = name
    data["medications"][0]["name"] = drug
    if note is not None:
        data["note"] = note
    try:
        expected = summary.validate(data)
    except summary.SummaryError:
        return  # not a valid summary: nothing to seal
    tag = crypto.seal(expected, keyset(), NOW)
    assert crypto.open_tag(tag, keyset(), NOW).summary == {
        **expected,
        "meta": {**expected["meta"], "issued": "2026-11-27"},
    }


# ------------------------------------------------------------------ hostile input


def test_every_single_bit_flip_of_a_valid_tag_is_refused(good_tag):
    ks = keyset()
    for i in range(len(good_tag) * 8):
        flipped = bytearray(good_tag)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(crypto.InvalidTag):
            crypto.open_tag(bytes(flipped), ks, NOW)


def test_every_truncation_and_any_extension_is_refused(good_tag):
    ks = keyset()
    for n in range(len(good_tag)):
        with pytest.raises(crypto.InvalidTag):
            crypto.open_tag(good_tag[:n], ks, NOW)
    for extra in (b"\x00", b"\xff" * 7):
        with pytest.raises(crypto.BadSignature):
            crypto.open_tag(good_tag + extra, ks, NOW)


def test_signature_is_checked_before_the_header_is_parsed(good_tag):
    # Verifying step 6 before 7: an unsigned change to reserved flags is a bad
    # signature, not a malformed header.
    tampered = good_tag[:1] + bytes([good_tag[1] | 0x80]) + good_tag[2:]
    with pytest.raises(crypto.BadSignature):
        crypto.open_tag(tampered, keyset(), NOW)


@pytest.mark.parametrize("prefix", ["HTTP://127.0.0.1:8000/T/", "https://x.example/t/", ""])
def test_payload_is_found_in_any_case_of_url_or_bare(good_tag, prefix):
    text = prefix + crypto.encode_payload(good_tag)
    assert crypto.decode_payload(text) == good_tag
    assert crypto.decode_payload(text.lower()) == good_tag


def test_rotation_keeps_old_tags_readable_and_new_tags_use_the_new_key(good_tag):
    old = keyset()
    new = keyset("other_issuer", "other_reader")
    both = crypto.KeySet(
        issuers={**old.issuers, **new.issuers},
        readers={**old.readers, **new.readers},
        signing=new.signing,
        sealing=new.sealing,
    )
    assert crypto.open_tag(good_tag, both, NOW).header.issuer_kid == old.signing[0]
    fresh = crypto.seal(fixture("summary-typical.json"), both, NOW)
    assert crypto.verify_tag(fresh, both).issuer_kid == new.signing[0]
    with pytest.raises(crypto.UnknownKey):
        crypto.open_tag(fresh, old, NOW)


def test_review_date_passed_and_future_issue_date_give_warnings():
    data = fixture("summary-heavy.json")  # review 2027-05-01
    tag = crypto.seal(data, keyset(), NOW)
    later = datetime(2027, 6, 1, tzinfo=UTC)
    assert any("review date" in w for w in crypto.open_tag(tag, keyset(), later).warnings)
    earlier = datetime(2026, 11, 1, tzinfo=UTC)
    assert any("clock" in w for w in crypto.open_tag(tag, keyset(), earlier).warnings)


def test_deflate_is_used_only_when_it_makes_the_payload_smaller():
    encoded = compact.encode(summary.validate(fixture("summary-heavy.json")))
    plaintext, flags, dict_id = crypto.compress(encoded)
    assert len(plaintext) <= len(encoded)
    if flags:
        assert dict_id == compact.CURRENT_DICT_ID
        assert crypto.inflate(plaintext, compact.DICTIONARIES[dict_id]) == encoded
    tiny_incompressible = bytes(range(7))
    assert crypto.compress(tiny_incompressible) == (tiny_incompressible, 0, 0)


def test_inflate_refuses_a_bomb_without_producing_it():
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(bytes(50_000_000)) + bomb.flush()
    with pytest.raises(crypto.OversizePayload):
        crypto.inflate(data, b"")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_invalid_tag(data):
    with pytest.raises(crypto.InvalidTag):
        crypto.open_tag(data, keyset(), NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=900))
def test_random_text_raises_only_invalid_tag(text):
    with pytest.raises(crypto.InvalidTag):
        crypto.open_tag(text, keyset(), NOW)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_valid_tags_raise_only_invalid_tag(good_tag, data):
    mutated = bytearray(good_tag)
    for _ in range(data.draw(st.integers(1, 4))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    if bytes(mutated) == good_tag:
        return
    with pytest.raises(crypto.InvalidTag):
        crypto.open_tag(bytes(mutated), keyset(), NOW)


def test_kid_is_the_first_four_bytes_of_sha256_of_the_raw_public_key():
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS["issuer"]))
    # RFC 8032 test 1 public key for this private key:
    raw = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert crypto.kid_of(key.public_key()) == hashlib.sha256(raw).digest()[:4]

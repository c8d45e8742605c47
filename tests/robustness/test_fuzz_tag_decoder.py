"""Fuzzing the tag decoder: whatever comes in, only InvalidTag (or the real tag) comes out.

tests/unit/crypto/test_crypto.py already throws random bytes, random text, byte
substitutions, every single-bit flip, truncations and extensions at
`open_tag`. This file adds what a scanner or an attacker sends as *text*:
edits of a real tag URL (insertions, deletions, substitutions, swaps, with
non-ASCII look-alikes, whitespace and padding among the characters), any mix
of case, huge inputs, and a coverage-guided run with atheris (long run only);
and, cheaply, the families behind the cryptographic review's vectors: a second
`/T/` mark or a query before it, a ciphertext under another (re-signed) header,
any other or low-order encapsulated key, S + kL signatures, and streams deflated
with other dictionaries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagservice import crypto
from tagservice.summary import compact
from tagservice.summary import model as summary
from tests.helpers import fixture
from tests.vectors.make_vectors import keyset

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
KEYS = keyset()
TAG = crypto.seal(fixture("summary-typical.json"), KEYS, NOW)
URL = crypto.tag_url("https://tag.example.nhs.uk", TAG)
PAYLOAD = crypto.encode_payload(TAG)
HERE = Path(__file__).parent

# Characters an edit may insert: the alphabet, its lower case, padding, separators,
# whitespace, and non-ASCII look-alikes whose upper case is ASCII ("ſ" -> "S", "ı" -> "I").
EDIT_CHARS = st.one_of(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz=/:.-_ 01890"),
    st.sampled_from(["ſ", "ı", "ﬀ", "ß", "K", "Ａ", "А", "\u200b", "\t", "\n", "\x00", "é"]),
    st.characters(codec="utf-8"),
)


def opens_to_the_real_tag_or_is_refused(text: str) -> None:
    """The rule under test: a clean refusal, or exactly the real tag and its summary."""
    try:
        opened = crypto.open_tag(text, KEYS, NOW)
    except crypto.InvalidTag:
        return
    assert crypto.decode_payload(text) == TAG
    assert opened.summary["identity"]["name"] == "Jane Smith"


@st.composite
def edited(draw, text: str) -> str:
    chars = list(text)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("insert", "delete", "replace", "swap")))
        at = draw(st.integers(0, max(0, len(chars) - 1)))
        if op == "insert":
            chars.insert(at, draw(EDIT_CHARS))
        elif op == "delete" and chars:
            del chars[at]
        elif op == "replace" and chars:
            chars[at] = draw(EDIT_CHARS)
        elif op == "swap" and at + 1 < len(chars):
            chars[at], chars[at + 1] = chars[at + 1], chars[at]
    return "".join(chars)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited(URL))
def test_edits_of_a_real_tag_url_are_refused_or_open_to_the_real_tag(text):
    opens_to_the_real_tag_or_is_refused(text)


@settings(max_examples=200, deadline=None)
@given(edited(PAYLOAD))
def test_edits_of_a_bare_payload_are_refused_or_open_to_the_real_tag(text):
    opens_to_the_real_tag_or_is_refused(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=len(URL), max_size=len(URL)))
def test_any_mix_of_ascii_case_opens_the_same_tag(flips):
    text = "".join(c.lower() if flip else c for c, flip in zip(URL, flips, strict=True))
    assert crypto.open_tag(text, KEYS, NOW).summary == crypto.open_tag(URL, KEYS, NOW).summary


@pytest.mark.parametrize(
    "look_alike",
    ["ſ", "ı", "ﬀ", "ß", "\u212a", "Ａ", "А", "Ⅴ", "²"],
    ids=["long-s", "dotless-i", "ff-ligature", "sharp-s", "kelvin", "fullwidth-A", "cyrillic-A",
         "roman-5", "superscript-2"],
)  # fmt: skip
def test_a_non_ascii_look_alike_is_refused_even_where_its_upper_case_fits(look_alike):
    # Given a real payload with one symbol replaced by a character from outside ASCII
    upper = look_alike.upper()
    at = next((i for i, c in enumerate(PAYLOAD) if upper.startswith(c)), 5)
    text = PAYLOAD[:at] + look_alike + PAYLOAD[at + len(upper) :]
    # Then it is not a spelling of the tag (docs/tag-format.md section 1: only case folds)
    with pytest.raises(crypto.MalformedTag):
        crypto.decode_payload(text)


@pytest.mark.parametrize(
    "text",
    [
        "/t/" * 3_000_000,
        "x/T/" * 2_500_000,
        "A" * 10_000_000,
        URL[:-1] + "A" * 1_000_000,
        "https://" + "h" * 5_000_000 + "/T/" + PAYLOAD,
        "\u0660" * 2_000_000,
        "=" * 1_000_000,
    ],
    ids=["many-marks", "many-url-marks", "10MB-alphabet", "long-tail", "huge-host", "digits",
         "padding"],
)  # fmt: skip
def test_huge_inputs_are_refused_at_once_without_being_searched(text):
    started = time.process_time()
    with pytest.raises(crypto.MalformedTag):
        crypto.open_tag(text, KEYS, NOW)
    assert time.process_time() - started < 0.05


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=crypto.MIN_TAG_BYTES, max_size=4 * crypto.MAX_TAG_BYTES))
def test_huge_and_odd_length_binary_raises_only_invalid_tag(data):
    with pytest.raises(crypto.InvalidTag):
        crypto.open_tag(data, KEYS, NOW)


def test_opening_after_verifying_gives_what_open_tag_gives_and_needs_the_matching_header():
    header = crypto.verify_tag(TAG, KEYS)
    assert crypto.open_verified(TAG, header, KEYS, NOW) == crypto.open_tag(TAG, KEYS, NOW)
    other = crypto.seal(fixture("summary-minimal.json"), KEYS, NOW)
    with pytest.raises(ValueError, match="verified header"):
        crypto.open_verified(other, header, KEYS, NOW)


def test_valid_tag_bytes_inside_other_text_do_not_open():
    for text in (f"{URL} ", f"{URL}\n", f"{URL}=", f"{URL}#x", f"{URL}?a=1", f"<{URL}>"):
        with pytest.raises(crypto.MalformedTag):
            crypto.decode_payload(text)


# ------------------------------------------------ the cases of the cryptographic review
# (issue 16, item 5; the fixed cases are vectors in tests/vectors/invalid.json)

MARK = st.sampled_from(["/T/", "/t/"])
JUNK = st.text(alphabet="ABCXYZ234567abc/:.?#=&-_", max_size=12)


@settings(max_examples=150, deadline=None)
@given(before=JUNK, between=JUNK, first=MARK, second=MARK, payload_first=st.booleans())
def test_a_real_payload_behind_a_second_mark_never_opens(
    before, between, first, second, payload_first
):
    # two /T/ marks, whatever surrounds them and in whichever place the real payload is
    head = f"https://tag.example{before}{first}"
    text = (
        f"{head}{PAYLOAD}{between}{second}{PAYLOAD}"
        if payload_first
        else f"{head}{between}{second}{PAYLOAD}"
    )
    with pytest.raises(crypto.MalformedTag):
        crypto.decode_payload(text)


@settings(max_examples=100, deadline=None)
@given(path=JUNK, separator=st.sampled_from("?#"), query=JUNK, mark=MARK)
def test_a_query_or_fragment_before_the_mark_never_opens(path, separator, query, mark):
    text = f"https://tag.example/{path}{separator}{query}{mark}{PAYLOAD}"
    with pytest.raises(crypto.MalformedTag):
        crypto.decode_payload(text)


def _resigned(header: bytes, sealed: bytes) -> bytes:
    body = header + sealed
    return body + KEYS.signing[1].sign(body)


HEADER, SEALED = TAG[: crypto.HEADER_BYTES], TAG[crypto.HEADER_BYTES : -crypto.SIGNATURE_BYTES]


@settings(max_examples=60, deadline=None)
@given(tag_id=st.binary(min_size=8, max_size=8), flags=st.sampled_from([0, 1]))
def test_the_ciphertext_opens_under_its_own_header_only(tag_id, flags):
    # a validly signed tag whose header differs from the one the ciphertext was sealed under
    header = crypto.Header.from_bytes(HEADER)
    changed = crypto.Header(1, flags, header.issuer_kid, header.reader_kid, tag_id, flags)
    if changed.to_bytes() == HEADER:
        return
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_tag(_resigned(changed.to_bytes(), SEALED), KEYS, NOW)


_P = 2**255 - 19
_ORDER_8 = [int.from_bytes(bytes.fromhex(h), "little") for h in (
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
)]  # fmt: skip
# RFC 7748 small-order u-coordinates, their non-canonical spellings (u >= p), and each
# with the top bit set, which X25519 ignores.
LOW_ORDER = [
    (u + top).to_bytes(32, "little")
    for u in (0, 1, _P - 1, _P, _P + 1, *_ORDER_8)
    for top in (0, 2**255)
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LOW_ORDER) | st.binary(min_size=32, max_size=32))
def test_any_other_encapsulated_key_fails_decryption_cleanly(enc):
    if enc == SEALED[: crypto.ENC_BYTES]:
        return
    tag = _resigned(HEADER, enc + SEALED[crypto.ENC_BYTES :])
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_tag(tag, KEYS, NOW)


ED25519_L = 2**252 + 27742317777372353535851937790883648493


@pytest.mark.parametrize("k", range(1, 16))
def test_a_signature_with_s_plus_a_multiple_of_l_is_refused(k):
    s = int.from_bytes(TAG[-32:], "little") + k * ED25519_L
    if s >= 2**256:
        pytest.skip("does not fit 32 bytes")
    with pytest.raises(crypto.BadSignature):
        crypto.open_tag(TAG[:-32] + s.to_bytes(32, "little"), KEYS, NOW)


@settings(max_examples=60, deadline=None)
@given(zdict=st.binary(max_size=8000))
def test_a_stream_deflated_with_any_other_dictionary_gives_only_invalid_tag_or_a_summary(zdict):
    # Raw deflate carries no check of its dictionary: a stream made with another one may
    # inflate to other, still valid, text (docs/security.md, "Preset dictionaries"). The
    # rule here is that nothing but InvalidTag or a validated summary ever comes out.
    encoded = compact.encode(summary.validate(fixture("summary-heavy.json")))
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=zdict)
    stream = deflater.compress(encoded) + deflater.flush()
    header = crypto.Header.from_bytes(HEADER)
    deflated = crypto.Header(1, 1, header.issuer_kid, header.reader_kid, header.tag_id, 1)
    tag = crypto._assemble(deflated, stream, KEYS)
    try:
        opened = crypto.open_tag(tag, KEYS, NOW)
    except crypto.InvalidTag:
        return
    assert summary.validate(opened.summary) == opened.summary


@pytest.mark.slow
def test_atheris_finds_no_crash_in_the_decoder(tmp_path):
    """Coverage-guided fuzzing (libFuzzer through atheris), seeded with real tags."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n, name in enumerate(
        ("summary-typical.json", "summary-heavy.json", "summary-minimal.json")
    ):
        tag = crypto.seal(fixture(name), KEYS, NOW)
        (corpus / f"tag{n}").write_bytes(tag)
        (corpus / f"url{n}").write_bytes(crypto.tag_url("http://x", tag).encode())
    runs = os.environ.get("TAGSERVICE_ATHERIS_RUNS", "2000000")
    result = subprocess.run(
        [sys.executable, str(HERE / "atheris_tag.py"), f"-runs={runs}", "-max_len=4096",
         "-max_total_time=900", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done" in result.stderr, result.stderr[-2000:]

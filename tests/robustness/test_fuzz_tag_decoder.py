"""Fuzzing the tag decoder: whatever comes in, only InvalidTag (or the real tag) comes out.

tests/test_crypto.py already throws random bytes, random text, byte
substitutions, every single-bit flip, truncations and extensions at
`open_tag`. This file adds what a scanner or an attacker sends as *text*:
edits of a real tag URL (insertions, deletions, substitutions, swaps, with
non-ASCII look-alikes, whitespace and padding among the characters), any mix
of case, huge inputs, and a coverage-guided run with atheris (long run only).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagservice import crypto
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

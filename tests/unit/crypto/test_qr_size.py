"""Smaller self-contained tags: the numeric spelling, its one-spelling rule, and the targets.

The printed QR holds the upper-case URL prefix in an alphanumeric segment and
the tag bytes as fixed-width decimal digits in a numeric segment; every v1
tag made before (base32) keeps verifying. Phone-camera style decoders
(zxing-cpp, OpenCV's QRCodeDetector) read the mixed-mode symbol back.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime

import pytest
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import cards
from tagservice import crypto, tag_digits
from tagservice.summary import capacity
from tagservice.summary import model as summary
from tests.paths import FIXTURES, VECTORS
from tests.vectors.make_vectors import keyset

HOST_24 = "https://tags.example.nhs"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def sealed(name: str) -> bytes:
    return crypto.seal(summary.validate(json.loads((FIXTURES / name).read_text())), keyset(), NOW)


def test_the_24_character_host_is_24_characters():
    assert len(HOST_24) == 24


@given(st.binary(min_size=1, max_size=tag_digits.MAX_BYTES))
def test_digits_round_trip_at_a_fixed_width_for_every_length(tag):
    digits = tag_digits.encode(tag)
    assert len(digits) == tag_digits.digits_for(len(tag)) and digits.isdigit()
    assert tag_digits.decode(digits) == tag


def test_each_byte_length_has_its_own_digit_count():
    widths = [tag_digits.digits_for(n) for n in range(1, tag_digits.MAX_BYTES + 1)]
    assert all(b - a in (2, 3) for a, b in zip(widths, widths[1:], strict=False))
    assert tag_digits.MAX_BYTES == crypto.MAX_TAG_BYTES


def test_a_numeric_payload_has_exactly_one_spelling():
    digits = tag_digits.encode(sealed("summary-typical-older.json"))
    for other in ("0" + digits, digits[1:], digits + "0"):  # another digit count
        with pytest.raises(crypto.MalformedTag):
            crypto.decode_payload(f"HTTPS://H/T/{other}")
    too_big = str(256 ** 185).rjust(tag_digits.digits_for(185), "0")
    assert len(too_big) == len(digits)
    with pytest.raises(crypto.MalformedTag):  # a value past the byte length
        crypto.decode_payload(f"HTTPS://H/T/{too_big}")
    arabic = digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(crypto.MalformedTag):  # digits, but not ASCII digits
        crypto.decode_payload(f"HTTPS://H/T/{arabic}")
    with pytest.raises(crypto.MalformedTag):  # far too long, refused before int()
        crypto.decode_payload("HTTPS://H/T/" + "1" * (tag_digits.MAX_DIGITS + 3))


def test_both_spellings_of_a_tag_open_to_the_same_summary():
    tag = sealed("summary-heavy-realistic.json")
    numeric = tag_digits.tag_url(HOST_24, tag)
    assert numeric.startswith("HTTPS://TAGS.EXAMPLE.NHS/T/") and numeric.split("/T/")[1].isdigit()
    opened = crypto.open_tag(numeric, keyset(), NOW)
    assert opened.summary == crypto.open_tag(crypto.tag_url(HOST_24, tag), keyset(), NOW).summary


def test_every_published_v1_vector_still_opens_in_both_spellings():
    vectors = json.loads((VECTORS / "verify.json").read_text())["vectors"]
    assert vectors
    for vector in vectors:
        now = datetime.fromisoformat(vector["now"])
        as_published = crypto.open_tag(vector["tag"], keyset(), now)
        assert as_published.summary == vector["summary"]
        digits = tag_digits.encode(crypto.decode_payload(vector["tag"]))
        assert crypto.open_tag(f"HTTP://127.0.0.1:8000/T/{digits}", keyset(), now).summary == (
            vector["summary"]
        )


def test_the_printed_qr_is_a_numeric_segment_beside_an_alphanumeric_prefix():
    url = tag_digits.tag_url(HOST_24, sealed("summary-typical-older.json"))
    prefix, digits = cards.qr.segments(url)
    assert prefix[0] == "HTTPS://TAGS.EXAMPLE.NHS/T/" and digits[0].isdigit()
    assert len(cards.qr.segments(crypto.tag_url(HOST_24, b"\1" * 140))) == 1  # base32: one


@pytest.mark.parametrize("name", ["summary-typical-older.json", "summary-heavy-realistic.json"])
def test_phone_style_decoders_read_the_mixed_mode_code(name):
    url = tag_digits.tag_url(HOST_24, sealed(name))
    image = Image.open(io.BytesIO(cards.qr_png(url, scale=6))).convert("L")
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [url]
    assert opencv_reads(image) == url
    # The classic QRCodeDetector fails to locate some clean codes (of either spelling,
    # docs/tag-format.md 1.1) but never reads a mixed-mode code as other text.
    assert opencv_reads(image, "QRCodeDetector") in (url, "")


def test_typical_older_summary_fits_v10_m_and_heavy_v16_m_with_a_24_character_host():
    typical = tag_digits.tag_url(HOST_24, sealed("summary-typical-older.json"))
    heavy = tag_digits.tag_url(HOST_24, sealed("summary-heavy-realistic.json"))
    assert cards.make_qr(typical, "m").version <= 10
    assert cards.make_qr(heavy, "m").version <= 16


def test_the_numeric_spelling_is_smaller_than_base32_for_the_typical_summary():
    tag = sealed("summary-typical-older.json")
    before = cards.make_qr(crypto.tag_url(HOST_24, tag), "m").version
    after = cards.make_qr(tag_digits.tag_url(HOST_24, tag), "m").version
    assert after < before


def test_the_capacity_meter_reports_the_printed_version():
    data = summary.validate(json.loads((FIXTURES / "summary-typical-older.json").read_text()))
    tag = sealed("summary-typical-older.json")
    assert capacity.measure(data, HOST_24).qr_version == cards.make_qr(
        tag_digits.tag_url(HOST_24, tag), "m").version


@pytest.mark.parametrize(
    ("tag", "digits"),
    [
        (b"\x01", "001"),
        (b"\xff", "255"),
        (b"\x01\x00", "00256"),
        (b"\x01" + bytes(131), "00" + str(256**131)),
        (bytes(185), "0" * 446),
    ],
)
def test_the_numeric_vectors_of_tag_format_section_1_1(tag, digits):
    assert tag_digits.encode(tag) == digits and tag_digits.decode(digits) == tag


@pytest.mark.parametrize("digits", [str(256**185).rjust(446, "0"), "0" * 447])
def test_the_refused_numeric_vectors_of_tag_format_section_1_1(digits):
    with pytest.raises(ValueError):
        tag_digits.decode(digits)


def camera_like(url: str, shrink: float) -> Image.Image:
    """The code as a phone frame might hold it: tilted 7 degrees, scaled to 6/shrink px a
    module, slightly blurred and JPEG-compressed."""
    from PIL import ImageFilter

    sharp = Image.open(io.BytesIO(cards.qr_png(url, scale=6))).convert("L")
    tilted = sharp.rotate(7, expand=True, fillcolor=255, resample=Image.BICUBIC)
    small = tilted.resize((int(tilted.width / shrink), int(tilted.height / shrink)),
                          Image.BILINEAR)  # fmt: skip
    out = io.BytesIO()
    small.filter(ImageFilter.GaussianBlur(0.8)).save(out, "JPEG", quality=70)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


def opencv_reads(image: Image.Image, detector: str = "QRCodeDetectorAruco") -> str:
    """OpenCV's reading of the image ("" when it finds no code)."""
    cv2 = pytest.importorskip("cv2")
    numpy = pytest.importorskip("numpy")
    return getattr(cv2, detector)().detectAndDecode(numpy.array(image))[0]


@pytest.mark.parametrize("name", ["summary-typical-older.json", "summary-heavy-realistic.json"])
def test_a_camera_like_photo_of_the_mixed_mode_code_still_decodes(name):
    url = tag_digits.tag_url(HOST_24, sealed(name))
    photo = camera_like(url, shrink=1.0)  # 6 px a module
    assert [b.text for b in zxingcpp.read_barcodes(photo)] == [url]
    assert opencv_reads(photo) == url


@pytest.mark.parametrize("shrink", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("name", ["summary-typical-older.json", "summary-heavy-realistic.json"])
def test_zxing_reads_the_camera_like_mixed_mode_code_down_to_3_px_a_module(name, shrink):
    url = tag_digits.tag_url(HOST_24, sealed(name))
    assert [b.text for b in zxingcpp.read_barcodes(camera_like(url, shrink))] == [url]


@given(st.text(alphabet="0123456789", min_size=1, max_size=tag_digits.MAX_DIGITS + 5))
def test_any_digit_string_decodes_to_its_one_tag_or_is_malformed(digits):
    if not tag_digits.is_numeric(digits):  # 2-7 only: base32, as before
        try:
            assert crypto.encode_payload(crypto.decode_payload(digits)) == digits
        except crypto.MalformedTag:
            pass
        return
    try:
        data = crypto.decode_payload(f"HTTPS://H/T/{digits}")
    except crypto.MalformedTag:
        return
    assert tag_digits.encode(data) == digits  # the one spelling of those bytes


def test_a_payload_of_the_digits_2_to_7_alone_is_still_base32():
    assert crypto.decode_payload("HTTP://X/T/77777777") == base64.b32decode("77777777")
    assert tag_digits.is_numeric("00777") and not tag_digits.is_numeric("234567")


def test_every_v1_tag_spelt_in_digits_begins_with_00():
    for name in ("summary-typical-older.json", "summary-heavy-realistic.json"):
        assert tag_digits.encode(sealed(name)).startswith("00")

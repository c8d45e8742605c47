"""Wristband, key ring, lock screen and NFC record: every print decodes back to its tag URL.

QR codes are read back from the pixels with zxing-cpp (PDFs after rasterising
with poppler's pdftoppm), and the module size is measured on the rendering and
asserted in millimetres. Layouts take any tag URL string: a self-contained
(v1) tag as issued, or a short linked-style URL.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

import cards
from cards import lockscreen, ndef, wristband
from tagservice import crypto, tag_digits
from tagservice.cli import main
from tagservice.summary import model as summary
from tests.paths import FIXTURES
from tests.vectors.make_vectors import keyset

MM_PER_PX = 25.4 / 600
WORDS = dict(first_name="Sam", tag_id="3f9a1c227b01e4d0", issued=date(2026, 11, 27),
             review=None, issuer="tag.example.nhs.uk")  # fmt: skip
# A short URL of a linked tag's size (26-character host, 64-bit id + 128-bit key as digits).
SHORT = "HTTPS://TAG.EXAMPLE.NHS.UK/L/" + "31415926535897932384626433832795028841971693993751058"


def v1_url(name: str = "summary-typical-older.json") -> str:
    data = summary.validate(json.loads((FIXTURES / name).read_text()))
    tag = crypto.seal(data, keyset(), datetime(2026, 11, 1, tzinfo=UTC))
    return tag_digits.tag_url("https://tags.example.nhs", tag)


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def module_px(image: Image.Image, url: str) -> tuple[float, tuple[int, int, int, int]]:
    """(module px, symbol box) measured on the pixels, after the symbol decodes to `url`."""
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.text == url
    n = cards.make_qr(url).symbol_size(border=0)[0]
    tl, br = barcode.position.top_left, barcode.position.bottom_right
    grow = int((br.x - tl.x) / n)
    region = (tl.x - grow, tl.y - grow, br.x + grow, br.y + grow)
    dark = image.convert("L").crop(region).point(lambda v: 255 if v < 128 else 0)
    left, top, right, bottom = dark.getbbox()
    box = (region[0] + left, region[1] + top, region[0] + right, region[1] + bottom)
    return (box[2] - box[0]) / n, box


def assert_quiet_zone(image: Image.Image, box, module: float) -> None:
    x0, y0, x1, y1 = box
    q = round(4 * module)
    assert x0 - q >= 0 and y0 - q >= 0 and x1 + q <= image.width and y1 + q <= image.height
    grey = image.convert("L")
    for strip in ((x0 - q, y0 - q, x1 + q, y0), (x0 - q, y1, x1 + q, y1 + q),
                  (x0 - q, y0, x0, y1), (x1, y0, x1 + q, y1)):  # fmt: skip
        assert grey.crop(strip).getextrema()[0] >= 200, f"dark pixels in the quiet zone {strip}"


def rasterise(pdf: bytes, tmp_path: Path) -> Image.Image:
    source = tmp_path / "print.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "600", "-png", "-singlefile", str(source),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    return png((tmp_path / "page.png").read_bytes())


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """`tagservice …` against a fresh development instance; returns a runner function."""
    monkeypatch.setenv("TAGSERVICE_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("TAGSERVICE_ENV", "development")
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    assert run("init").exit_code == 0
    return run


needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils")


# --- wristband ----------------------------------------------------------------------


def test_wristband_strip_is_at_most_25_mm_tall_with_half_millimetre_modules_and_a_quiet_zone():
    image = png(cards.render_card(SHORT, **WORDS, layout="wristband"))
    assert image.height * MM_PER_PX <= 25.0
    module, box = module_px(image, SHORT)
    print(f"wristband: {image.width * MM_PER_PX:.1f} x {image.height * MM_PER_PX:.1f} mm, "
          f"module {module * MM_PER_PX:.2f} mm")  # fmt: skip
    assert module * MM_PER_PX >= 0.5
    assert_quiet_zone(image, box, module)


def test_wristband_label_is_white_on_red_left_of_the_code():
    image = png(cards.render_card(SHORT, **WORDS, layout="wristband")).convert("RGB")
    label = image.crop((0, 0, wristband.LABEL_W, image.height))
    colours = {colour for _, colour in label.getcolors(1 << 20)}
    assert (176, 0, 0) in colours and (255, 255, 255) in colours
    assert wristband.LABEL == "MEDICAL ID — scan"


@needs_poppler
def test_wristband_pdf_decodes_after_printing_with_half_millimetre_modules(tmp_path):
    image = rasterise(cards.render_card(SHORT, **WORDS, layout="wristband", fmt="pdf"), tmp_path)
    module, _box = module_px(image, SHORT)
    assert module * MM_PER_PX >= 0.49  # a rasterised page may be a pixel off the grid


def test_a_self_contained_tag_is_refused_on_a_wristband_naming_linked_tags_and_the_keyring():
    with pytest.raises(cards.CardError) as caught:
        cards.render_card(v1_url(), **WORDS, layout="wristband")
    message = str(caught.value)
    assert "25 mm" in message and "linked tag" in message and "keyring" in message
    assert "/T/" not in message  # never the tag itself


def test_issue_refuses_a_wristband_before_sealing_or_registering_anything(cli, tmp_path):
    out = tmp_path / "band.png"
    result = cli("issue", str(FIXTURES / "summary-typical-older.json"),
                                       "--out", str(out), "--layout", "wristband")  # fmt: skip
    assert result.exit_code == 2
    assert "linked tag" in result.output and "issued tag" not in result.output
    assert not out.exists()
    with sqlite3.connect(tmp_path / "instance" / "tagservice.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM tag").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM audit_event WHERE kind = 'tag.issued'"
                          ).fetchone() == (0,)  # fmt: skip


# --- key ring ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["short", "v1"])
def test_keyring_insert_decodes_for_both_kinds_of_tag_url(kind):
    url = SHORT if kind == "short" else v1_url()
    image = png(cards.render_card(url, **WORDS, layout="keyring"))
    module, box = module_px(image, url)
    print(f"keyring {kind}: {image.width * MM_PER_PX:.1f} x {image.height * MM_PER_PX:.1f} mm, "
          f"module {module * MM_PER_PX:.2f} mm")  # fmt: skip
    assert module * MM_PER_PX >= 0.4
    assert_quiet_zone(image, box, module)


# --- lock screen ---------------------------------------------------------------------


@pytest.mark.parametrize("screen", ["1170x2532", "1080x2400"])
@pytest.mark.parametrize("kind", ["short", "v1"])
def test_lockscreen_is_portrait_at_the_phone_size_with_the_code_in_the_lower_middle(screen, kind):
    url = SHORT if kind == "short" else v1_url("summary-heavy-realistic.json")
    image = png(cards.render_card(url, **WORDS, layout="lockscreen", screen=screen))
    width, height, ppi = lockscreen.SCREENS[screen]
    assert image.size == (width, height)
    module, box = module_px(image, url)
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert abs(centre_x - width / 2) <= module and 0.5 * height < centre_y < 0.75 * height
    assert_quiet_zone(image, box, module)
    print(f"lockscreen {screen} {kind}: module {module:.0f} px = "
          f"{module * 25.4 / ppi:.2f} mm at {ppi} ppi")  # fmt: skip
    assert module == int(module) and module >= lockscreen.MIN_MODULE_PX
    grey = image.convert("L")
    assert grey.getpixel((width // 2, 20)) == 0  # black top, where the clock goes
    assert {v for _, v in grey.crop(box).getcolors()} == {0, 255}  # pure black on pure white


def test_lockscreen_is_a_png_only():
    with pytest.raises(cards.CardError, match="PNG"):
        cards.render_card(SHORT, **WORDS, layout="lockscreen", fmt="pdf")
    with pytest.raises(cards.CardError, match="screen"):
        cards.render_card(SHORT, **WORDS, layout="lockscreen", screen="640x480")


def test_issue_writes_lockscreens_for_both_phone_sizes_that_decode_to_the_tag(cli, tmp_path):
    out = tmp_path / "lock.png"
    result = cli("issue", str(FIXTURES / "summary-typical-older.json"),
                                       "--out", str(out), "--layout", "lockscreen")  # fmt: skip
    assert result.exit_code == 0, result.output
    big, small = png(out.read_bytes()), png((tmp_path / "lock-1080x2400.png").read_bytes())
    assert big.size == (1170, 2532) and small.size == (1080, 2400)
    [first], [second] = zxingcpp.read_barcodes(big), zxingcpp.read_barcodes(small)
    assert first.text == second.text and "/T/" in first.text
    assert crypto.decode_payload(first.text)


# --- NFC -------------------------------------------------------------------------------


def parse_uri_record(message: bytes) -> str:
    """Read an NDEF message of one URI record per the NFC Forum URI RTD (independently)."""
    header, type_length = message[0], message[1]
    assert header & 0x80 and header & 0x40 and header & 0x07 == 0x01  # MB, ME, well-known
    short = bool(header & 0x10)
    length = message[2] if short else int.from_bytes(message[2:6], "big")
    start = 3 if short else 6
    assert type_length == 1 and message[start : start + 1] == b"U"
    payload = message[start + 1 :]
    assert len(payload) == length
    prefix = {0x00: "", 0x01: "http://www.", 0x02: "https://www.", 0x03: "http://",
              0x04: "https://"}[payload[0]]  # fmt: skip
    return prefix + payload[1:].decode("utf-8")


@pytest.mark.parametrize("kind", ["short", "v1"])
def test_ndef_uri_record_uses_the_https_prefix_code_and_opens_the_same_tag(kind):
    url = SHORT if kind == "short" else v1_url()
    message = cards.uri_record(url)
    assert message[0] == (0xD1 if kind == "short" else 0xC1)  # short record when under 256
    uri = parse_uri_record(message)
    assert uri.startswith("https://tag") and message[4 if kind == "short" else 7] == 0x04
    assert uri.upper() == url  # only the case of scheme and host changed
    if kind == "v1":
        assert crypto.decode_payload(uri) == crypto.decode_payload(url)
        assert ndef.smallest_sticker(message) in ("NTAG215", "NTAG216")
    else:
        assert ndef.smallest_sticker(message) == "NTAG213"


def test_ndef_record_is_refused_for_a_url_that_is_not_http():
    for bad in ("JAVASCRIPT:ALERT(1)", "HTTPS://", "HTTPS://HOST/\u00e9"):
        with pytest.raises(cards.CardError):
            cards.uri_record(bad)


def test_issue_writes_an_ndef_file_holding_the_issued_tag_url(cli, tmp_path):
    out = tmp_path / "sticker.ndef"
    result = cli("issue", str(FIXTURES / "summary-typical-older.json"),
                                       "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    uri = parse_uri_record(out.read_bytes())
    assert uri.startswith("https://") or uri.startswith("http://")
    tag = crypto.decode_payload(uri)
    # NFC memory holds bytes, not QR modes: the base32 spelling is the shorter one there
    assert uri.upper() == crypto.tag_url(uri[: uri.index("/T/")], tag)
    assert len(out.read_bytes()) < len(cards.uri_record(tag_digits.tag_url("http://x", tag)))
    with sqlite3.connect(tmp_path / "instance" / "tagservice.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM tag").fetchone() == (1,)

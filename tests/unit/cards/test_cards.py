"""Wallet cards and key-ring inserts: what a paramedic's phone and eyes get from the print.

Every QR is decoded back from the rendered pixels (zxing-cpp), PDFs after
rasterising with poppler's pdftoppm, and the module size and quiet zone are
measured on the rendering rather than taken from the code's own numbers.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw

import cards
from cards import fonts
from tagservice import crypto, keys
from tagservice.cli import main
from tagservice.config import load_settings
from tests.paths import FIXTURES

MM_PER_PX = 25.4 / 600
WORDS = dict(
    first_name="Sam",
    tag_id="3f9a1c227b01e4d0",
    issued=date(2026, 11, 27),
    review=date(2027, 11, 27),
    issuer="tag.example.nhs.uk",
)
CRITICAL = "ANAPHYLAXIS: Penicillin · Anticoagulant: Warfarin · Pacemaker"
RED = (176, 0, 0)
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None,
    reason="pdftoppm not installed (Debian package poppler-utils; CI installs it)",
)


def tag_url(tag_bytes: int) -> str:
    """A tag URL of realistic length (212 bytes is a typical summary)."""
    payload = base64.b32encode((bytes(range(256)) * 8)[:tag_bytes]).decode().rstrip("=")
    return f"HTTP://127.0.0.1:8000/T/{payload}"


TYPICAL, LARGEST = tag_url(212), tag_url(591)  # 591 bytes: the capacity limit (QR v20)


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def decode(image: Image.Image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def qr_geometry(image: Image.Image, url: str, exact: bool = True) -> tuple[float, tuple]:
    """(module px, symbol box) measured on the pixels: dark extent of the decoded symbol.

    `exact`: the rendering's own pixels, so modules are whole, equal pixels;
    a rasterised PDF may be a pixel off the grid.
    """
    [barcode] = zxingcpp.read_barcodes(image)
    corners = [barcode.position.top_left, barcode.position.bottom_right]
    n = cards.make_qr(url).symbol_size(border=0)[0]
    grow = int((corners[1].x - corners[0].x) / n)  # < the quiet zone, > zxing's rounding
    region = (corners[0].x - grow, corners[0].y - grow, corners[1].x + grow, corners[1].y + grow)
    dark = image.convert("L").crop(region).point(lambda v: 255 if v < 128 else 0)
    left, top, right, bottom = dark.getbbox()
    box = (region[0] + left, region[1] + top, region[0] + right, region[1] + bottom)
    width, height = box[2] - box[0], box[3] - box[1]
    assert abs(width - height) <= (0 if exact else 2)
    if exact:
        assert width % n == 0, "whole-pixel modules"
    return width / n, box


def assert_quiet_zone(image: Image.Image, box: tuple[int, int, int, int], module: int) -> None:
    """Four modules of light all round the symbol, inside the image."""
    x0, y0, x1, y1 = box
    q = round(4 * module)
    assert x0 - q >= 0 and y0 - q >= 0 and x1 + q <= image.width and y1 + q <= image.height
    grey = image.convert("L")
    strips = [
        (x0 - q, y0 - q, x1 + q, y0),
        (x0 - q, y1, x1 + q, y1 + q),
        (x0 - q, y0, x0, y1),
        (x1, y0, x1 + q, y1),
    ]
    for strip in strips:
        assert grey.crop(strip).getextrema()[0] >= 200, f"dark pixels in the quiet zone {strip}"


def has_red(image: Image.Image) -> bool:
    return RED in {colour for _, colour in image.convert("RGB").getcolors(1 << 20)}


# --- the wallet card PNG ---------------------------------------------------------


def test_wallet_png_is_id1_size_at_600_dpi():
    image = png(cards.render_card(TYPICAL, **WORDS))
    assert image.size == (2022, 1276) == (cards.CARD_W, cards.CARD_H)
    assert [round(v) for v in image.info["dpi"]] == [600, 600]
    assert image.size[0] * MM_PER_PX == pytest.approx(85.6, abs=0.05)
    assert image.size[1] * MM_PER_PX == pytest.approx(54.0, abs=0.05)


@pytest.mark.parametrize("url", [TYPICAL, LARGEST], ids=["typical", "capacity-limit"])
def test_front_qr_decodes_to_the_tag_url_with_big_modules_and_a_quiet_zone(url):
    image = png(cards.render_card(url, **WORDS))
    assert decode(image) == [url]
    module, box = qr_geometry(image, url)
    assert module * MM_PER_PX >= 0.4
    assert_quiet_zone(image, box, module)


def test_back_has_no_qr_and_the_same_size():
    image = png(cards.render_card(TYPICAL, **WORDS, side="back"))
    assert image.size == (2022, 1276)
    assert decode(image) == []


def test_critical_line_is_printed_only_when_asked():
    # Given the same card words, with and without a critical line
    plain = png(cards.render_card(TYPICAL, **WORDS, side="back"))
    marked = png(cards.render_card(TYPICAL, **WORDS, critical_line=CRITICAL, side="back"))
    # Then only the opt-in card has the red alert box, and the rest moved down for it
    assert not has_red(plain)
    assert has_red(marked)


def test_a_critical_line_that_does_not_fit_is_refused_not_cut():
    too_long = " · ".join(["ANAPHYLAXIS: Penicillin, amoxicillin, co-amoxiclav"] * 6)
    with pytest.raises(cards.CardError, match="critical line is too long.*never cut"):
        cards.render_card(TYPICAL, **WORDS, critical_line=too_long, side="back")
    with pytest.raises(ValueError):  # CardError is a ValueError for callers that expect one
        cards.check_card(first_name="Sam", issuer="x", critical_line=too_long)


def test_critical_line_message_does_not_repeat_patient_text():
    secret = "Zyxwvut " * 60
    with pytest.raises(cards.CardError) as caught:
        cards.check_card(first_name="Sam", issuer="x", critical_line=secret)
    assert "Zyxwvut" not in str(caught.value)


# --- names in any script ---------------------------------------------------------


UNICODE_NAMES = ["Zofia Wójcik", "王秀英", "محمد", "שרה", "अनन्या", "Łucja 李", "Ólafur"]


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_unicode_first_names_render_with_real_glyphs_not_tofu(name):
    # Each run's font file has a cmap entry for every character (checked with fontTools)
    for face, part in fonts.split_runs(name):
        with TTFont(face.regular, lazy=True) as font:
            cmap = font.getBestCmap()
        assert all(ord(c) in cmap for c in part if not c.isspace()), face.regular.name
    # and no glyph draws the same pixels as the font's .notdef box
    for run in fonts.runs_for(name, 120, bold=True):
        notdef = glyph_pixels(run.font, "\U0010fffd")
        for char in run.text.replace(" ", ""):
            assert glyph_pixels(run.font, char) != notdef, f"U+{ord(char):04X} is tofu"
    # and the whole card renders and still scans
    image = png(cards.render_card(TYPICAL, **dict(WORDS, first_name=name)))
    assert decode(image) == [TYPICAL]


def glyph_pixels(font, char: str) -> bytes:
    image = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(image).text((20, 20), char, font=font, fill=255)
    return image.tobytes()


def test_a_character_no_installed_font_has_is_refused_clearly(tmp_path, monkeypatch):
    # Given a machine with DejaVu only (no CJK font installed)
    dejavu = tmp_path / "truetype" / "dejavu"
    dejavu.mkdir(parents=True)
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        (dejavu / name).symlink_to(fonts.FONT_ROOT / "truetype" / "dejavu" / name)
    monkeypatch.setattr(fonts, "FONT_ROOT", tmp_path)
    # Then a Latin name still renders and a Chinese one is refused with what to install
    assert png(cards.render_card(TYPICAL, **WORDS)).size == (2022, 1276)
    with pytest.raises(cards.CardError, match=r"U\+738B .*fonts-droid-fallback"):
        cards.render_card(TYPICAL, **dict(WORDS, first_name="王秀英"))


def test_without_raqm_right_to_left_names_are_refused_not_printed_backwards(monkeypatch):
    monkeypatch.setattr(fonts, "HAVE_RAQM", False)
    assert png(cards.render_card(TYPICAL, **dict(WORDS, first_name="Zofia")))
    with pytest.raises(cards.CardError, match="libfribidi0"):
        cards.render_card(TYPICAL, **dict(WORDS, first_name="محمد"))


def test_very_long_first_names_wrap_and_absurd_ones_are_refused():
    long = "Wolfeschlegelsteinhausenbergerdorff"
    assert decode(png(cards.render_card(TYPICAL, **dict(WORDS, first_name=long)))) == [TYPICAL]
    with pytest.raises(cards.CardError, match="first name is too long"):
        cards.render_card(TYPICAL, **dict(WORDS, first_name=long * 3))


# --- key-ring insert ---------------------------------------------------------------


@pytest.mark.parametrize("url", [TYPICAL, LARGEST], ids=["typical", "capacity-limit"])
def test_keyring_insert_decodes_with_04mm_modules_and_quiet_zone(url):
    image = png(cards.render_card(url, **WORDS, layout="keyring"))
    assert decode(image) == [url]
    module, box = qr_geometry(image, url)
    assert module == cards.MIN_MODULE and module * MM_PER_PX >= 0.4
    assert_quiet_zone(image, box, module)
    assert image.width * MM_PER_PX < 50, "small enough for a key-ring tag"


# --- PDF ----------------------------------------------------------------------------


def rasterise(pdf: bytes, tmp_path: Path, dpi: int = 600) -> list[Image.Image]:
    source = tmp_path / "card.pdf"
    source.write_bytes(pdf)
    subprocess.run(  # noqa: S603 - fixed arguments, our own file
        ["pdftoppm", "-r", str(dpi), "-png", str(source), str(tmp_path / "page")], check=True
    )
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


def pdf_boxes(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "boxes.pdf"
    source.write_bytes(pdf)
    return subprocess.run(  # noqa: S603 - fixed arguments, our own file
        ["pdfinfo", "-box", str(source)], check=True, capture_output=True, text=True
    ).stdout


@needs_poppler
def test_pdf_has_front_and_back_at_card_size_and_the_front_scans(tmp_path):
    pdf = cards.render_card(TYPICAL, **WORDS, critical_line=CRITICAL, fmt="pdf")
    front, back = rasterise(pdf, tmp_path)
    assert decode(front) == [TYPICAL]
    assert decode(back) == []
    module, box = qr_geometry(front, TYPICAL, exact=False)
    assert module * MM_PER_PX >= 0.4
    assert_quiet_zone(front, box, module)
    trim = re.search(r"TrimBox:" + r"\s+([\d.]+)" * 4, pdf_boxes(pdf, tmp_path))
    x0, y0, x1, y1 = map(float, trim.groups())
    assert (x1 - x0) * 25.4 / 72 == pytest.approx(85.6, abs=0.05)
    assert (y1 - y0) * 25.4 / 72 == pytest.approx(54.0, abs=0.05)


@needs_poppler
@pytest.mark.parametrize("layout,copies", [("wallet", 4), ("keyring", 12)])
def test_a4_sheet_holds_several_cards_that_all_scan(tmp_path, layout, copies):
    pdf = cards.render_card(TYPICAL, **WORDS, layout=layout, fmt="pdf", sheet=True)
    assert (
        "A4"
        in subprocess.run(  # noqa: S603
            ["pdfinfo", "-"], input=pdf, check=True, capture_output=True
        ).stdout.decode()
    )
    [page] = rasterise(pdf, tmp_path, dpi=300)
    assert decode(page) == [TYPICAL] * copies


def test_pdf_is_a_wellformed_file_with_a_page_per_side():
    pdf = cards.render_card(TYPICAL, **WORDS, fmt="pdf")
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 2" in pdf and b"Sam" not in pdf, "patient words only as pixels"


# --- the API's refusals ---------------------------------------------------------


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"layout": "bracelet"}, "layout must be one of"),
        ({"fmt": "svg"}, "fmt must be one of"),
        ({"sheet": True}, "A4 sheet is a PDF"),
        ({"fmt": "pdf", "side": "back"}, "PDF holds every side"),
        ({"layout": "keyring", "side": "back"}, "one side only"),
        ({"first_name": "  "}, "first_name is empty"),
        ({"critical_line": "line one\nline two"}, "one line"),
        ({"review": date(2020, 1, 1)}, "before the issue date"),
        ({"issued": "2026-11-27"}, "must be a date"),
        ({"tag_id": "<script>"}, "letters or digits"),
    ],
)
def test_bad_arguments_raise_card_error_with_a_message(changes, message):
    with pytest.raises(cards.CardError, match=message):
        cards.render_card(TYPICAL, **dict(WORDS, **changes))


def test_lower_case_or_oversized_urls_are_refused():
    with pytest.raises(cards.CardError, match="not a tag URL"):
        cards.render_card(TYPICAL.lower(), **WORDS)
    with pytest.raises(cards.CardError):
        cards.render_card(tag_url(4000), **WORDS)


def test_bare_qr_helpers_still_work():
    assert decode(png(cards.qr_png(TYPICAL))) == [TYPICAL]
    assert cards.qr_version(TYPICAL) == cards.make_qr(TYPICAL).version


# --- `tagservice issue --out card.png|card.pdf` -----------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    env = {"TAGSERVICE_HOME": str(tmp_path / "instance"), "TAGSERVICE_ENV": "development"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(*args):
        return CliRunner().invoke(main, list(args))

    assert run("init").exit_code == 0
    run.settings = load_settings(env)
    return run


def opens(url: str, settings) -> dict:
    return crypto.open_tag(url, keys.load_keyset(settings), datetime.now(UTC)).summary


def test_cli_png_writes_front_and_back_of_one_tag(cli, tmp_path):
    out = tmp_path / "card.png"
    result = cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    assert result.exit_code == 0, result.output
    front, back = png(out.read_bytes()), png((tmp_path / "card-back.png").read_bytes())
    assert front.size == back.size == (2022, 1276)
    [url] = decode(front)
    assert opens(url, cli.settings)["identity"]["name"] == "Jane Smith"
    assert not has_red(back), "no critical line unless asked"
    assert "Jane" not in result.output


@needs_poppler
def test_cli_pdf_with_critical_auto_scans_after_printing(cli, tmp_path):
    out = tmp_path / "card.pdf"
    args = ("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    result = cli(*args, "--critical-auto")
    assert result.exit_code == 0, result.output
    front, back = rasterise(out.read_bytes(), tmp_path, dpi=300)
    [url] = decode(front)
    assert opens(url, cli.settings)["identity"]["name"] == "Jane Smith"
    assert reddish(back), "the critical alerts box is printed"


def reddish(image: Image.Image) -> bool:
    colours = image.convert("RGB").getcolors(1 << 24)
    return any(r > 140 and g < 40 and b < 40 for _, (r, g, b) in colours)


def test_cli_keyring_png_scans(cli, tmp_path):
    out = tmp_path / "tag.png"
    args = ("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    assert cli(*args, "--layout", "keyring").exit_code == 0
    [url] = decode(png(out.read_bytes()))
    assert opens(url, cli.settings)
    assert not (tmp_path / "tag-back.png").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--critical-line", " · ".join(["Penicillin ANAPHYLAXIS"] * 12)], "too long"),
        (["--critical-line", "x", "--critical-auto"], "not both"),
        (["--sheet"], "--sheet makes an A4 PDF"),
        (["--layout", "keyring", "--critical-auto"], "no critical line"),
    ],
)
def test_cli_refuses_card_problems_before_issuing_anything(cli, tmp_path, extra, message):
    out = tmp_path / "card.png"
    result = cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out), *extra)
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()
    assert "0 events" in cli("audit", "verify").output, "no tag was issued or audited"

"""The A&E desk prints the opened summary on one A4 page and saves it for the hospital record.

The print is checked as Chromium prints it: a PDF made with background graphics
off (the print dialog's default), one A4 page, rasterised with poppler; the
critical lines must still print white on red, at 4.5:1 or more.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from tests.browser.ui import expect, sign_in_with_password

DESK_ONLY = pytest.mark.parametrize("device", ["desk"], indirect=True)
CRIT_RED = (0xA4, 0x16, 0x1A)


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def critical_contrast(png) -> float:
    """Contrast between the printed red of the critical lines and the text on it."""
    image = Image.open(png).convert("RGB")
    pixels = image.load()
    width, height = image.size
    red = [(x, y) for y in range(0, height, 2) for x in range(0, width, 2)
           if all(abs(pixels[x, y][i] - CRIT_RED[i]) < 40 for i in range(3))]  # fmt: skip
    assert len(red) > 500, "the critical lines printed without their red background"
    top = min(y for _, y in red)
    left, right = min(x for x, _ in red), max(x for x, _ in red)
    band = [pixels[x, y] for y in range(top, top + 30) for x in range(left, right)]
    text = max(band, key=_luminance)
    return contrast(text, CRIT_RED)


@DESK_ONLY
def test_the_desk_prints_the_summary_on_one_a4_page_and_saves_it_as_fhir(page, server, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed (Debian package poppler-utils; CI installs it)")
    tag = server.issue("summary-heavy.json")
    nurse = server.clinician(role="nurse", name="Sam Nurse")
    page.goto("/desk")
    sign_in_with_password(page, nurse)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.keyboard.type(tag)
    page.keyboard.press("Enter")
    page.press(page.get_by_role("button", name="Open summary"))
    expect(page.get_by_role("button", name="Print on one A4 page")).to_be_visible()
    page.look("summary-with-exports")
    # When the nurse saves it for the hospital record, a FHIR IPS document downloads
    with page.expect_download() as download:
        page.get_by_role("button", name="Save for the hospital record (FHIR IPS)").click()
    bundle = json.loads(_read(download.value))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    # When they print it
    page.get_by_role("button", name="Print on one A4 page").click()
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.look("print-view")
    pdf = tmp_path / "summary.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=False)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(pdf),
                    str(page.shots / "printed-a4")], check=True)  # fmt: skip
    assert critical_contrast(page.shots / "printed-a4.png") >= 4.5
    exports = server.events("tag.exported", server.tag_id(tag))
    assert [json.loads(e.details)["format"] for e in exports] == ["fhir-ips", "print"]
    assert all(e.outcome == "success" and e.role == "nurse" for e in exports)


def _read(download) -> bytes:
    with open(download.path(), "rb") as f:
        return f.read()

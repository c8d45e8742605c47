"""The A&E desk: a USB scan gun types the tag URL and presses Enter; a webcam is optional.

A scan gun is a keyboard to the browser, so the tests type the URL as
keystrokes. The camera path runs against Chromium's fake camera playing a
video of the card's QR code; no frame leaves the browser.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from tagservice import crypto
from tests.browser.ui import Page, expect, launch, new_context, sign_in_with_password

DESK_ONLY = pytest.mark.parametrize("device", ["desk"], indirect=True)
DECODER = re.compile(r"/static/vendor/jsqr-[\d.]+\.min\.js")


def signed_in_at_the_desk(page, server):
    who = server.clinician(role="nurse", name="Sam Nurse")
    page.goto("/desk")
    expect(page).to_have_url(re.compile(r"/signin\?next=(/|%2F)desk$"))
    sign_in_with_password(page, who)
    expect(page).to_have_url(re.compile(r"/desk$"))
    return who


def test_a_and_e_desk_takes_the_scan_guns_keystrokes_and_enter(page, server):
    tag = server.issue()
    signed_in_at_the_desk(page, server)
    # Given the desk page, with the cursor already in the scan field
    expect(page.get_by_label("Tag (scanned, or typed from the card)")).to_be_focused()
    page.look("desk")
    # When the scan gun "types" the tag URL and Enter
    page.keyboard.type(tag)
    page.keyboard.press("Enter")
    # Then the reason page opens for that tag with A&E attendance already chosen
    expect(page.get_by_role("heading", level=1)).to_have_text("Why are you opening this summary?")
    expect(page.get_by_label("A&E attendance")).to_be_checked()
    page.look("reason")
    page.press(page.get_by_role("button", name="Open summary"))
    expect(page.locator(".alert-critical").first).to_have_text("ANAPHYLAXIS: Penicillin")
    # and a PC cannot dial: the numbers are text, not call links
    expect(page.locator('a[href^="tel:"]')).to_have_count(0)
    page.look("summary")
    unlocked = server.events("tag.unlocked", server.tag_id(tag))
    assert [(e.reason, e.role) for e in unlocked] == [("ae", "nurse")]
    # When the nurse is done, "Scan next patient" puts the cursor back in the scan field
    page.press(page.get_by_role("link", name="Scan next patient"))
    expect(page.get_by_label("Tag (scanned, or typed from the card)")).to_be_focused()


def test_a_typed_tag_id_shows_the_cards_status_without_opening_it(page, server):
    tag = server.issue()
    tag_id = server.tag_id(tag)
    signed_in_at_the_desk(page, server)
    # When the Tag ID from the card's back is typed, in groups of four, and Enter
    page.keyboard.type(" ".join(tag_id[i : i + 4] for i in range(0, 16, 4)).upper())
    page.keyboard.press("Enter")
    # Then the card's status is shown, nothing clinical, and the cursor is ready again
    expect(page.locator("#tag-status")).to_contain_text("Active")
    expect(page.get_by_text("Penicillin")).to_have_count(0)
    expect(page.get_by_label("Tag (scanned, or typed from the card)")).to_be_focused()
    page.look("tag-status")
    assert len(server.events("tag.status_looked_up", tag_id)) == 1
    assert server.events("tag.unlocked", tag_id) == []


def test_a_scan_that_is_not_a_tag_is_refused_at_the_desk_with_the_field_marked(page, server):
    signed_in_at_the_desk(page, server)
    page.keyboard.type("9434765919")
    page.keyboard.press("Enter")
    field = page.get_by_label("Tag (scanned, or typed from the card)")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("This field takes a scan")
    page.look("not-a-tag")


@DESK_ONLY
def test_the_desk_scan_works_without_javascript(new_context, server, shots):
    """Locked-down hospital PCs may block scripts: the scan gun path must not need them."""
    page = Page(new_context(java_script_enabled=False).new_page(), "desk", shots)
    tag = server.issue()
    signed_in_at_the_desk(page, server)
    expect(page.get_by_role("button", name="Use camera")).to_be_hidden()
    page.get_by_label("Tag (scanned, or typed from the card)").focus()
    page.keyboard.type(tag)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Open summary").click()
    expect(page.locator(".alert-critical").first).to_have_text("ANAPHYLAXIS: Penicillin")
    page.screenshot(path=shots / "summary-without-javascript.png", full_page=True)


def y4m_of_qr(url: str, width: int = 640, height: int = 480) -> bytes:
    """A short uncompressed video (YUV4MPEG2, 4:2:0) of the card's QR code on white."""
    from PIL import Image

    from cards import qr_png

    modules = Image.open(io.BytesIO(qr_png(url, scale=1))).width
    qr = Image.open(io.BytesIO(qr_png(url, scale=(min(width, height) - 40) // modules)))
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr.convert("L"), ((width - qr.width) // 2, (height - qr.height) // 2))
    grey = bytes([128]) * (width // 2 * height // 2)
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + (b"FRAME\n" + frame.tobytes() + grey + grey) * 3


@pytest.fixture
def camera_page(playwright_driver, server, tmp_path, shots):
    """A desk browser whose camera films the QR code of a fresh tag; yields (page, tag)."""
    tag = server.issue()
    video = tmp_path / "card.y4m"
    video.write_bytes(y4m_of_qr(tag))
    browser = launch(
        playwright_driver,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        context = new_context(browser, server.base, "desk")
        context.grant_permissions(["camera"], origin=server.base)
        page = Page(context.new_page(), "desk", shots)
        yield page, tag
        page.assert_no_console_errors()
        context.close()
    finally:
        browser.close()


def test_the_desk_reads_the_card_through_a_webcam_with_the_lazy_loaded_decoder(camera_page, server):
    page, tag = camera_page
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    signed_in_at_the_desk(page, server)
    # The decoder is not loaded until someone asks for the camera
    assert not [url for url in fetched if DECODER.search(url)]
    page.look("desk-with-camera-button")
    # When they press "Use camera" and hold the card up to it
    page.get_by_role("button", name="Use camera").click()
    # Then the tag is read and the reason page opens for it
    expect(page.get_by_role("heading", level=1)).to_have_text("Why are you opening this summary?")
    assert [url for url in fetched if DECODER.search(url)]
    # the desk carries the tag on in base32, whichever spelling the card prints
    expect(page.locator("input[name=tag]")).to_have_value(
        crypto.encode_payload(crypto.decode_payload(tag))
    )


def test_the_desk_camera_uses_the_browsers_barcode_detector_when_there_is_one(camera_page, server):
    page, tag = camera_page
    page.add_init_script(
        "window.BarcodeDetector = class {"
        "  static getSupportedFormats() { return Promise.resolve(['qr_code']); }"
        "  detect() { return Promise.resolve([{rawValue: " + json.dumps(tag) + "}]); } };"
    )
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    signed_in_at_the_desk(page, server)
    page.get_by_role("button", name="Use camera").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Why are you opening this summary?")
    assert not [url for url in fetched if DECODER.search(url)]


@DESK_ONLY
def test_a_desk_without_a_camera_says_so_and_keeps_the_scan_field(page, server):
    signed_in_at_the_desk(page, server)
    page.get_by_role("button", name="Use camera").click()
    expect(page.get_by_role("status")).to_contain_text("Use the scanner or type the tag instead.")
    expect(page.get_by_role("button", name="Use camera")).to_be_enabled()
    page.look("no-camera")
    page.get_by_label("Tag (scanned, or typed from the card)").fill(server.issue())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Why are you opening this summary?")

"""Where everything goes on a wallet card and a key-ring insert, drawn at 600 dpi.

Read by a paramedic in the dark or rain: black on white or white on dark red
(contrast above 6:1, so a grey-scale home print still reads), large bold type
for what matters, the QR as big as the card allows with integer-pixel modules
(never below 0.4 mm) and its 4-module quiet zone kept white.

Front: red band "MEDICAL EMERGENCY"; the QR at left; "Scan with phone camera",
the first name and short instructions at right. Back: the patient's opt-in
critical line first (readable with no network), then issuer, tag id and dates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import segno
from PIL import Image, ImageDraw

from cards import text as tx
from cards.errors import CardError
from cards.qr import make_qr

DPI = tx.DPI
MM = DPI / 25.4
CARD_W, CARD_H = round(85.6 * MM), round(54 * MM)  # ID-1 / CR80: 2022 x 1276 px
MIN_MODULE = math.ceil(0.4 * MM)  # 10 px = 0.42 mm
MAX_MODULE = 24  # 1 mm: bigger buys nothing and starves the text column
QUIET = 4
MARGIN = round(3 * MM)
RED, BLACK, GREY, WHITE = (176, 0, 0), (0, 0, 0), (64, 64, 64), (255, 255, 255)

BAND_H = 180
QR_AREA = CARD_H - BAND_H - 24  # a square left of the text column
COL_X = 24 + QR_AREA + 40
COL_W = CARD_W - 60 - COL_X
SCAN_TEXT = "◀ Scan with phone camera"
INSTRUCTIONS = (
    "Paramedic or A&E: scan, sign in and choose a reason to see allergies, "
    "medicines and emergency contacts. Every look is recorded."
)
BACK_FOOTER = (
    "Clinicians: scan the code on the front for the emergency summary "
    "(sign-in needed; every look is recorded)."
)
KEYRING_BAND_H = 150
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class CardText:
    """What the card says besides the QR (the caller chose and checked it)."""

    first_name: str
    tag_id: str
    issued: date
    review: date | None
    issuer: str
    critical_line: str | None = None
    # What the patient chose to print in clear for whoever finds the card (all opt-in).
    born_year: int | None = None
    ice_line: str | None = None  # "In an emergency call Tom (son) 07700 900456"
    finder_line: str | None = None  # "If found, call 999 or hand to a paramedic."


def _canvas(width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (width, height), WHITE)
    return image, ImageDraw.Draw(image)


def _paste_qr(image: Image.Image, qr: segno.QRCode, x: int, y: int, module: int) -> None:
    """Paste the symbol (no quiet zone: the caller left it white) at integer modules."""
    n = qr.symbol_size(scale=1, border=0)[0]
    data = bytes(0 if dark else 255 for row in qr.matrix_iter(border=0) for dark in row)
    symbol = Image.frombytes("L", (n, n), data).resize((n * module, n * module), Image.NEAREST)
    image.paste(symbol, (x, y))


def qr_module(url: str, area: int, largest: int = MAX_MODULE) -> tuple[segno.QRCode, int, int]:
    """(symbol, modules across it, module px) for the biggest QR that fits `area` px."""
    try:
        qr = make_qr(url)
    except ValueError as e:
        raise CardError(f"not a tag URL for a QR code: {e}") from None
    n = qr.symbol_size(scale=1, border=0)[0]
    module = min(largest, area // (n + 2 * QUIET))
    if module < MIN_MODULE:
        raise CardError(
            f"the tag needs a {n}x{n} QR code, too big for this layout with modules of "
            "at least 0.4 mm; shorten the summary"
        )
    return qr, n, module


def _centre_text(draw, box: tuple[int, int, int, int], words: str, fill) -> None:
    """One line of bold capitals centred in a box, as large as the box allows."""
    x0, y0, x1, y1 = box
    block = tx.fit(words, x1 - x0, (y1 - y0) * 1.3, round((y1 - y0) * 0.62), 20, 1, bold=True)
    if block is None:
        raise CardError(f"no installed font fits {words!r} in its band")
    cap = tx.cap_height(block.size, bold=True)
    left = x0 + (x1 - x0 - tx.width(words, block.size, bold=True)) / 2
    tx.draw_line(draw, (left, y0 + (y1 - y0 + cap) / 2), words, block.size, fill, bold=True)


def front(url: str, card: CardText) -> Image.Image:
    """The side a paramedic sees first: what this is, the QR, whose card."""
    image, draw = _canvas(CARD_W, CARD_H)
    draw.rectangle((0, 0, CARD_W, BAND_H - 1), fill=RED)
    _centre_text(draw, (MARGIN, 20, CARD_W - MARGIN, BAND_H - 20), "MEDICAL EMERGENCY", WHITE)

    qr, n, module = qr_module(url, QR_AREA)
    block = (n + 2 * QUIET) * module
    x = 24 + (QR_AREA - block) // 2 + QUIET * module
    y = BAND_H + (QR_AREA - block) // 2 + QUIET * module
    _paste_qr(image, qr, x, y, module)

    scan = tx.fit(SCAN_TEXT, COL_W, 400, tx.pt(11), tx.pt(9), 2, bold=True)
    bottom = CARD_H - 50
    notes = tx.fit(INSTRUCTIONS, COL_W, 400, tx.pt(6.5), tx.pt(5.5), 6)
    if scan is None or notes is None:
        raise CardError("no installed font fits the instructions in their column")
    top = tx.draw_block(draw, (COL_X, BAND_H + 60), scan, BLACK) + 50
    label = tx.Block(("Name",), tx.pt(6.5))
    top = tx.draw_block(draw, (COL_X, top), label, GREY) + 10
    born = tx.Block((f"born {card.born_year}",), tx.pt(9), bold=True) if card.born_year else None
    room = bottom - notes.height - 40 - top - (born.height + 10 if born else 0)
    name = _fit_name(card.first_name, room)
    top = tx.draw_block(draw, (COL_X, top), name, BLACK)
    if born:
        tx.draw_block(draw, (COL_X, top + 10), born, BLACK)
    tx.draw_block(draw, (COL_X, bottom - notes.height), notes, BLACK)
    return image


def _fit_name(name: str, max_height: int) -> tx.Block:
    """Largest on one line, else two lines, else break a very long word; never cut."""
    attempts = (
        dict(largest=tx.pt(22), smallest=tx.pt(14), max_lines=1),
        dict(largest=tx.pt(16), smallest=tx.pt(10), max_lines=2),
        dict(largest=tx.pt(14), smallest=tx.pt(9), max_lines=3, break_words=True),
    )
    for attempt in attempts:
        block = tx.fit(name, COL_W, max_height, bold=True, **attempt)
        if block is not None:
            return block
    raise CardError(
        f"the first name is too long for the card ({len(name)} characters); give a shorter form"
    )


def back(card: CardText) -> Image.Image:
    """Critical line first (opt-in, readable offline), then issuer, tag id, dates."""
    image, draw = _canvas(CARD_W, CARD_H)
    top = MARGIN
    for line in (card.finder_line, card.ice_line):  # for a member of the public, first
        if line:
            top = _finder_block(draw, line, top) + 24
    if card.critical_line:
        top = _critical_box(draw, card.critical_line, top) + 60
    half = (CARD_W - 2 * MARGIN) // 2
    columns = (MARGIN, MARGIN + half + 30)
    width = half - 30
    rows = [
        (("Issued by", _fit_field(card.issuer, width)), ("Tag ID", _tag_id_block(card.tag_id))),
        (("Issued", _date_block(card.issued)),)
        + ((("Review by", _date_block(card.review)),) if card.review else ()),
    ]
    for row in rows:
        row_bottom = top
        for (label, value), x in zip(row, columns, strict=False):
            below = tx.draw_block(draw, (x, top), tx.Block((label,), tx.pt(6)), GREY) + 6
            row_bottom = max(row_bottom, tx.draw_block(draw, (x, below), value, BLACK))
        top = row_bottom + 30
    bottom = CARD_H - 50
    footer = tx.fit(BACK_FOOTER, CARD_W - 2 * MARGIN, bottom - top, tx.pt(6), tx.pt(5), 2)
    if footer is None:
        raise CardError(
            "the back of the card is full: print fewer lines in clear on it "
            "(or give the issuer a shorter name)"
        )
    tx.draw_block(draw, (MARGIN, bottom - footer.height), footer, GREY)
    return image


def _critical_box(draw: ImageDraw.ImageDraw, line: str, top: int) -> int:
    """A red-framed box with the critical line as large as fits; refuse, never cut."""
    border, pad = 14, 36
    inner_w = CARD_W - 2 * MARGIN - 2 * (border + pad)
    block = tx.fit(line, inner_w, 380, tx.pt(12), tx.pt(8), 3, bold=True)
    if block is None:
        raise CardError(
            f"the critical line is too long for the card ({len(line)} characters; it must fit "
            "on 3 lines at 8 pt): shorten it. It is never cut short"
        )
    label = tx.Block(("ALERT",), tx.pt(7), bold=True)
    bottom = top + 2 * (border + pad) + label.height + 20 + block.height
    draw.rectangle((MARGIN, top, CARD_W - MARGIN, bottom), outline=RED, width=border)
    x, y = MARGIN + border + pad, top + border + pad
    y = tx.draw_block(draw, (x, y), label, RED) + 20
    tx.draw_block(draw, (x, y), block, BLACK)
    return bottom


def _finder_block(draw: ImageDraw.ImageDraw, line: str, top: int) -> int:
    """A line for whoever finds the card: black, bold, up to 2 lines; refuse, never cut."""
    block = tx.fit(line, CARD_W - 2 * MARGIN, 300, tx.pt(9), tx.pt(7), 2, bold=True)
    if block is None:
        raise CardError(
            f"a line for whoever finds the card is too long ({len(line)} characters; it must "
            "fit on 2 lines at 7 pt): shorten it"
        )
    return tx.draw_block(draw, (MARGIN, top), block, BLACK)


def _fit_field(value: str, width: int) -> tx.Block:
    block = tx.fit(value, width, 200, tx.pt(8), tx.pt(6), 2, bold=True, break_words=True)
    if block is None:
        raise CardError(f"a back-of-card field is too long ({len(value)} characters)")
    return block


def _tag_id_block(tag_id: str) -> tx.Block:
    """Tag id in groups of four, monospaced, so it can be read out over the phone."""
    compact = tag_id.replace(" ", "").replace("-", "").upper()
    grouped = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return tx.Block((grouped,), tx.pt(8), bold=True, mono=True)


def _date_block(day: date) -> tx.Block:
    """27 Nov 2026: unambiguous whatever the reader's date habit."""
    return tx.Block((f"{day.day} {_MONTHS[day.month - 1]} {day.year}",), tx.pt(8), bold=True)


def keyring(url: str) -> Image.Image:
    """Key-ring tag or bracelet insert: a "MEDICAL ID" band over the QR, nothing else.

    Its size follows the QR: (modules + 8) x 0.42 mm wide, e.g. 27.5 x 34 mm
    for a version-10 code.
    """
    qr, n, module = qr_module(url, 10**6, largest=MIN_MODULE)
    block = (n + 2 * QUIET) * module
    image, draw = _canvas(block, KEYRING_BAND_H + block)
    draw.rectangle((0, 0, block, KEYRING_BAND_H - 1), fill=RED)
    _centre_text(draw, (30, 20, block - 30, KEYRING_BAND_H - 20), "MEDICAL ID", WHITE)
    _paste_qr(image, qr, QUIET * module, KEYRING_BAND_H + QUIET * module, module)
    return image


def with_bleed(image: Image.Image, px: int) -> Image.Image:
    """Repeat the edge pixels outwards so a slightly-off cut shows no white sliver."""
    if px <= 0:
        return image
    w, h = image.size
    out = Image.new(image.mode, (w + 2 * px, h + 2 * px), WHITE)
    out.paste(image, (px, px))
    strips = (
        ((0, 0, w, 1), (w, px), (px, 0)),
        ((0, h - 1, w, h), (w, px), (px, h + px)),
        ((0, 0, 1, h), (px, h), (0, px)),
        ((w - 1, 0, w, h), (px, h), (w + px, px)),
    )
    for box, size, at in strips:
        out.paste(image.crop(box).resize(size, Image.NEAREST), at)
    for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        at = (0 if x == 0 else w + px, 0 if y == 0 else h + px)
        out.paste(image.getpixel((x, y)), (*at, at[0] + px, at[1] + px))
    return out

"""Print-ready PDFs: one card per page with crop marks, or an A4 sheet to cut out.

Images arrive with `bleed` px of repeated edge on every side; the trim box is
the card itself. Crop marks start outside the bleed so none is printed on a
card that is cut a little off the line.

* `cards`: one page per face (wallet: front then back, for a duplex or card
  printer or a print shop), card centred, crop marks, TrimBox and BleedBox.
* `fold_sheet`: A4 with four wallet cards, each front and back side by side;
  cut round the outside, fold on the middle marks back to back, laminate.
  Needs no duplex printing, so front and back always line up.
* `grid_sheet`: A4 with several key-ring inserts.
"""

from __future__ import annotations

import io

from PIL import Image

from cards.pdfwriter import Document, Page

PT_PER_PX = 72 / 600
A4 = (595.276, 841.89)
MM = 72 / 25.4
MARK_OFFSET, MARK_LENGTH = 3 * MM, 5 * MM
PAGE_MARGIN = 288 * PT_PER_PX  # about 12 mm, a whole number of 600 dpi pixels


def png_bytes(image: Image.Image, compress_level: int = 6) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(600, 600), compress_level=compress_level)
    return out.getvalue()


def _marks(page: Page, x: float, y: float, w: float, h: float) -> None:
    """Crop marks on the lines through each corner of the trim rectangle, outside it."""
    for cx, sx in ((x, -1), (x + w, 1)):
        for cy, sy in ((y, -1), (y + h, 1)):
            near, far = MARK_OFFSET, MARK_OFFSET + MARK_LENGTH
            page.line(cx + sx * near, cy, cx + sx * far, cy)
            page.line(cx, cy + sy * near, cx, cy + sy * far)


def cards(faces: list[Image.Image], bleed: int, title: str) -> bytes:
    """One centred card per page, crop marks round it."""
    doc = Document(title)
    for face in faces:
        name = doc.add_image(png_bytes(face, compress_level=1))
        b = bleed * PT_PER_PX
        w, h = face.width * PT_PER_PX - 2 * b, face.height * PT_PER_PX - 2 * b
        page = doc.add_page(Page(w + 2 * PAGE_MARGIN, h + 2 * PAGE_MARGIN))
        x = y = PAGE_MARGIN
        page.trim = (x, y, x + w, y + h)
        page.bleed = (x - b, y - b, x + w + b, y + h + b)
        page.image(name, (x - b, y - b, w + 2 * b, h + 2 * b))
        _marks(page, x, y, w, h)
    return doc.to_bytes()


def fold_sheet(front: Image.Image, back: Image.Image, bleed: int, title: str) -> bytes:
    """A4 portrait: four rows of front | back, fold marks between them."""
    doc = Document(title)
    names = [doc.add_image(png_bytes(face, compress_level=1)) for face in (front, back)]
    b = bleed * PT_PER_PX
    w, h = front.width * PT_PER_PX - 2 * b, front.height * PT_PER_PX - 2 * b
    rows, gutter = 4, 14 * MM
    x0 = (A4[0] - 2 * w) / 2
    y_top = (A4[1] + rows * h + (rows - 1) * gutter) / 2
    page = doc.add_page(Page(*A4))
    page.text(x0, y_top + 12 * MM, 9, "Cut along the crop marks. Fold each card on the dashed")
    page.text(
        x0, y_top + 12 * MM - 11, 9, "middle marks, printed sides out, then glue or laminate."
    )
    for row in range(rows):
        y = y_top - (row + 1) * h - row * gutter
        # each face bleeds outwards only: at the fold the two faces meet exactly
        page.image(
            names[0], (x0 - b, y - b, w + 2 * b, h + 2 * b), (x0 - b, y - b, w + b, h + 2 * b)
        )
        page.image(
            names[1], (x0 + w - b, y - b, w + 2 * b, h + 2 * b), (x0 + w, y - b, w + b, h + 2 * b)
        )
        _marks(page, x0, y, 2 * w, h)
        for edge, sign in ((y, -1), (y + h, 1)):
            page.line(
                x0 + w,
                edge + sign * MARK_OFFSET,
                x0 + w,
                edge + sign * (MARK_OFFSET + MARK_LENGTH),
                dashed=True,
            )
    return doc.to_bytes()


def grid_sheet(face: Image.Image, bleed: int, title: str, most: int = 12) -> bytes:
    """A4 portrait: as many copies of one insert as fit (at most `most`), each with marks."""
    doc = Document(title)
    name = doc.add_image(png_bytes(face, compress_level=1))
    b = bleed * PT_PER_PX
    w, h = face.width * PT_PER_PX - 2 * b, face.height * PT_PER_PX - 2 * b
    gutter = 2 * (MARK_OFFSET + MARK_LENGTH)
    usable_w, usable_h = A4[0] - 2 * PAGE_MARGIN, A4[1] - 2 * PAGE_MARGIN - 10 * MM
    cols = max(1, int((usable_w + gutter) // (w + gutter)))
    rows = max(1, min(int((usable_h + gutter) // (h + gutter)), -(-most // cols)))
    x0 = (A4[0] - cols * w - (cols - 1) * gutter) / 2
    y_top = (A4[1] + rows * h + (rows - 1) * gutter) / 2 - 5 * MM
    page = doc.add_page(Page(*A4))
    page.text(
        x0, y_top + 10 * MM, 9, "Cut along the crop marks; fit into a key-ring tag or bracelet."
    )
    for index in range(min(most, rows * cols)):
        row, col = divmod(index, cols)
        x = x0 + col * (w + gutter)
        y = y_top - (row + 1) * h - row * gutter
        page.image(name, (x - b, y - b, w + 2 * b, h + 2 * b))
        _marks(page, x, y, w, h)
    return doc.to_bytes()

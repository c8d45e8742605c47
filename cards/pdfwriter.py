"""A minimal PDF 1.4 writer: pages of placed images, hairlines and a little Helvetica.

Cards are drawn once, at 600 dpi, by Pillow (with font fallback and shaping),
and the PDF places those pixels at their exact physical size. So the PDF and
the PNG show the same text, the printed QR keeps its integer-pixel modules,
and no second text engine (without shaping or fallback) is involved.
The PNG's compressed pixel data goes into the PDF as it is (FlateDecode with
PNG predictors), so embedding costs no second compression.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOURS = {0: (b"/DeviceGray", 1), 2: (b"/DeviceRGB", 3)}


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _png_xobject(png: bytes) -> bytes:
    """An image XObject from an 8-bit, non-interlaced grey or RGB PNG."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    pos, idat, header = len(PNG_SIGNATURE), [], None
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without a header")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _COLOURS or interlace:
        raise ValueError("only 8-bit, non-interlaced grey or RGB PNGs can be placed")
    space, colours = _COLOURS[colour]
    stream = b"".join(idat)
    return (
        (
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
            b"/BitsPerComponent 8 /Filter /FlateDecode /DecodeParms << /Predictor 15 "
            b"/Colors %d /BitsPerComponent 8 /Columns %d >> /Length %d >>\nstream\n"
            % (width, height, space, colours, width, len(stream))
        )
        + stream
        + b"\nendstream"
    )


@dataclass
class Page:
    """One page, in points from the bottom-left corner."""

    width: float
    height: float
    trim: tuple[float, float, float, float] | None = None
    bleed: tuple[float, float, float, float] | None = None
    ops: list[str] = field(default_factory=list)

    def image(self, name: str, rect, clip=None) -> None:
        """Draw image `name` stretched over rect (x, y, w, h), optionally clipped."""
        x, y, w, h = rect
        clip_ops = f"{' '.join(map(_num, clip))} re W n " if clip else ""
        self.ops.append(f"q {clip_ops}{_num(w)} 0 0 {_num(h)} {_num(x)} {_num(y)} cm /{name} Do Q")

    def line(self, x1: float, y1: float, x2: float, y2: float, dashed: bool = False) -> None:
        dash = "[2 2] 0 d " if dashed else ""
        self.ops.append(f"q 0.3 w 0 G {dash}{_num(x1)} {_num(y1)} m {_num(x2)} {_num(y2)} l S Q")

    def text(self, x: float, y: float, size: float, words: str) -> None:
        """Plain ASCII note in Helvetica (one of the PDF standard fonts, not embedded)."""
        if not words.isascii():
            raise ValueError("page notes are ASCII; patient text goes in the card image")
        escaped = words.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        self.ops.append(f"BT /F1 {_num(size)} Tf {_num(x)} {_num(y)} Td ({escaped}) Tj ET")


class Document:
    """Collect images and pages, then write the file with a correct xref table."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.images: list[bytes] = []
        self.pages: list[Page] = []

    def add_image(self, png: bytes) -> str:
        self.images.append(_png_xobject(png))
        return f"Im{len(self.images) - 1}"

    def add_page(self, page: Page) -> Page:
        self.pages.append(page)
        return page

    def to_bytes(self) -> bytes:
        # 1 catalog, 2 pages, 3 font, 4 info, then images, then page + contents pairs
        first_image, first_page = 5, 5 + len(self.images)
        page_ids = [first_page + 2 * i for i in range(len(self.pages))]
        xobjects = " ".join(f"/Im{i} {first_image + i} 0 R" for i in range(len(self.images)))
        objects: list[bytes] = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>"
            % (" ".join(f"{n} 0 R" for n in page_ids).encode(), len(self.pages)),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            b"<< /Producer (tagservice cards) /Title (%s) >>" % self.title.encode("ascii"),
            *self.images,
        ]
        for page, page_id in zip(self.pages, page_ids, strict=True):
            boxes = "".join(
                f" /{name} [{' '.join(map(_num, box))}]"
                for name, box in (("TrimBox", page.trim), ("BleedBox", page.bleed))
                if box
            )
            objects.append(
                (
                    f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(page.width)} "
                    f"{_num(page.height)}]{boxes} /Resources << /Font << /F1 3 0 R >> "
                    f"/XObject << {xobjects} >> >> /Contents {page_id + 1} 0 R >>"
                ).encode()
            )
            content = "\n".join(page.ops).encode("ascii")
            objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            xref,
        )
        return bytes(out)

"""Which installed font prints each character, so any name renders without tofu.

Fonts come from Debian packages (no downloads at run time), tried in order:
DejaVu Sans (fonts-dejavu-core: Latin, Greek, Cyrillic, Arabic, Hebrew),
Droid Sans Fallback (fonts-droid-fallback: Chinese, Japanese, Korean), then
every Noto Sans script font (fonts-noto-core: Devanagari, Bengali, Tamil, Thai,
Ethiopic, ...). A text is cut into runs, each printed with the first font whose
character map has all of it; a character no font has is refused with a clear
CardError instead of being printed as an empty box.

Right-to-left and other shaped scripts need Pillow's raqm layout (the Pillow
wheel bundles raqm and HarfBuzz, and loads Debian's libfribidi0 at run time).
Without it such text would come out unjoined and back to front, so it is
refused rather than printed wrongly.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageFont, features

from cards.errors import CardError

FONT_ROOT = Path("/usr/share/fonts")
DEBIAN_FONT_PACKAGES = "fonts-dejavu-core fonts-droid-fallback fonts-noto-core"
# (regular, bold) relative to FONT_ROOT; a missing bold is emboldened with a stroke.
FIXED_CHAIN = (
    ("truetype/dejavu/DejaVuSans.ttf", "truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("truetype/droid/DroidSansFallbackFull.ttf", None),
)
MONO = "truetype/dejavu/DejaVuSansMono-Bold.ttf"
NOTO_GLOB = "truetype/noto/NotoSans*-Regular.ttf"
HAVE_RAQM = features.check_feature("raqm")
_NEUTRAL_CATEGORIES = ("Zs", "Cf")  # spaces, joiners and direction marks have no glyph
_RTL = ("R", "AL", "AN")


@dataclass(frozen=True)
class Face:
    """One font file of the fallback chain and its bold partner, if any."""

    regular: Path
    bold: Path | None


@dataclass(frozen=True)
class Run:
    """A stretch of text printed with one font; `stroke` fakes bold."""

    text: str
    font: ImageFont.FreeTypeFont
    stroke: int


def chain(root: Path | None = None) -> tuple[Face, ...]:
    """The installed fonts in fallback order (DejaVu first: legible when small)."""
    return _chain(root or FONT_ROOT)


@lru_cache(maxsize=4)
def _chain(root: Path) -> tuple[Face, ...]:
    faces = [
        Face(root / regular, root / bold if bold and (root / bold).exists() else None)
        for regular, bold in FIXED_CHAIN
        if (root / regular).exists()
    ]
    for regular in sorted(
        root.glob(NOTO_GLOB), key=lambda p: (p.name != "NotoSans-Regular.ttf", p)
    ):
        bold = regular.with_name(regular.name.replace("-Regular", "-Bold"))
        faces.append(Face(regular, bold if bold.exists() else None))
    return tuple(faces)


@lru_cache(maxsize=512)
def coverage(path: Path) -> frozenset[int]:
    """The code points a font file has glyphs for (its best Unicode cmap)."""
    try:
        with TTFont(path, lazy=True) as font:
            return frozenset(font.getBestCmap() or ())
    except (OSError, TTLibError):
        return frozenset()


def split_runs(text: str, root: Path | None = None) -> list[tuple[Face, str]]:
    """Cut text into (face, substring) runs; refuse a character no font covers."""
    faces = chain(root)
    if not faces:
        raise CardError(f"no fonts found: install Debian's {DEBIAN_FONT_PACKAGES} (see README)")
    runs: list[tuple[Face, str]] = []
    pending = ""  # neutral characters waiting for the next run's font
    for char in text:
        if unicodedata.category(char) in _NEUTRAL_CATEGORIES:
            if runs:
                runs[-1] = (runs[-1][0], runs[-1][1] + char)
            else:
                pending += char
            continue
        current = runs[-1][0] if runs else None
        if current is not None and ord(char) in coverage(current.regular):
            runs[-1] = (current, runs[-1][1] + char)
            continue
        face = next((f for f in faces if ord(char) in coverage(f.regular)), None)
        if face is None:
            raise CardError(
                f"no installed font can print U+{ord(char):04X} "
                f"{unicodedata.name(char, 'unnamed character')}: install Debian's "
                f"{DEBIAN_FONT_PACKAGES}, or use a spelling in another script"
            )
        runs.append((face, pending + char))
        pending = ""
    if pending:
        runs.append((faces[0], pending))
    return runs


def _covers(path: Path, text: str) -> bool:
    cmap = coverage(path)
    return all(ord(c) in cmap or unicodedata.category(c) in _NEUTRAL_CATEGORIES for c in text)


def needs_shaping(text: str) -> bool:
    """True for right-to-left or combining-mark scripts that basic layout garbles."""
    for char in text:
        if unicodedata.bidirectional(char) in _RTL:
            return True
        if unicodedata.category(char) in ("Mn", "Mc") and not 0x300 <= ord(char) <= 0x36F:
            return True
    return False


def is_rtl(text: str) -> bool:
    """Base direction from the first strong character (Unicode bidi rule P2)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return False
        if kind in ("R", "AL"):
            return True
    return False


@lru_cache(maxsize=256)
def _font(path: Path, size: int, raqm: bool) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size, layout_engine=engine)


def runs_for(text: str, size: int, bold: bool = False, mono: bool = False) -> list[Run]:
    """Fonts at `size` px for each run of text, in visual (left to right) order."""
    if needs_shaping(text) and not HAVE_RAQM:
        raise CardError(
            "this text needs right-to-left or complex-script shaping, which needs "
            "Pillow's raqm layout: install Debian's libfribidi0"
        )
    mono_path = FONT_ROOT / MONO
    if mono and text.isascii() and mono_path.exists():
        return [Run(text, _font(mono_path, size, HAVE_RAQM), 0)]
    out = []
    for face, part in split_runs(text):
        if bold and face.bold and _covers(face.bold, part):
            out.append(Run(part, _font(face.bold, size, HAVE_RAQM), 0))
        else:
            stroke = max(1, round(size / 40)) if bold else 0
            out.append(Run(part, _font(face.regular, size, HAVE_RAQM), stroke))
    return out[::-1] if len(out) > 1 and is_rtl(text) else out


def primary(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The first font of the chain: its metrics set line heights for every script."""
    faces = chain()
    if not faces:
        raise CardError(f"no fonts found: install Debian's {DEBIAN_FONT_PACKAGES} (see README)")
    face = faces[0]
    return _font((face.bold or face.regular) if bold else face.regular, size, HAVE_RAQM)

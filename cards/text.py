"""Measure, wrap, fit and draw text that may mix scripts and fonts.

Text is fitted, never cut: `fit` returns the largest size at which the whole
text fits in the box, or None, and the caller decides to refuse. A cut
allergy line on a medical card is a hazard.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from PIL import ImageDraw

from cards import fonts

DPI = 600
LINE_SPACING = 1.18


def pt(points: float) -> int:
    """Typographic points to pixels at the card's 600 dpi."""
    return round(points * DPI / 72)


@dataclass(frozen=True)
class Block:
    """Wrapped lines at one size, ready to draw."""

    lines: tuple[str, ...]
    size: int
    bold: bool = False
    mono: bool = False

    @property
    def line_height(self) -> int:
        return round(self.size * LINE_SPACING)

    @property
    def height(self) -> int:
        return self.line_height * (len(self.lines) - 1) + ascent(self.size) + descent(self.size)


def ascent(size: int) -> int:
    return fonts.primary(size).getmetrics()[0]


def descent(size: int) -> int:
    return fonts.primary(size).getmetrics()[1]


def cap_height(size: int, bold: bool = False) -> int:
    left, top, right, bottom = fonts.primary(size, bold).getbbox("H", anchor="ls")
    return -top


def width(text: str, size: int, bold: bool = False, mono: bool = False) -> float:
    return sum(
        r.font.getlength(r.text) + 2 * r.stroke for r in fonts.runs_for(text, size, bold, mono)
    )


def draw_line(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    fill,
    bold: bool = False,
    mono: bool = False,
) -> None:
    """Draw one line with its left end at x and its baseline at y."""
    x, baseline = xy
    for run in fonts.runs_for(text, size, bold, mono):
        x += run.stroke
        draw.text(
            (x, baseline),
            run.text,
            font=run.font,
            fill=fill,
            anchor="ls",
            stroke_width=run.stroke,
            stroke_fill=fill,
        )
        x += run.font.getlength(run.text) + run.stroke


def draw_block(draw: ImageDraw.ImageDraw, xy: tuple[float, float], block: Block, fill) -> int:
    """Draw wrapped lines from the top at y; return the y just below the last line."""
    x, top = xy
    baseline = top + ascent(block.size)
    for line in block.lines:
        draw_line(draw, (x, baseline), line, block.size, fill, block.bold, block.mono)
        baseline += block.line_height
    return top + block.height


def wrap(
    text: str,
    size: int,
    max_width: float,
    bold: bool = False,
    break_words: bool = False,
) -> list[str] | None:
    """Greedy wrap; None if a word is too wide (unless break_words).

    Items of a " · " list stay whole on one line when they can, so an alert
    such as "Pacemaker: Fitted 2019" is not split across lines.
    """
    items = text.split(" · ")
    units: list[str] = []
    for index, item in enumerate(items):
        unit = item if index == len(items) - 1 else f"{item} ·"
        units += [unit] if width(unit, size, bold) <= max_width else unit.split()
    lines: list[str] = []
    for unit in units:
        pieces = [unit]
        if width(unit, size, bold) > max_width:
            if not break_words:
                return None
            pieces = _break_word(unit, size, max_width, bold)
            if pieces is None:
                return None
        for index, piece in enumerate(pieces):
            joined = f"{lines[-1]} {piece}" if lines else piece
            if lines and index == 0 and width(joined, size, bold) <= max_width:
                lines[-1] = joined
            else:
                lines.append(piece)
    return lines


def _break_word(word: str, size: int, max_width: float, bold: bool) -> list[str] | None:
    """Split an over-wide word between characters, never before a combining mark."""
    pieces = [""]
    for char in word:
        candidate = pieces[-1] + char
        starts_cluster = unicodedata.combining(char) == 0 and unicodedata.category(char) != "Mc"
        if pieces[-1] and starts_cluster and width(candidate, size, bold) > max_width:
            pieces.append(char)
        else:
            pieces[-1] = candidate
    if any(width(piece, size, bold) > max_width for piece in pieces):
        return None
    return pieces


def fit(
    text: str,
    max_width: float,
    max_height: float,
    largest: int,
    smallest: int,
    max_lines: int,
    bold: bool = False,
    break_words: bool = False,
) -> Block | None:
    """The largest size (from `largest` down to `smallest` px) at which all text fits."""
    size = largest
    while size >= smallest:
        lines = wrap(text, size, max_width, bold, break_words)
        if lines is not None and len(lines) <= max_lines:
            block = Block(tuple(lines), size, bold)
            if block.height <= max_height:
                return block
        size = min(size - 1, int(size * 0.95))
    return None

"""Bit packing for names and short words: 5 bits a letter, with case modes.

Part of the compact summary encoding (docs/summary-format.md); split out of
compact.py so each module stays one concept. Strict: malformed input is a
ValueError.
"""

from __future__ import annotations

PHONE_SYMBOLS = "0123456789 +()-"
PACKED_LETTERS = "abcdefghijklmnopqrstuvwxyz -'"  # symbols 0-28
SURNAME, SHIFT, END = 29, 30, 31
_WORD_BREAKS = (None, " ", "-")  # title-case mode capitalises a letter after these


# Case modes, chosen per string: (prefix bits, prefix length, name).
CASE_MODES = ((0b1, 1, "title"), (0b00, 2, "lower"), (0b01, 2, "upper"))


def _upper_by_default(mode: str, previous: str | None) -> bool:
    return mode == "upper" or (mode == "title" and previous in _WORD_BREAKS)


def pack_letters(text: str, surname: str | None = None) -> bytes | None:
    """5-bit packing for names made of ASCII letters, spaces, - and '; None if not possible.

    A prefix picks the case mode: title case, lower case or upper case, each
    letter flipped by a SHIFT before it. SURNAME stands for the patient's
    surname, so "John Smith" under patient "Jane Smith" costs 6 symbols.
    """
    best = None
    for prefix, prefix_length, mode in CASE_MODES:
        symbols, previous, i = [], None, 0
        while i < len(text):
            if surname and text.startswith(surname, i):
                symbols.append(SURNAME)
                previous, i = surname[-1], i + len(surname)
                continue
            char = text[i]
            lower = char.lower() if char.isascii() else char
            if lower not in PACKED_LETTERS:
                return None
            if char.isalpha() and char.isupper() != _upper_by_default(mode, previous):
                symbols.append(SHIFT)
            symbols.append(PACKED_LETTERS.index(lower))
            previous, i = char, i + 1
        packed = _bits_to_bytes(prefix, prefix_length, symbols)
        if best is None or len(packed) < len(best):
            best = packed
    return best


def _bits_to_bytes(bits: int, count: int, symbols: list[int]) -> bytes:
    for symbol in symbols:
        bits, count = bits << 5 | symbol, count + 5
    padding = -count % 8
    bits = bits << padding | (1 << padding) - 1  # >= 5 one-bits read as END
    return bits.to_bytes((count + padding) // 8, "big")


def unpack_letters(packed: bytes, surname: str | None) -> str:
    if not packed:
        raise ValueError("packed text is empty")
    total = len(packed) * 8
    bits = int.from_bytes(packed, "big")
    mode, position = ("title", 1) if bits >> (total - 1) else (
        ("upper" if bits >> (total - 2) & 1 else "lower"), 2)
    chars: list[str] = []
    shift, symbol = False, None
    while total - position >= 5:
        symbol = bits >> (total - position - 5) & 31
        position += 5
        if symbol == END:
            break
        if shift and symbol >= 26:
            raise ValueError("packed text has SHIFT before a non-letter")
        if symbol == SHIFT:
            shift = True
        elif symbol == SURNAME:
            if not surname:
                raise ValueError("packed text refers to a surname it cannot use")
            chars.append(surname)
        else:
            upper = _upper_by_default(mode, chars[-1][-1] if chars else None)
            letter = PACKED_LETTERS[symbol]
            chars.append(letter.upper() if upper != shift else letter)
            shift = False
    rest = total - position  # padding: at most 4 one-bits, or END and at most 2
    if shift or rest > (2 if symbol == END else 4) or bits & (1 << rest) - 1 != (1 << rest) - 1:
        raise ValueError("packed text is badly terminated")
    return "".join(chars)

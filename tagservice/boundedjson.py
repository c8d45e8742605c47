"""The one JSON reader for untrusted input: bounded before any large object is built.

A small document can still be expensive: 565 KB of objects nested 280 deep
around a list of 280,000 zeros made the FHIR importer (pydantic) take gigabytes.
So every JSON the service accepts (API bodies, portal and command-line imports)
is measured first, on the text, by a few linear passes that run in C (regular
expressions and `str.count`); only Python loops bounded by `max_items` follow.
A document over a bound is refused with `TooLarge` and never parsed; one within
the bounds is parsed by the standard library, so what `loads` returns is exactly
what `json.loads` would.

Why the pre-scan is sound: a JSON parser builds objects only for a valid prefix
of its input, and on a valid prefix the scan counts exactly what the parser
sees (escapes are paired left to right, then strings; structure is counted
outside strings). Text after the first syntax error can only add to the counts.

`TooLarge` is not a ValueError on purpose: a bound is a refusal, not a parse
error, so `request.get_json(silent=True)` does not hide it as "no JSON".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

__all__ = ["API", "IMPORT", "Limits", "TooLarge", "loads", "read_file"]


@dataclass(frozen=True)
class Limits:
    """How much JSON one caller accepts. `max_string` counts characters as written."""

    max_bytes: int
    max_depth: int
    max_items: int
    max_string: int


#: Request bodies: a tag URL, a sign-in, a passkey credential (a few KB, depth 4).
API = Limits(max_bytes=64 * 1024, max_depth=16, max_items=2_000, max_string=32 * 1024)
#: A summary or FHIR IPS Bundle to import. The 78 real public bundles of
#: tests/fixtures/real-ips hold up to 19,300 values (as counted here) and nest 15
#: deep: 40,000 values is twice the largest. The tolerant importer costs about
#: 14 us of CPU a value, so a hostile Bundle at the bounds costs about half a second.
IMPORT = Limits(max_bytes=2 * 1024 * 1024, max_depth=20, max_items=40_000, max_string=256 * 1024)


class TooLarge(Exception):  # noqa: N818 - reads as "json.TooLarge" at call sites
    """The document is over a bound; the message says which, without quoting it."""


_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__


def _size_words(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def _text(data: str | bytes | bytearray, limits: Limits) -> str:
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > limits.max_bytes:
        raise TooLarge(f"the JSON is larger than {_size_words(limits.max_bytes)}")
    if isinstance(data, str):
        return data
    # As json.loads does for bytes: UTF-8 (with or without BOM), UTF-16 or UTF-32.
    return bytes(data).decode(json.detect_encoding(data), "surrogatepass")


def check(text: str, limits: Limits) -> None:
    """Raise TooLarge if `text` is over any bound of `limits`; build nothing big."""
    plain = _ESCAPE.sub("_", text)  # no escaped quote left to confuse the string pass
    skeleton = _STRING.sub('""', plain)
    items = 1 + sum(skeleton.count(c) for c in ",:[{")
    if items > limits.max_items:
        raise TooLarge(f"the JSON holds more than {limits.max_items:,} values")
    longest = max(map(len, _STRING.findall(plain)), default=2) - 2
    if longest > limits.max_string:
        raise TooLarge(f"the JSON has a text longer than {limits.max_string:,} characters")
    brackets = _NOT_BRACKET.sub("", skeleton)  # at most 2 x items characters
    if max(accumulate(map(_STEP, brackets)), default=0) > limits.max_depth:
        raise TooLarge(f"the JSON is nested more than {limits.max_depth} levels deep")


def loads(data: str | bytes | bytearray, limits: Limits = API, **kwargs: Any) -> Any:
    """Parse untrusted JSON within `limits`; `kwargs` go to json.loads (object_hook...).

    Raises TooLarge (over a bound), or ValueError (json.JSONDecodeError or
    UnicodeDecodeError) when it is not JSON.
    """
    text = _text(data, limits)
    check(text, limits)
    return json.loads(text, **kwargs)


def read_file(path: str | Path, limits: Limits = IMPORT) -> Any:
    """Parse a JSON file within `limits`, reading no more than max_bytes + 1 of it.

    Raises OSError, TooLarge or ValueError like `loads`.
    """
    with open(path, "rb") as f:
        data = f.read(limits.max_bytes + 1)
    return loads(data, limits)

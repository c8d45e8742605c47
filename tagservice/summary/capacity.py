"""The capacity meter: how full a tag is, and what to shorten when it is too full.

A summary that does not fit is refused with the fields that cost the most,
never truncated: a missing allergy or DNACPR line is worse than no card.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import lru_cache

import segno
from segno import consts

from tagservice import crypto, tag_digits
from tagservice.summary import compact
from tagservice.summary import model as summary_model

CAP_QR_VERSION = 20
CAP_ERROR = "m"
TARGET_QR_VERSION = 10
_LIST_SECTIONS = ("alerts", "allergies", "medications", "conditions", "baseline", "contacts")
_TEXT_FIELDS = ("note", "language")


@lru_cache(maxsize=4096)
@lru_cache(maxsize=4096)
def printed_qr_version(base_url: str, tag_bytes: int, error: str = CAP_ERROR) -> int | None:
    """QR version of the printed URL (tag_digits.tag_url: alphanumeric prefix, numeric
    digits) for a tag of this many bytes, or None if none fits."""
    prefix = f"{base_url.rstrip('/').upper()}/T/"
    digits = "0" * tag_digits.digits_for(tag_bytes)
    try:
        return segno.make_qr(
            [(prefix, consts.MODE_ALPHANUMERIC), (digits, consts.MODE_NUMERIC)],
            error=error, boost_error=False,
        ).version
    except segno.DataOverflowError:
        return None


def url_chars(base_url: str, tag_bytes: int) -> int:
    return len(base_url.rstrip("/")) + len("/T/") + math.ceil(tag_bytes * 8 / 5)


@lru_cache(maxsize=64)
def max_tag_bytes(base_url: str, version: int = CAP_QR_VERSION, error: str = CAP_ERROR) -> int:
    """The largest tag whose URL still fits QR `version` at `error` level."""
    lo, hi = 0, crypto.MAX_TAG_BYTES
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = printed_qr_version(base_url, mid, error)
        if found is not None and found <= version:
            lo = mid
        else:
            hi = mid - 1
    return lo


def tag_size(summary: dict) -> int:
    """Exact size in bytes of the tag `seal` would make for a validated summary."""
    plaintext, _flags, _dict_id = crypto.compress(compact.encode(summary))
    return crypto.OVERHEAD_BYTES + len(plaintext)


@dataclass(frozen=True)
class Meter:
    tag_bytes: int
    cap_bytes: int
    qr_version: int | None
    qr_version_low: int | None
    shorten: tuple[tuple[str, int], ...] = field(default=())

    @property
    def fits(self) -> bool:
        return self.tag_bytes <= self.cap_bytes

    @property
    def percent(self) -> int:
        return math.ceil(100 * self.tag_bytes / self.cap_bytes)

    def describe(self) -> str:
        version = f"QR version {self.qr_version} at ECC M" if self.qr_version else "no QR version"
        text = f"{self.tag_bytes} of {self.cap_bytes} bytes ({self.percent}% full), {version}"
        if not self.fits:
            text += "; too long: shorten " + ", ".join(
                f"{path} (saves {saved} bytes)" for path, saved in self.shorten
            )
        return text


def measure(summary: dict, base_url: str) -> Meter:
    """Meter a validated summary against the cap for this base URL."""
    size = tag_size(summary)
    cap = max_tag_bytes(base_url)
    shorten = () if size <= cap else tuple(_biggest_fields(summary))
    versions = printed_qr_version(base_url, size, "m"), printed_qr_version(base_url, size, "l")
    return Meter(size, cap, *versions, shorten)


def _biggest_fields(summary: dict, limit: int = 5) -> list[tuple[str, int]]:
    """(field path, bytes saved by removing it), largest saving first."""
    base = tag_size(summary)
    costs: list[tuple[int, str]] = []
    for section in _LIST_SECTIONS:
        for index in range(len(summary.get(section, []))):
            trial = copy.deepcopy(summary)
            del trial[section][index]
            costs.append((base - tag_size(trial), f"{section}[{index}]"))
    for name in _TEXT_FIELDS:
        if name in summary:
            trial = copy.deepcopy(summary)
            del trial[name]
            costs.append((base - tag_size(trial), name))
    costs.sort(key=lambda c: -c[0])
    return [(path, saved) for saved, path in costs[:limit] if saved > 0]


def check_fits(summary: dict, base_url: str) -> Meter:
    """Raise SummaryError naming the fields to shorten when the summary is over the cap."""
    meter = measure(summary, base_url)
    if not meter.fits:
        too_long = (
            f"The summary is too long for the tag ({meter.tag_bytes} of {meter.cap_bytes} bytes)."
        )
        raise summary_model.SummaryError(
            [summary_model.FieldError("summary", too_long)]
            if not meter.shorten
            else [
                summary_model.FieldError(
                    path,
                    f"The summary is {meter.tag_bytes - meter.cap_bytes} bytes too long for the "
                    f"tag; removing or shortening this saves up to {saved} bytes.",
                )
                for path, saved in meter.shorten
            ]
        )
    return meter

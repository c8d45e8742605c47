"""How long does a printable card take? Wallet PNG and PDF against a bare QR PNG.

In one run, for a typical tag URL (212-byte tag, QR version 11) and one at
the capacity limit (591 bytes, version 20), time the median of N renders of:

* baseline: `cards.qr_png(url)`, the bare QR image the CLI used to write;
* the wallet card front as PNG (2022 x 1276 px at 600 dpi);
* the wallet card as PDF (front and back pages, crop marks);
* the A4 fold-over sheet PDF and the key-ring insert PNG.

Fonts and caches are warmed by one untimed render first (a web worker renders
many cards per process). Target: wallet PNG and PDF <= 300 ms each.
Run: .venv/bin/python bench/card.py [--runs N]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cards  # noqa: E402

TARGET_MS = 300
WORDS = dict(
    first_name="Zofia",
    tag_id="3f9a1c227b01e4d0",
    issued=date(2026, 11, 27),
    review=date(2027, 11, 27),
    issuer="tag.example.nhs.uk",
    critical_line="ANAPHYLAXIS: Penicillin · ANTICOAGULANT: Warfarin · PACEMAKER",
)
CASES = {
    "bare QR PNG (baseline)": lambda url: cards.qr_png(url),
    "wallet PNG front": lambda url: cards.render_card(url, **WORDS),
    "wallet PDF front+back": lambda url: cards.render_card(url, **WORDS, fmt="pdf"),
    "wallet PDF A4 sheet": lambda url: cards.render_card(url, **WORDS, fmt="pdf", sheet=True),
    "keyring PNG": lambda url: cards.render_card(url, **WORDS, layout="keyring"),
    "lockscreen PNG": lambda url: cards.render_card(url, **WORDS, layout="lockscreen"),
    "NFC NDEF record": lambda url: cards.uri_record(url),
}
TARGETED = ("wallet PNG front", "wallet PDF front+back")


def tag_url(tag_bytes: int) -> str:
    payload = base64.b32encode((bytes(range(256)) * 8)[:tag_bytes]).decode().rstrip("=")
    return f"HTTP://127.0.0.1:8000/T/{payload}"


def median_ms(render, url: str, runs: int) -> tuple[float, int]:
    size = len(render(url))  # warm fonts and caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render(url)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed renders per case")
    runs = parser.parse_args(argv).runs
    header = f"{'tag':<10} {'v':>3} {'case':<24} {'median ms':>10} {'bytes':>9} {'x base':>7}"
    print(header)
    print("-" * len(header))
    worst = {case: 0.0 for case in TARGETED}
    ratios = {case: 0.0 for case in TARGETED}
    for label, tag_bytes in (("typical", 212), ("limit", 591)):
        url = tag_url(tag_bytes)
        version = cards.qr_version(url)
        baseline = None
        for case, render in CASES.items():
            ms, size = median_ms(render, url, runs)
            baseline = baseline or ms
            ratio = ms / baseline
            print(f"{label:<10} {version:>3} {case:<24} {ms:>10.1f} {size:>9} {ratio:>6.1f}x")
            if case in worst and ms >= worst[case]:
                worst[case], ratios[case] = ms, ratio
    print()
    print(f"median of {runs} runs after one warm-up; x base: time / bare QR PNG time, same tag")
    verdict = "PASS" if all(ms <= TARGET_MS for ms in worst.values()) else "FAIL"
    parts = ", ".join(f"{case} {worst[case]:.0f} ms ({ratios[case]:.1f}x)" for case in TARGETED)
    print(f"SUMMARY: slowest {parts}; target <= {TARGET_MS} ms each: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Run every benchmark, bounded, and write bench/RESULTS.md with tables and charts.

`make bench` runs this. Order: QR size (seconds), real FHIR bundles (about 20 seconds),
cards (seconds), pages (seconds), scan to summary on a poor 3G phone (about a
minute), decode (about a minute), unlock on gunicorn (about a
minute). A watchdog stops the
whole run after --max-minutes (default 10); each benchmark has its own bound
too. Charts (matplotlib, PNG) go next to this file:

* qr_version.png: QR version against summary content, tagservice and the
  SMART Health Card baseline;
* unlock_latency.png: latency percentiles of the unlock API and the floor route against the
  trivial /healthz route on the same gunicorn in the same run;
* decode_rates.png: decode rate by degradation, ECC M against Q.

The exit status is 1 if any benchmark misses its target (RESULTS.md is
written either way). Run: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import card  # noqa: E402
import decode  # noqa: E402
import first_screen  # noqa: E402
import import_real  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pages  # noqa: E402
import qr_size  # noqa: E402
import roadside  # noqa: E402
import unlock  # noqa: E402

RESULTS = HERE / "RESULTS.md"


class OutOfTime(Exception):
    pass


def _alarm(_signum, _frame):
    raise OutOfTime()


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).split("\n")[0].strip() or "not found",
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ charts


def chart_qr(rows: list[qr_size.Row], path: Path) -> None:
    rows = sorted((r for r in rows if not r.invalid), key=lambda r: r.content)
    x = [r.content for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(x, [r.v_m for r in rows], "o-", label="tagservice, ECC M (signed + encrypted)")
    ax.plot(x, [r.v_l for r in rows], "o--", label="tagservice, ECC L", alpha=0.7)
    shc_m = [r.shc_m if r.shc_m else 41 for r in rows]
    ax.plot(x, shc_m, "s-", label="SMART Health Card, ECC M (41 = does not fit)")
    ax.plot(x, [r.shc_l or 41 for r in rows], "s--", label="SMART Health Card, ECC L", alpha=0.7)
    ax.axhline(40, color="grey", lw=0.8, ls=":")
    ax.axhline(10, color="green", lw=0.8, ls=":")
    ax.text(x[0], 10.5, "target for a typical summary: v10", fontsize=8, color="green")
    ax.set_xlabel("summary content (validated summary as minified JSON, bytes)")
    ax.set_ylabel("QR version")
    ax.set_ylim(0, 42)
    ax.set_title("QR version against summary content (same summaries, same run)")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def chart_latency(result: unlock.Result, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for load, style in zip(result.loads, (":", "-", "--", "-"), strict=True):
        qs = sorted(load.percentiles)
        label = f"{load.name}: {load.rps:.0f} req/s"
        ax.plot([load.percentiles[q] for q in qs], qs, style, label=label)
    ax.axvline(unlock.TARGET_P99_MS, color="red", lw=0.8, ls=":")
    ax.axhline(99, color="grey", lw=0.8, ls=":")
    ax.text(unlock.TARGET_P99_MS * 0.97, 50, "p99 target", fontsize=8, color="red", ha="right")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("percentile")
    ax.set_title(f"Latency at {unlock.CONNECTIONS} connections, gunicorn 2 workers")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def chart_decode(result: decode.Result, path: Path) -> None:
    kinds = list(decode.DEGRADATIONS)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    width = 0.38
    lowest = 100.0
    for i, level in enumerate(decode.LEVELS):
        rates = []
        for kind in kinds:
            g = [r for r in result.rows if r["kind"] == kind and r["level"] == level]
            rates.append(100 * sum(r["zxing"] for r in g) / len(g) if g else 0)
        lowest = min(lowest, *rates)
        ax.bar([k + (i - 0.5) * width for k in range(len(kinds))], rates, width,
               label=f"ECC {level.upper()} (zxing-cpp)")  # fmt: skip
    ax.axhline(100 * decode.TARGET, color="red", lw=0.8, ls=":")
    ax.set_xticks(range(len(kinds)), kinds, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(max(0, min(90, lowest - 5)), 100.5)
    ax.set_ylabel("decoded (%)")
    ax.set_title("Degraded card photos decoded, by degradation and ECC level")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ------------------------------------------------------------------ the run


def capture(fn, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        value = fn(*args, **kwargs)
    return value, out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test)")
    parser.add_argument("--max-minutes", type=float, default=10.0)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.max_minutes * 60))
    started = time.monotonic()
    info = machine()
    load_before = load_average()
    sections: list[str] = []
    summaries: list[str] = []
    failed: list[str] = []

    def section(title: str, why: str, table: str, summary: str, chart: str | None = None):
        print(f"\n== {title}\n{table}\n{summary}", flush=True)
        summaries.append(summary)
        if " PASS" not in summary.rsplit(":", 1)[-1]:
            failed.append(title)
        body = f"## {title}\n\n{why}\n\n```\n{table.rstrip()}\n{summary}\n```\n"
        if chart:
            body += f"\n![{title}]({chart})\n"
        sections.append(body)

    try:
        status, text = capture(qr_size.main)
        rows = qr_size.measure()
        chart_qr(rows, HERE / "qr_version.png")
        table, summary = text.rstrip().rsplit("\n", 1)
        section(
            "QR size (bench/qr_size.py)",
            "Tag bytes and QR version for each summary fixture and shared IPS example, "
            "against a SMART Health Card of the same content built in the same run.",
            table,
            summary,
            "qr_version.png",
        )
        _status, text = capture(import_real.main)
        table, summary = text.rstrip().rsplit("\n", 1)
        section(
            "Real FHIR patient summaries (bench/import_real.py)",
            "Each public IPS / patient-summary bundle (tests/fixtures/real-ips/SOURCES.md and "
            "shared/fixtures/fhir-ips) through `tagservice issue BUNDLE --out tag.txt` on a "
            "temporary instance; the card is decrypted and checked against an independent "
            "oracle of critical facts in the source. Baseline: json.loads of the same file.",
            table,
            summary,
        )
        _status, text = capture(card.main, ["--runs", "5" if args.quick else "15"])
        table, summary = text.rstrip().rsplit("\n", 1)
        section(
            "Printable cards (bench/card.py)",
            "Median time to render each printable form of a card in one process, against "
            "the bare QR PNG of the same tag URL in the same run.",
            table,
            summary,
        )
        result_pages = pages.run()
        section(
            "Pages from scan to summary (bench/pages.py)",
            "Bytes on the wire (status line, headers, body; uncompressed, as gunicorn sends "
            "them) per page and for the assets it references; server time is the median of "
            f"{pages.REPEATS} requests through the Flask test client (sign-in: one request, "
            "argon2 at production strength).",
            result_pages.table,
            result_pages.summary,
        )
        skipped = roadside.missing()
        if skipped:
            print(f"\n== poor 3G phone: skipped, {skipped}", flush=True)
            summaries.append(f"SUMMARY: poor 3G phone, scan to summary: skipped, {skipped}")
        else:
            runs = 2 if args.quick else roadside.COLD_RUNS
            result_3g = roadside.run(cold_runs=runs, warm_runs=runs)
            section(
                "Scan to summary on a poor 3G phone (bench/roadside.py)",
                "Debian's chromium, headless, phone context 390x844 with touch, the link "
                "throttled through DevTools (300 ms latency per request, 750 kbit/s down, "
                "250 kbit/s up) to gunicorn on 127.0.0.1 (argon2 at production strength, rate "
                "limits on). Time from the action (opening the tag URL, a tap) to the first "
                "contentful paint of the page it leads to, summed; typing is not timed. Cold: a "
                "fresh profile, password + TOTP; warm: signed in, assets cached.",
                result_3g.table,
                result_3g.summary,
            )
        if skipped:
            summaries.append(f"SUMMARY: first screen on a phone: skipped, {skipped}")
        else:
            result_screen = first_screen.run()
            section(
                "A heavy summary's first screen on a phone (bench/first_screen.py)",
                "Debian's chromium, headless, phone context 390x844; the bottom edge of each "
                "critical line (identity, alerts, allergies, medicines, normal SpO2) and of the "
                "first call button on the summary page, in CSS pixels from the top, as a "
                "ratio of the first screen (lines) and of two screens (the call).",
                result_screen.table,
                result_screen.summary,
            )
        per_case = 2 if args.quick else 12
        result_decode = decode.run(per_case=per_case, max_seconds=170)
        chart_decode(result_decode, HERE / "decode_rates.png")
        section(
            "Decoding degraded card photos (bench/decode.py)",
            f"{result_decode.images} images, seed 2026; zxing-cpp is the decoder the target "
            "is measured with, OpenCV's detector a second opinion.",
            result_decode.table,
            result_decode.summary,
            "decode_rates.png",
        )
        result_unlock = unlock.run(seconds=3 if args.quick else 10)
        chart_latency(result_unlock, HERE / "unlock_latency.png")
        section(
            "Unlock throughput and latency (bench/unlock.py)",
            "wrk, 1 thread, 16 connections against gunicorn (2 sync workers) on 127.0.0.1, "
            "rate limits off; the yardstick is a bare Flask app with one route "
            "(bench/bare_app.py) on its own gunicorn with the same settings, and /healthz on the "
            "same server, in the same run; the floor is /bench/floor (bench/floor_app.py), "
            "which only verifies, commits one row "
            "durably and decrypts: no unlock can cost less. "
            "`cpu ms` is the gunicorn workers' CPU time per request (from /proc), which other "
            "load on the machine does not inflate.",
            result_unlock.table,
            result_unlock.summary,
            "unlock_latency.png",
        )
    except OutOfTime:
        failed.append("time bound")
        summaries.append(f"SUMMARY: stopped after {args.max_minutes} minutes: FAIL")
    finally:
        signal.alarm(0)
    minutes = (time.monotonic() - started) / 60
    head = [
        "# Benchmark results",
        "",
        f"Written by `bench/run_all.py`{' --quick' if args.quick else ''} on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {minutes:.1f} minutes.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        f"| load average before / after (1, 5, 15 min) | {load_before} / {load_average()} |",
        "",
        "Each benchmark measures its baseline in the same run, so the ratios hold on another "
        "machine better than the absolute numbers do. Other work on the machine (a high load "
        "average) inflates latencies; the workers' CPU time per request is not inflated.",
        "",
        "## Summary",
        "",
        *(f"- {s.removeprefix('SUMMARY: ')}" for s in summaries),
        "",
    ]
    RESULTS.write_text("\n".join(head) + "\n" + "\n".join(sections))
    print(f"\nwrote {RESULTS} ({minutes:.1f} min)")
    if failed:
        print("SUMMARY: targets missed: " + ", ".join(failed))
        return 1
    print("SUMMARY: every benchmark met its target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scan to summary at the roadside: a phone on a poor 3G link, in a real Chromium.

A temporary instance (bench/_server.py: the command line, argon2 at production
strength, rate limits on) is served by gunicorn on 127.0.0.1. Debian's chromium,
headless, opens the tag URL in a phone context (390 x 844, touch) whose link is
throttled through the DevTools protocol (Network.emulateNetworkConditions): 300 ms
latency on every request, 750 kbit/s down, 250 kbit/s up. Two flows are timed:

* cold: a fresh profile (no cookie, no cached asset). Tag URL -> sign in with
  password + TOTP -> 999 -> summary. Each run is a new clinician, so no run waits
  for a fresh TOTP step.
* warm: the same phone, already signed in, assets cached. Tag URL -> 999 -> summary.

The time is the machine's part only: from the action (opening the URL, tapping a
button) to the first contentful paint of the page it leads to, summed over the
pages on the way; the typing is not timed. Round trips are those the phone waits
for before painting: documents (redirects included) and stylesheets, requests
that overlap in time (a page's stylesheets fetched in parallel) counting as
one; requests counts everything that crossed the link (scripts, prefetch too).
Targets (issue 15): cold <= 2.0 s, warm <= 0.9 s.
Run: .venv/bin/python bench/roadside.py
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402

# Debian's chromium with the browser tests' flags, and the phone the first screen is measured on.
from tests.browser.glance import PHONE  # noqa: E402
from tests.browser.ui import launch, missing_browser  # noqa: E402

POOR_3G = {  # bytes per second for the throughputs
    "offline": False,
    "latency": 300,
    "downloadThroughput": 750_000 / 8,
    "uploadThroughput": 250_000 / 8,
}
TARGET_COLD_S = 2.0
TARGET_WARM_S = 0.9
COLD_RUNS = 5
WARM_RUNS = 5
BLOCKING = ("document", "stylesheet")  # what the page waits for before it paints
SUMMARY = "h1#who"
SIGN_IN = "input#email"
REASON_FORM = "form[action$='/unlock']"
# The time the current document was first painted with content (ms since the epoch).
PAINTED = """() => {
  const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
  return p ? performance.timeOrigin + p.startTime : null;
}"""


@dataclass
class Run:
    seconds: float
    steps: list[tuple[str, float]]
    requests: int
    round_trips: int


@dataclass
class Result:
    cold: list[Run] = field(default_factory=list)
    warm: list[Run] = field(default_factory=list)
    argon2: str = ""
    ok: bool = False
    table: str = ""
    summary: str = ""


#: Why the benchmark cannot run here, or None: the browser tests' own check.
missing = missing_browser


class Recorder:
    """Every request the page made, timed by the browser: when it was sent and when its
    response began (ms since the epoch), so a busy machine's event delivery does not blur it.

    A request answered sooner than the link's latency never crossed it: the browser's
    cache served it, so it is neither a request nor a round trip on the link.
    """

    def __init__(self, page):
        self.spans: list[tuple[float, float, str]] = []
        page.on("requestfinished", self._done)
        page.on("requestfailed", self._done)

    def _done(self, request) -> None:
        timing = request.timing
        sent = timing["startTime"]
        answered = timing["responseStart"]
        if answered < 0:  # failed or cancelled before any answer
            return
        self.spans.append((sent, sent + answered, request.resource_type))

    def since(self, start_ms: float) -> tuple[int, int]:
        """Requests on the link since `start_ms`, and the round trips waited for: documents and
        stylesheets (render-blocking; every script here is `defer`), a request sent before an
        earlier one was answered (a page's stylesheets, in parallel) sharing its trip."""
        latency = POOR_3G["latency"]
        on_link = [x for x in self.spans if x[0] >= start_ms and x[1] - x[0] >= latency]
        trips, answered = 0, -1.0
        for sent, got, _kind in sorted(x for x in on_link if x[2] in BLOCKING):
            if sent >= answered:
                trips += 1
            answered = max(answered, got)
        return len(on_link), trips


def _painted_after(page, selector: str, started_wall: float) -> float:
    """Seconds from `started_wall` (time.time) to the first paint of the page `selector` is on."""
    page.wait_for_selector(selector, state="visible", timeout=30_000)
    painted = page.wait_for_function(PAINTED, timeout=30_000).json_value()
    return painted / 1000 - started_wall


def _timed(page, step: str, action, selector: str, steps: list) -> None:
    started = time.time()
    action()
    steps.append((step, _painted_after(page, selector, started)))


def _choose_999_and_open(page, steps: list) -> None:
    page.get_by_label(re.compile("999 call")).check()
    _timed(
        page, "999 -> summary", lambda: page.locator(REASON_FORM).locator(
            "button[type=submit]").tap(), SUMMARY, steps,
    )  # fmt: skip


def cold_run(browser, inst: _server.Instance, url: str, who: tuple[str, str]) -> tuple[Run, object]:
    """A fresh profile: sign in with password + TOTP, 999, the summary. Returns the context."""
    import pyotp

    email, otpauth = who
    context = browser.new_context(locale="en-GB", **PHONE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", POOR_3G)
    recorder = Recorder(page)
    start = time.time() * 1000
    steps: list[tuple[str, float]] = []
    _timed(page, "tag URL -> sign-in", lambda: page.goto(url, wait_until="commit"), SIGN_IN, steps)
    page.fill(SIGN_IN, email)
    page.fill("input#password", _server.PASSWORD)
    page.fill("input#code", pyotp.parse_uri(otpauth).now())
    reason_on_signin = page.locator("#signin-form input[name=reason]").count() > 0
    if reason_on_signin:  # one POST signs in and opens
        page.get_by_label(re.compile("999 call")).check()
        submit = page.locator("#signin-form button[type=submit]")
        _timed(page, "sign in + 999 -> summary", submit.tap, SUMMARY, steps)
    else:
        submit = page.locator("#signin-form button[type=submit]")
        _timed(page, "sign in -> reason", submit.tap, REASON_FORM, steps)
        _choose_999_and_open(page, steps)
    page.wait_for_load_state()  # (not timed) every request's end has been reported
    requests, trips = recorder.since(start)
    return Run(sum(s for _, s in steps), steps, requests, trips), (context, page, recorder)


def warm_run(page, recorder: Recorder, url: str) -> Run:
    """Signed in, assets cached: tag URL, 999, the summary."""
    start = time.time() * 1000
    steps: list[tuple[str, float]] = []
    _timed(page, "tag URL -> reason", lambda: page.goto(url, wait_until="commit"),
           REASON_FORM, steps)  # fmt: skip
    _choose_999_and_open(page, steps)
    page.wait_for_load_state()  # (not timed) every request's end has been reported
    requests, trips = recorder.since(start)
    return Run(sum(s for _, s in steps), steps, requests, trips)


def _clinicians(inst: _server.Instance, count: int) -> list[tuple[str, str]]:
    """One paramedic per cold run (each signs in once: no wait for a new TOTP step)."""
    people = [(_server.EMAIL, inst.otpauth)]
    for n in range(1, count):
        email = f"bench.medic{n}@example.nhs.uk"
        added = inst.cli(
            "clinician", "add", email, "--name", f"Bench Medic {n}", "--role", "paramedic",
            "--register", "HCPC", "--registration", f"PA5432{n}", "--org", "Bench Ambulance",
            "--password-stdin", stdin=_server.PASSWORD + "\n",
        )  # fmt: skip
        uri = next(line for line in added.splitlines() if line.startswith("otpauth://"))
        people.append((email, uri))
    return people


def argon2_verify(runs: int = 9) -> str:
    """Milliseconds per password check at the production parameters (argon2-cffi's
    defaults: tagservice sets no ARGON2_PARAMS outside the tests), against OWASP's minimum."""
    from argon2 import PasswordHasher

    def median_ms(hasher: PasswordHasher) -> float:
        stored = hasher.hash(_server.PASSWORD)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            hasher.verify(stored, _server.PASSWORD)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    production = PasswordHasher()
    owasp = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
    return (
        f"argon2id verify, production (t={production.time_cost}, "
        f"m={production.memory_cost // 1024} MiB, p={production.parallelism}): "
        f"{median_ms(production):.0f} ms median of {runs}; OWASP's minimum (t=2, m=19 MiB, "
        f"p=1): {median_ms(owasp):.0f} ms"
    )


def run(cold_runs: int = COLD_RUNS, warm_runs: int = WARM_RUNS) -> Result:
    from playwright.sync_api import sync_playwright

    result = Result(argon2=argon2_verify())
    with _server.running(workers=2) as inst, sync_playwright() as driver:
        url = inst.tags["summary-typical.json"]
        people = _clinicians(inst, cold_runs)
        browser = launch(driver)
        try:
            last = None
            for who in people:
                if last is not None:
                    last[0].close()
                run_, last = cold_run(browser, inst, url, who)
                result.cold.append(run_)
            _context, page, recorder = last
            for _ in range(warm_runs):
                result.warm.append(warm_run(page, recorder, url))
            last[0].close()
        finally:
            browser.close()
    return _report(result)


def _median(runs: list[Run]) -> float:
    return statistics.median(r.seconds for r in runs)


def _report(result: Result) -> Result:
    lines = [f"{'flow':<6} {'run':>3} {'total s':>8} {'requests':>8} {'RTs':>4}  steps (s)"]
    for name, runs in (("cold", result.cold), ("warm", result.warm)):
        for i, r in enumerate(runs, 1):
            steps = ", ".join(f"{s} {t:.2f}" for s, t in r.steps)
            lines.append(
                f"{name:<6} {i:>3} {r.seconds:>8.2f} {r.requests:>8} {r.round_trips:>4}  {steps}"
            )
    cold, warm = _median(result.cold), _median(result.warm)
    cold_trips = statistics.median(r.round_trips for r in result.cold)
    warm_trips = statistics.median(r.round_trips for r in result.warm)
    cold_req = statistics.median(r.requests for r in result.cold)
    warm_req = statistics.median(r.requests for r in result.warm)
    lines.append("")
    lines.append(
        f"medians: cold {cold:.2f} s, {cold_req:.0f} requests, {cold_trips:.0f} round trips; "
        f"warm {warm:.2f} s, {warm_req:.0f} requests, {warm_trips:.0f} round trips "
        f"({len(result.cold)} cold and {len(result.warm)} warm runs; 300 ms latency, "
        "750/250 kbit/s, phone 390x844)"
    )
    lines.append(result.argon2 + " (one check per password sign-in: in the cold flow)")
    result.table = "\n".join(lines)
    result.ok = cold <= TARGET_COLD_S and warm <= TARGET_WARM_S
    result.summary = (
        f"SUMMARY: poor 3G phone, scan to summary: cold {cold:.2f} s "
        f"({cold / TARGET_COLD_S:.2f} of the {TARGET_COLD_S} s target, {cold_trips:.0f} round "
        f"trips), warm {warm:.2f} s ({warm / TARGET_WARM_S:.2f} of the {TARGET_WARM_S} s target, "
        f"{warm_trips:.0f} round trips): {'PASS' if result.ok else 'FAIL'}"
    )
    return result


def main() -> int:
    reason = missing()
    if reason:
        print(f"SUMMARY: poor 3G phone, scan to summary: not measured, {reason}: SKIPPED")
        return 0
    result = run()
    print(result.table)
    print(result.summary)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

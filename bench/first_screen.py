"""Where a heavy summary's critical lines sit on a paramedic's phone (390 x 844).

Real Debian Chromium opens each fixture's tag on a gunicorn instance set up with
the command line, signs in (password + TOTP), chooses "999 call" and measures the
summary page with tests/browser/glance.py: the bottom edge of each critical line
(identity, alerts, allergies, medicines, normal SpO2) and of the first call
button. Ratios are against the first screen (844 px) and two screens.

Targets (issue 15): on the heavy fixture every critical line within the first
screen (ratio <= 1.0), the first call within two screens (ratio <= 1.0).
Run: .venv/bin/python bench/first_screen.py
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402

FIXTURES = ("summary-heavy.json", "summary-heavy-realistic.json", "summary-typical.json")
TARGET_FIXTURE = "summary-heavy.json"


@dataclass
class Result:
    ok: bool
    table: str
    summary: str


def run() -> Result:
    from tests.browser import glance, ui

    skipped = ui.missing_browser()
    if skipped:
        return Result(True, "", f"SUMMARY: first screen on a phone: skipped, {skipped}")
    import pyotp
    from playwright.sync_api import sync_playwright

    with _server.running(summaries=FIXTURES) as inst, sync_playwright() as driver:
        browser = ui.launch(driver)
        try:
            context = browser.new_context(locale="en-GB", **glance.PHONE)
            page = context.new_page()
            measured = {}
            for i, name in enumerate(FIXTURES):
                page.goto(inst.tags[name])
                page.get_by_label(re.compile("999 call")).check()
                if i == 0:  # the tag URL's sign-in page: one POST signs in and opens
                    page.get_by_label("Work email").fill(_server.EMAIL)
                    page.get_by_label("Password", exact=True).fill(_server.PASSWORD)
                    page.get_by_label("Code", exact=True).fill(pyotp.parse_uri(inst.otpauth).now())
                    page.locator("#signin-form button[type=submit]").click()
                else:
                    page.get_by_role("button", name="Open summary").click()
                page.get_by_role("heading", level=2, name="Allergies").wait_for()
                measured[name] = glance.measure(page)
        finally:
            browser.close()
    return report(measured)


def report(measured: dict) -> Result:
    head = (
        f"{'fixture':<30} {'lines':>5} {'lowest px':>9} {'/screen':>7} {'below':>5} "
        f"{'call px':>7} {'/2 screens':>10}"
    )
    rows = [head, "-" * len(head)]
    for name, where in measured.items():
        call = where.first_call or 0
        rows.append(
            f"{name:<30} {len(where.critical()):>5} {where.lowest():>9} "
            f"{where.lowest() / where.screen:>7.2f} {len(where.below_first_screen()):>5} "
            f"{call:>7} {call / (2 * where.screen):>10.2f}"
        )
        rows += [f"    below the first screen: {g}: {t} ({y} px)" for g, t, y in
                 where.below_first_screen()]  # fmt: skip
    heavy = measured[TARGET_FIXTURE]
    ok = (
        not heavy.below_first_screen()
        and heavy.first_call is not None
        and heavy.first_call <= 2 * heavy.screen
    )
    text = (
        f"SUMMARY: heavy summary on a 390x844 phone: lowest critical line at "
        f"{heavy.lowest()} px = {heavy.lowest() / heavy.screen:.2f} of the first screen "
        f"(target <= 1.00), first call at {heavy.first_call} px = "
        f"{(heavy.first_call or 0) / (2 * heavy.screen):.2f} of two screens (target <= 1.00): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return Result(ok, "\n".join(rows), text)


def main() -> int:
    result = run()
    print(result.table)
    print(result.summary)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

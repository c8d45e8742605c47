"""Where a summary's critical lines sit on a phone: for the first-screen test and the bench.

A critical line is anything that changes treatment in the first minutes: each alert
(dangers and targets/needs), each allergy, each medicine and the patient's normal
oxygen saturation. Sections are found by their headings' ids (scan/summary.html),
so the measure follows the page's structure, not its styling. Positions are the
bottom edge of each line in CSS pixels from the top of the page.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The phone the clinical review used (iPhone 12-15 class), in CSS pixels.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

_POSITIONS = """() => {
  const bottom = el => Math.round(el.getBoundingClientRect().bottom + window.scrollY);
  const text = el => el.textContent.trim().replace(/\\s+/g, " ");
  const lines = sel => [...document.querySelectorAll(sel)].map(el => [text(el), bottom(el)]);
  const call = document.querySelector('main a[href^="tel:"]');
  return {
    identity: lines("#who, #who + .id-line"),
    alerts: lines("[aria-labelledby=crit] > p"),
    allergies: lines("[aria-labelledby=allergies] li"),
    medicines: lines("[aria-labelledby=meds] li"),
    oxygen: lines("[aria-labelledby=base] li").filter(([t]) => t.startsWith("SpO")),
    call: call ? [[text(call), bottom(call)]] : [],
  };
}"""


@dataclass
class Positions:
    screen: int  # the viewport's height
    lines: dict[str, list[tuple[str, int]]]

    @property
    def first_call(self) -> int | None:
        return self.lines["call"][0][1] if self.lines["call"] else None

    def critical(self, groups: tuple[str, ...] | None = None) -> list[tuple[str, str, int]]:
        """(group, text, bottom) for every critical line (or those in `groups`)."""
        wanted = groups or ("identity", "alerts", "allergies", "medicines", "oxygen")
        return [(g, text, y) for g in wanted for text, y in self.lines[g]]

    def below_first_screen(self, groups: tuple[str, ...] | None = None) -> list:
        return [line for line in self.critical(groups) if line[2] > self.screen]

    def lowest(self) -> int:
        return max(y for _, _, y in self.critical())


def measure(page) -> Positions:
    """Positions on the summary page open in `page` (a Playwright page, scrolled to the top)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    return Positions(page.viewport_size["height"], page.evaluate(_POSITIONS))

"""What the browser tests share: the running instance, people, and a careful look at a page.

`Page.look(step)` is the check every page of every flow gets: a screenshot
(on the phone a dark one too), axe-core with zero violations in both colour schemes, no
script error or CSP violation, and on the phone no sideways scrolling at 200 %
zoom. Playwright itself is imported only where it is used, so this module
imports on a machine without it (and the tests are skipped there).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyotp

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; no browser is ever downloaded
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEVICES = {
    # A paramedic's phone at the kerbside: small, touch, often in dark mode at night.
    # CSS pixels are what matter; a 1x screen keeps screenshots quick to take.
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    # An A&E triage desk PC with a USB scan gun.
    "desk": {"viewport": {"width": 1280, "height": 800}},
}
HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
BIN = Path(sys.executable).parent
PASSWORD = "a long enough passphrase 2026"
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
ZOOMED = {"width": 180, "height": 370}  # a 360 px phone at 200 % zoom
IGNORED_CONSOLE = (
    # Chromium logs every 4xx/5xx document; the tests assert the statuses they expect.
    "Failed to load resource: the server responded with a status of",
)
REGISTRATIONS = {
    "paramedic": ("HCPC", "PA12345"),
    "nurse": ("NMC", "12A3456E"),
    "doctor": ("GMC", "7123456"),
}


def missing_browser() -> str | None:
    """Why a real-browser test or bench cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing (pip install -e '.[test]')"
    return None


def expect(actual, message: str | None = None):
    """Playwright's web-first assertions, taking our Page wrapper too."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual.pw if isinstance(actual, Page) else actual, message)


def axe_path() -> Path:
    path = HERE / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm install --prefix tests/browser`")
    return path


def launch(driver, *args: str):
    """Headless Debian Chromium with the suite's flags (plus `args`)."""
    return driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *args]
    )


def new_context(browser, base: str, device: str, **options):
    """A fresh profile for `device` (British English), with axe-core ready in every page.

    axe is injected as an init script, which the page's strict CSP does not
    block, so pages are checked with their real CSP in force.
    """
    context = browser.new_context(base_url=base, locale="en-GB", **{**DEVICES[device], **options})
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(axe_path()))
    return context


@dataclass
class Clinician:
    email: str
    name: str
    password: str
    totp: pyotp.TOTP
    _last_counter: int = field(default=0, repr=False)

    def code(self) -> str:
        """A fresh TOTP code: the server accepts each time step once, one step either side."""
        now = int(time.time() // 30)
        counter = max(now, self._last_counter + 1)
        if counter > now + 1:
            time.sleep(30 - time.time() % 30 + 0.1)
            return self.code()
        self._last_counter = counter
        return self.totp.generate_otp(counter)


class Server:
    """The running service, and an operator's hands on its instance folder."""

    def __init__(self, base: str, env: dict, log: Path):
        from tagservice import create_app
        from tagservice.config import load_settings

        self.base, self.env, self.log = base, env, log
        self.settings = load_settings(env)
        self.app = create_app({"settings": self.settings})
        self.app.config["ARGON2_PARAMS"] = FAST_ARGON2

    def close(self) -> None:
        from tagservice.store.db import db

        with self.app.app_context():
            db.engine.dispose()

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "tagservice"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def clinician(self, role: str = "paramedic", name: str = "Pat Medic") -> Clinician:
        """A new clinician account (as `tagservice clinician add` makes, with a fast hash)."""
        from tagservice.accounts import clinicians

        register, number = REGISTRATIONS[role]
        email = f"{role}-{secrets.token_hex(4)}@example.nhs.uk"
        with self.app.app_context():
            _, _, uri = clinicians.add_clinician(
                email, name, role, register, number, "Example NHS Trust", password=PASSWORD
            )
        return Clinician(email, name, PASSWORD, pyotp.parse_uri(uri))

    def issue(self, fixture: str = "summary-typical.json") -> str:
        """Issue a tag as `tagservice issue` does; returns the URL printed in the QR code."""
        from tagservice import crypto, keys, tag_digits
        from tagservice.store import tags

        summary = json.loads((FIXTURES / fixture).read_text())
        with self.app.app_context():
            keyset = keys.load_keyset(self.settings)
            now = datetime.now(UTC)
            tag = crypto.seal(summary, keyset, now)
            header = crypto.verify_tag(tag, keyset)
            tags.register_tag(
                header.tag_id_hex, header.issuer_kid.hex(), header.reader_kid.hex(), now, None
            )
            return tag_digits.tag_url(self.settings.base_url, tag)

    def tag_id(self, url: str) -> str:
        from tagservice import crypto, keys

        return crypto.verify_tag(url, keys.load_keyset(self.settings)).tag_id_hex

    def revoke(self, url: str) -> None:
        from tagservice.store import tags

        with self.app.app_context():
            tags.revoke_tag(self.tag_id(url), "card lost")

    def events(self, kind: str, tag_id: str | None = None) -> list:
        from tagservice.store.db import db
        from tagservice.store.models import AuditEvent

        with self.app.app_context():
            query = db.select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
            if tag_id:
                query = query.where(AuditEvent.tag_id == tag_id)
            rows = db.session.scalars(query).all()
            db.session.expunge_all()
            return rows


class Page:
    """A Playwright page plus the checks a person's eyes would make; other calls pass through."""

    def __init__(self, page, device: str, shots: Path):
        self.pw = page
        self.device = device
        self.shots = shots
        self.step = 0
        self.console: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def __getattr__(self, name):
        return getattr(self.pw, name)

    @property
    def phone(self) -> bool:
        return self.device == "phone"

    def _console(self, message) -> None:
        if message.type == "error" and not message.text.startswith(IGNORED_CONSOLE):
            self.console.append(f"{message.type}: {message.text}")

    def assert_no_console_errors(self) -> None:
        assert self.console == [], self.console

    def press(self, locator) -> None:
        """A tap with a gloved thumb on the phone, a mouse click at the desk."""
        locator.tap() if self.phone else locator.click()

    def look(self, name: str) -> None:
        """Screenshot, axe in light and dark, and (phone) reflow at 200 % zoom.

        The dark screenshot is taken on the phone only (a paramedic at night);
        axe checks both schemes everywhere. Screenshots are the slow part.
        """
        self.step += 1
        stem = f"{self.step:02d}-{name}"
        self.shots.mkdir(parents=True, exist_ok=True)  # another run may have cleared it
        self.pw.wait_for_load_state()
        self.pw.screenshot(path=self.shots / f"{stem}.png", full_page=True)
        assert_accessible(self.pw, f"{stem} (light)")
        self.pw.emulate_media(color_scheme="dark")
        try:
            if self.phone:
                self.pw.screenshot(path=self.shots / f"{stem}-dark.png", full_page=True)
            assert_accessible(self.pw, f"{stem} (dark)")
        finally:
            self.pw.emulate_media(color_scheme="light")
        if self.phone:
            self.assert_reflows(stem)
        self.assert_no_console_errors()

    def assert_reflows(self, stem: str) -> None:
        """WCAG 1.4.10: at 200 % zoom (a 180 px CSS viewport) nothing needs sideways scrolling."""
        size = self.pw.viewport_size
        self.pw.set_viewport_size(ZOOMED)
        try:
            overflow = self.pw.evaluate(OVERFLOW)
            self.pw.screenshot(path=self.shots / f"{stem}-zoom200.png", full_page=True)
        finally:
            self.pw.set_viewport_size(size)
        assert overflow is None, f"{stem}: sideways scrolling at 200 % zoom: {overflow}"


OVERFLOW = """() => {
  const root = document.documentElement, width = root.clientWidth;
  if (root.scrollWidth <= width) return null;
  const wide = [...document.body.querySelectorAll("*")]
    .filter(el => el.getBoundingClientRect().right > width + 0.5)
    .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "")
      + " " + Math.round(el.getBoundingClientRect().right - width) + "px");
  return (root.scrollWidth - width) + "px too wide; widest: " + wide.slice(-6).join(", ");
}"""


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " -> " + n.failureSummary),
  }));
}"""


def assert_accessible(page, where: str) -> None:
    """axe-core, every rule it runs by default (WCAG 2.x A/AA and best practice): none fails."""
    violations = page.evaluate(AXE_RUN)
    assert violations == [], f"{where}: " + json.dumps(violations, indent=1)


def tab_to(page, locator, limit: int = 40) -> None:
    """Press Tab until `locator` has focus, as a keyboard user would; its focus must show."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            ring = locator.evaluate(
                "el => { const s = getComputedStyle(el);"
                " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 }"
            )
            assert ring, "the focused control has no visible focus ring"
            return
    raise AssertionError(f"Tab never reached {locator}")


def type_date(page, iso: str) -> None:
    """Type a date into the focused date field in the order this browser's widget wants.

    The widget follows the browser's own language (Debian's chromium ships only
    en-US, so month first), not the page's, so ask a scratch page which it is.
    """
    year, month, day = iso.split("-")
    probe = page.context.new_page()
    try:
        probe.set_content('<input type="date" id="d">')
        probe.focus("#d")
        probe.keyboard.type("01021999")
        month_first = probe.eval_on_selector("#d", "el => el.value") == "1999-01-02"
    finally:
        probe.close()
    page.keyboard.type(month + day + year if month_first else day + month + year)


def sign_in_with_password(page: Page, who: Clinician) -> None:
    page.get_by_label("Work email").fill(who.email)
    page.get_by_label("Password", exact=True).fill(who.password)
    page.get_by_label("Code", exact=True).fill(who.code())
    # "Sign in", or "Sign in and open summary" on the sign-in page reached from a tag
    page.press(page.locator("#signin-form button[type=submit]"))


def path_of(url: str) -> str:
    return url[url.upper().index("/T/") :]

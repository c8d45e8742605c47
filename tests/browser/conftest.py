"""Real-browser fixtures: one gunicorn on a free port, one headless Debian Chromium.

The server starts once per session from a temporary instance made with the
command line, as an operator would make it. Each test makes its own clinician
and tag and gets a fresh browser context, so tests do not depend on each
other's order. Pages are opened at http://localhost:<port>, not 127.0.0.1,
because browsers refuse IP addresses as WebAuthn relying-party ids.

Every test here is skipped, with the reason, when Playwright or Debian's
chromium is missing; CI installs both (never `playwright install`: no browser
is downloaded). axe-core comes from `npm install --prefix tests/browser`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import ui
from tests.browser.ui import DEVICES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(autouse=True)
def _needs_a_browser():
    reason = ui.missing_browser()
    if reason:
        pytest.skip(f"browser tests need Debian's chromium and Playwright: {reason}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[ui.Server]:
    """gunicorn (2 workers) serving a temporary instance set up with `tagservice init`."""
    if ui.missing_browser():
        pytest.skip("no browser")
    home = tmp_path_factory.mktemp("browser") / "instance"
    port = free_port()
    env = {
        **os.environ,
        "TAGSERVICE_HOME": str(home),
        "TAGSERVICE_BASE_URL": f"http://localhost:{port}",
        "TAGSERVICE_ENV": "development",
        # Every test signs in from 127.0.0.1: the per-address sign-in limit
        # (10 a minute) would trip. Rate limits have their own tests.
        "TAGSERVICE_RATELIMIT_ENABLED": "false",
    }
    for name in ("DATABASE_URL", "TAGSERVICE_DATABASE_URL", "TAGSERVICE_SECRET_KEY"):
        env.pop(name, None)
    subprocess.run(
        [str(BIN / "tagservice"), "init"], env=env, check=True, capture_output=True, timeout=60
    )
    log_path = home.parent / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/healthz", log_path)
            instance = ui.Server(f"http://localhost:{port}", env, log_path)
            yield instance
            instance.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    log = log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    # Nothing a patient typed, and no tag payload, reaches the server's log.
    for secret in ("Zofia", "Kowalczyk", "Maria Jones", "Jane Smith", "Penicillin", "/T/"):
        assert secret not in log, f"{secret!r} is in the server log"


def _wait_until_up(url: str, log_path: Path) -> None:
    for _ in range(150):
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not start: " + log_path.read_text())


@pytest.fixture(scope="session")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):
    browser = ui.launch(playwright_driver)
    yield browser
    browser.close()


@pytest.fixture(params=list(DEVICES))
def device(request) -> str:
    return request.param


@pytest.fixture
def shots(request) -> Path:
    """A clean folder for this test's screenshots (test-artifacts/ is git-ignored)."""
    name = re.sub(r"[^\w-]+", "-", request.node.name).strip("-")
    folder = SCREENSHOTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def new_context(browser, server, device):
    """Make browser contexts for `device` (two people, or two phones, in one test)."""
    contexts = []

    def make(**options):
        context = ui.new_context(browser, server.base, device, **options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context, device, shots) -> Iterator[ui.Page]:
    """One tab on `device`; fails the test on any script error or CSP violation."""
    tab = ui.Page(new_context().new_page(), device, shots)
    yield tab
    tab.assert_no_console_errors()

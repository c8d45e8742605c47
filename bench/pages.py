"""How heavy is the path from scan to summary? Bytes, requests, round trips, server time.

A temporary instance is set up with the command line (init, a paramedic with
production-strength password hashing, an issued tag); the pages are then
driven through Flask's test client as a phone would: scan while signed out
(the sign-in page itself, asking why), the POST that signs in and opens (a
summary page), then signed in: the reason page, the unlock POST (the summary
page). For each page it counts every byte the phone would receive
(status line, headers, body) for the document and for the CSS, JS and images
it references (assets are versioned and `immutable`, so a phone fetches each
once), any reference to another site, and the server's time for the document
(median of repeated requests where repeating is harmless).

Targets: summary page <= 25 KB in total with a cold cache, no third-party
request anywhere, <= 2 round trips from scan to summary for a clinician who
is already signed in (assets cached from sign-in).
Its main() then runs bench/roadside.py: the same path timed in a real Chromium on a
phone through a throttled poor 3G link (cold and warm); and bench/first_screen.py:
where the heavy summary's critical lines and first call land on a 390 x 844 phone.
Run: .venv/bin/python bench/pages.py
"""

from __future__ import annotations

import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _server  # noqa: E402
import first_screen  # noqa: E402
import roadside  # noqa: E402

TARGET_SUMMARY_BYTES = 25 * 1024
TARGET_ROUND_TRIPS = 2
REPEATS = 15
HOST = "localhost"  # the test client's host: anything else is a third party
_ASSET = re.compile(
    r"""<(?:link[^>]*\brel="(?:stylesheet|icon|preload|prefetch|modulepreload|manifest)"[^>]*\bhref|"""
    r"""script[^>]*\bsrc|img[^>]*\bsrc|source[^>]*\bsrc|iframe[^>]*\bsrc)="([^"]+)\"""",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


@dataclass
class Fetch:
    path: str
    status: int
    bytes: int
    gzip_bytes: int


@dataclass
class Page:
    name: str
    document: Fetch
    assets: list[Fetch] = field(default_factory=list)  # fetched now (not in cache)
    cached: list[str] = field(default_factory=list)  # referenced, already in cache
    all_asset_bytes: int = 0  # every asset the page uses, cached or not
    third_party: list[str] = field(default_factory=list)
    server_ms: float = 0.0

    @property
    def transferred(self) -> int:
        return self.document.bytes + sum(a.bytes for a in self.assets)

    @property
    def cold_total(self) -> int:
        return self.document.bytes + self.all_asset_bytes

    @property
    def round_trips(self) -> int:
        """The document, plus one more if any asset must be fetched (in parallel)."""
        return 1 + (1 if self.assets else 0)


def wire_bytes(response) -> tuple[int, int]:
    """Status line + headers + body as HTTP/1.1 would send them; and with gzip'd body."""
    head = f"HTTP/1.1 {response.status}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in response.headers.items()
    )
    body = response.get_data()
    return len(head) + 2 + len(body), len(head) + 2 + len(gzip.compress(body, 6))


class Phone:
    """A browser's view of the site: cookies (the test client's) and an asset cache."""

    def __init__(self, client):
        self.client = client
        self.cache: dict[str, int] = {}

    def request(self, method: str, path: str, **kw) -> tuple[object, Fetch]:
        response = getattr(self.client, method.lower())(path, **kw)
        size, gz = wire_bytes(response)
        return response, Fetch(path, response.status_code, size, gz)

    def page(self, name: str, method: str, path: str, **kw) -> tuple[Page, object]:
        response, doc = self.request(method, path, **kw)
        page = Page(name, doc)
        if response.mimetype == "text/html":
            self._assets(page, response.get_data(as_text=True), path)
        return page, response

    def _assets(self, page: Page, html: str, base: str) -> None:
        refs = [m.group(1) for m in _ASSET.finditer(html)]
        seen: set[str] = set()
        while refs:
            ref = refs.pop(0)
            if ref.startswith("data:") or ref in seen:
                continue
            seen.add(ref)
            url = urljoin(base, ref)
            parts = urlsplit(url)
            if parts.netloc and parts.netloc != HOST or ref.startswith("//"):
                page.third_party.append(ref)
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if local in self.cache:
                page.cached.append(local)
                page.all_asset_bytes += self.cache[local]
                continue
            response, fetched = self.request("GET", local)
            self.cache[local] = fetched.bytes
            page.assets.append(fetched)
            page.all_asset_bytes += fetched.bytes
            if response.mimetype == "text/css":
                css = response.get_data(as_text=True)
                refs += [a or b for a, b in _CSS_URL.findall(css)]
        for m in re.finditer(r"""\b(?:src|href|action)="((?:https?:)?//[^"]+)\"""", html):
            if urlsplit(m.group(1)).netloc != HOST and m.group(1) not in page.third_party:
                page.third_party.append(m.group(1))


def median_ms(call, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@dataclass
class Result:
    pages: list[Page]
    ok: bool
    table: str
    summary: str


def run() -> Result:
    with tempfile.TemporaryDirectory(prefix="tagservice-pages-") as tmp:
        inst = _server.setup_instance(
            Path(tmp) / "instance",
            8000,
            ("summary-typical.json", "summary-heavy.json"),
            TAGSERVICE_RATELIMIT_ENABLED="false",
        )
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in inst.env.items() if k.startswith("TAGSERVICE_")})
        try:
            return _measure(inst)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _measure(inst: _server.Instance) -> Result:
    sys.path.insert(0, str(_server.ROOT))
    import pyotp

    from tagservice import create_app
    from tagservice.store.db import db

    app = create_app()
    phone = Phone(app.test_client())
    url = inst.tags["summary-typical.json"]
    scan_path = url[url.index("/T/") :]
    pages = []
    # 1. scan while signed out: the sign-in page itself, asking why too (stylesheet inline)
    scan, response = phone.page("scan = sign-in page", "GET", scan_path)
    scan.server_ms = median_ms(lambda: phone.client.get(scan_path))
    pages.append(scan)
    token = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    # 2. one POST signs in (argon2 at production strength, TOTP) and opens: once, a code
    #    cannot be replayed
    form = {
        "csrf_token": token.group(1),
        "email": _server.EMAIL,
        "password": _server.PASSWORD,
        "code": pyotp.parse_uri(inst.otpauth).now(),
        "reason": "999",
    }
    started = time.perf_counter()
    post, response = phone.page("sign in + open (POST)", "POST", scan_path, data=form)
    post.server_ms = (time.perf_counter() - started) * 1000
    pages.append(post)
    if response.status_code != 200 or "Jane" not in response.get_data(as_text=True):
        raise RuntimeError(f"sign-in and open failed in the benchmark: {response.status_code}")
    # 4. the reason page (scan again, now signed in)
    reason, response = phone.page("reason page", "GET", scan_path)
    reason.server_ms = median_ms(lambda: phone.client.get(scan_path))
    pages.append(reason)
    token = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    unlock_form = {"csrf_token": token.group(1), "tag": scan_path[3:], "reason": "999"}
    # 5. the summary page (each repeat is a real, audited unlock)
    summary, response = phone.page("summary page", "POST", "/unlock", data=unlock_form)
    if response.status_code != 200 or "Jane" not in response.get_data(as_text=True):
        raise RuntimeError(f"unlock failed in the benchmark: {response.status_code}")
    summary.server_ms = median_ms(lambda: phone.client.post("/unlock", data=unlock_form))
    pages.append(summary)
    # 6. the heaviest fixture's summary page: the size target is for the worst case
    heavy_url = inst.tags["summary-heavy.json"]
    heavy_path = heavy_url[heavy_url.index("/T/") :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', phone.client.get(heavy_path).text)
    heavy_form = {"csrf_token": token.group(1), "tag": heavy_path[3:], "reason": "999"}
    heavy, response = phone.page("summary page (heavy)", "POST", "/unlock", data=heavy_form)
    if response.status_code != 200:
        raise RuntimeError(f"unlock of the heavy tag failed: {response.status_code}")
    heavy.server_ms = median_ms(lambda: phone.client.post("/unlock", data=heavy_form))
    pages.append(heavy)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return _report(pages)


def _report(pages: list[Page]) -> Result:
    head = (
        f"{'page':<22} {'status':>6} {'doc B':>7} {'doc gz':>7} {'assets':>7} {'asset B':>8} "
        f"{'cached':>6} {'sent B':>7} {'cold B':>7} {'3rd pty':>7} {'RTs':>4} {'server ms':>9}"
    )
    lines = [head, "-" * len(head)]
    for p in pages:
        lines.append(
            f"{p.name:<22} {p.document.status:>6} {p.document.bytes:>7} "
            f"{p.document.gzip_bytes:>7} {len(p.assets):>7} {sum(a.bytes for a in p.assets):>8} "
            f"{len(p.cached):>6} {p.transferred:>7} {p.cold_total:>7} {len(p.third_party):>7} "
            f"{p.round_trips:>4} {p.server_ms:>9.1f}"
        )
    assets = {a.path: a for p in pages for a in p.assets}
    lines.append("")
    lines.append(
        "assets: " + ", ".join(f"{k.split('?')[0]} {v.bytes} B" for k, v in assets.items())
    )
    total_flow = sum(p.transferred for p in pages)
    requests = sum(1 + len(p.assets) for p in pages)
    lines.append(
        f"whole flow (scan, sign in + open, then reason, summary, heavy summary): {requests} "
        f"requests, {total_flow} B ({total_flow / 1024:.1f} KB) uncompressed"
    )
    summary = max(
        (p for p in pages if p.name.startswith("summary page")), key=lambda p: p.cold_total
    )
    reason = next(p for p in pages if p.name == "reason page")
    third = sorted({t for p in pages for t in p.third_party})
    # Signed in already (assets cached at sign-in): GET /T/... then POST /unlock.
    signed_in_trips = reason.round_trips + summary.round_trips
    cold_trips = 2 + (1 if reason.assets or reason.cached else 0)
    lines.append(
        f"signed-in clinician, scan to summary: {signed_in_trips} round trips with assets cached "
        f"(GET /T/..., POST /unlock), {cold_trips} with a cold cache"
    )
    ok = (
        summary.cold_total <= TARGET_SUMMARY_BYTES
        and not third
        and signed_in_trips <= TARGET_ROUND_TRIPS
    )
    text = (
        f"SUMMARY: largest summary page {summary.cold_total / 1024:.1f} KB total cold "
        f"(target <= {TARGET_SUMMARY_BYTES // 1024} KB), "
        f"{len(third)} third-party requests (target 0), {signed_in_trips} round trips scan to "
        f"summary signed in (target <= {TARGET_ROUND_TRIPS}); summary page server time "
        f"{summary.server_ms:.1f} ms: {'PASS' if ok else 'FAIL'}"
    )
    if third:
        lines.append("third-party references: " + ", ".join(third))
    return Result(pages, ok, "\n".join(lines), text)


def main() -> int:
    result = run()
    print(result.table)
    print(result.summary)
    print()
    on_3g = roadside.main()
    print()
    positions = first_screen.main()
    return 0 if result.ok and on_3g == 0 and positions == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

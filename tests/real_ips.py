"""Issue a card from a real FHIR bundle exactly as `tagservice issue BUNDLE --out tag.txt` does.

Shared by tests/unit/fhir/test_real_ips.py and bench/import_real.py: a temporary instance
made by `tagservice init`, the real command run in-process, and the outcome
read back the way a clinician would see it (the tag decrypted with the
instance's keys). An outcome is one of: issued (with the summary on the card),
refused (the command's own one-line error, exit code 2), or crashed (anything
else: an exception, a traceback, another exit code).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from tagservice import crypto, keys
from tagservice.cli import main
from tagservice.config import load_settings
from tagservice.summary import capacity

ROOT = Path(__file__).resolve().parents[1]
LOCAL_BUNDLES = ROOT / "tests" / "fixtures" / "real-ips"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
# where the collected bundles belong (see tests/fixtures/real-ips/SOURCES.md), then the
# local copy, then the four IPS examples every checkout has beside it
BUNDLE_DIRS = (SHARED_FIXTURES / "real-ips", LOCAL_BUNDLES, SHARED_FIXTURES / "fhir-ips")
LEFT_OFF = re.compile(r"not on the card", re.IGNORECASE)
MORE = re.compile(r"(\d+) more\b")


def bundle_paths() -> list[Path]:
    """Every real bundle, once by file name (the shared copy wins over the local one)."""
    found: dict[str, Path] = {}
    for folder in BUNDLE_DIRS:
        for path in sorted(folder.glob("*.json")):
            found.setdefault(path.name, path)
    return sorted(found.values(), key=lambda p: p.name)


@dataclass
class Outcome:
    """What `tagservice issue` did with one bundle."""

    issued: bool = False
    crashed: bool = False
    reason: str = ""  # the one-line refusal, or the crash's exception type
    qr_version: int | None = None
    notes: list[str] = field(default_factory=list)
    card: dict | None = None  # the summary decrypted from the issued tag

    @property
    def left_off(self) -> int:
        """Items the fitting named as not on the card ("not on the card: 17 more …" = 17)."""
        total = 0
        for note in self.notes:
            if LEFT_OFF.search(note):
                more = MORE.search(note)
                total += int(more.group(1)) if more else 1
        return total


class Instance:
    """A throw-away tagservice instance that issues cards from files, in-process."""

    def __init__(self, home: Path):
        self.home = home
        self.env = {
            "TAGSERVICE_HOME": str(home),
            "TAGSERVICE_ENV": "development",
            "DATABASE_URL": None,
        }
        self.runner = CliRunner()
        result = self.run("init")
        if result.exit_code != 0:
            raise RuntimeError(f"tagservice init failed: {result.output}")
        self.settings = load_settings({k: v for k, v in self.env.items() if v is not None})
        self.keyset = keys.load_keyset(self.settings)
        self.out = home / "tag.txt"

    def run(self, *args: str):
        return self.runner.invoke(main, list(args), env=self.env, catch_exceptions=True)

    def fitting_exists(self) -> bool:
        """True once `issue` can fit a record to the card (it then has --strict)."""
        return "--strict" in self.run("issue", "--help").output

    def issue(self, bundle: Path) -> Outcome:
        self.out.unlink(missing_ok=True)
        result = self.run("issue", str(bundle), "--out", str(self.out))
        lines = result.output.splitlines()
        outcome = Outcome(
            notes=[line.removeprefix("note: ") for line in lines if line.startswith("note: ")]
        )
        error = next((line for line in lines if line.startswith("Error: ")), None)
        if result.exit_code == 0 and result.exception is None and self.out.exists():
            url = self.out.read_text().strip()
            tag = crypto.decode_payload(url)
            opened = crypto.open_tag(tag, self.keyset, datetime.now(UTC))
            outcome.issued, outcome.card = True, opened.summary
            # The QR code as printed: the URL's prefix alphanumeric, the tag in digits.
            outcome.qr_version = capacity.printed_qr_version(self.settings.base_url, len(tag), "m")
        elif isinstance(result.exception, SystemExit) and result.exit_code == 2 and error:
            outcome.reason = error.removeprefix("Error: ")
        else:
            outcome.crashed = True
            kind = type(result.exception).__name__ if result.exception else "no exception"
            outcome.reason = f"crash: {kind}, exit code {result.exit_code}"
        return outcome


@contextlib.contextmanager
def instance() -> Iterator[Instance]:
    with tempfile.TemporaryDirectory(prefix="tagservice-real-ips-") as folder:
        yield Instance(Path(folder) / "instance")

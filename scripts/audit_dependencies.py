"""Audit the installed dependency set for known vulnerabilities with pip-audit (.ci/run).

Audits exactly what `pip freeze` lists in this virtualenv (the pinned set and
what it pulled in), without resolving anything again. Exit 1 on a known
vulnerability that has a fixed version (upgrade the pin); a vulnerability with
no fix yet is printed and does not fail the build. pip-audit asks PyPI's
vulnerability service over the network: when it cannot be reached (some build
machines reach only the package index), this says so in a WARNING and exits 0,
so a missing network is never mistaken for a clean audit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

UNREACHABLE = (
    "WARNING: the vulnerability service could not be reached from this machine, "
    "so the dependencies were NOT audited"
)


def verdict(report: dict | None, stderr: str = "") -> tuple[int, list[str]]:
    """(exit code, lines to print) for a pip-audit JSON report (None: no report written)."""
    if report is None:
        if "ConnectionError" in stderr or "NameResolutionError" in stderr:
            return 0, [f"{UNREACHABLE}."]
        return 2, ["pip-audit did not run: " + (stderr.strip().splitlines() or ["?"])[-1]]
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        return 0, [f"{UNREACHABLE} ({len(deps)} packages skipped)."]
    lines, fixable = [], 0
    for dep in audited:
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            lines.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
            fixable += bool(vuln.get("fix_versions"))
    skipped = len(deps) - len(audited)
    lines.append(f"audited {len(audited)} packages ({skipped} skipped): "
                 f"{len(lines)} known vulnerabilities, {fixable} with a fixed version")  # fmt: skip
    return (1 if fixable else 0), lines


def run_pip_audit(python: str) -> tuple[dict | None, str]:
    """pip-audit's JSON report on this virtualenv's packages, and what it said on stderr."""
    freeze = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [python, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        requirements, out = Path(tmp, "requirements.txt"), Path(tmp, "report.json")
        requirements.write_text(freeze)
        ran = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
            [python, "-m", "pip_audit", "--no-deps", "--disable-pip", "-r", str(requirements),
             "--format", "json", "--output", str(out), "--progress-spinner", "off"],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        try:
            return json.loads(out.read_text()), ran.stderr
        except (OSError, ValueError):
            return None, ran.stderr


def main() -> int:
    code, lines = verdict(*run_pip_audit(sys.executable))
    for line in lines:
        print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())

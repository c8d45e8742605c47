"""What `pip install .` brings, and the vulnerability audit that .ci/run runs (issue 12)."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import importlib.util
import re
import sys

from tests.paths import ROOT

TEST_TOOLS = {"pytest", "pytest-cov", "hypothesis", "zxing-cpp", "qrcode", "playwright",
              "schemathesis", "jsonschema", "ruff", "psycopg", "pip-audit", "atheris"}  # fmt: skip

_spec = importlib.util.spec_from_file_location("audit_dependencies",
                                               ROOT / "scripts/audit_dependencies.py")  # fmt: skip
audit_dependencies = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_dependencies)


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _names(block: str) -> set[str]:
    return {re.split(r"[\[=<>~ ]", line.strip())[0].lower() for line in block.split("\n")
            if line.strip()}  # fmt: skip


def _imported_top_levels(stdlib: bool = False) -> set[str]:
    found = set()
    files = [*ROOT.glob("tagservice/**/*.py"), *ROOT.glob("cards/**/*.py"), ROOT / "wsgi.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    if stdlib:
        return found
    return found - set(sys.stdlib_module_names) - {"tagservice", "cards", "__future__"}


# Requirements that are data, read by the standard library rather than imported.
DATA_ONLY = {"tzdata"}  # zoneinfo's time-zone database where the system has none


def test_every_runtime_requirement_is_imported_by_the_service_and_nothing_else_is_needed():
    required = _names(_setup_cfg()["options"]["install_requires"])
    providers = importlib.metadata.packages_distributions()
    imported = _imported_top_levels()
    provided_by = {module: {d.lower() for d in providers.get(module, [])} for module in imported}
    for module, dists in provided_by.items():
        assert dists & required, f"{module} is imported but no install_requires entry gives it"
    used = set().union(*provided_by.values())
    assert required - DATA_ONLY <= used, f"required but never imported: {required - used}"
    assert "zoneinfo" in _imported_top_levels(stdlib=True), "tzdata is only for zoneinfo"


def test_test_tools_are_only_in_extras():
    assert not _names(_setup_cfg()["options"]["install_requires"]) & TEST_TOOLS
    extras = _setup_cfg()["options.extras_require"]
    assert "pip-audit" in _names(extras["audit"])


def test_the_audit_fails_on_a_vulnerability_with_a_fixed_version():
    report = {"dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": [
            {"id": "PYSEC-0000-1", "fix_versions": ["3.1.4"]}]},
        {"name": "six", "version": "1.0", "vulns": [{"id": "GHSA-x", "fix_versions": []}]},
    ]}  # fmt: skip
    code, lines = audit_dependencies.verdict(report)
    assert code == 1
    assert "flask 3.1.3: PYSEC-0000-1 (fixed in: 3.1.4)" in lines
    assert "six 1.0: GHSA-x (fixed in: no fixed version yet)" in lines


def test_a_vulnerability_without_a_fix_is_reported_but_passes():
    report = {"dependencies": [{"name": "six", "version": "1.0",
                                "vulns": [{"id": "GHSA-x", "fix_versions": []}]}]}  # fmt: skip
    code, lines = audit_dependencies.verdict(report)
    assert code == 0 and lines[-1].endswith("1 known vulnerabilities, 0 with a fixed version")


def test_an_unreachable_vulnerability_service_is_a_clear_warning_not_a_clean_audit():
    skipped = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI"}]}
    code, lines = audit_dependencies.verdict(skipped)
    assert code == 0 and lines[0].startswith("WARNING: the vulnerability service could not be")
    code, lines = audit_dependencies.verdict(None, "requests.exceptions.ConnectionError: ...")
    assert code == 0 and "NOT audited" in lines[0]


def test_pip_audit_failing_for_another_reason_fails_the_run():
    code, lines = audit_dependencies.verdict(None, "No module named pip_audit\n")
    assert code == 2 and lines == ["pip-audit did not run: No module named pip_audit"]


def test_make_install_keeps_the_build_tools_current_and_ci_runs_the_audit():
    makefile = (ROOT / "Makefile").read_text()
    assert "--upgrade pip setuptools wheel" in makefile
    assert "make audit" in (ROOT / ".ci/run").read_text()

"""The hazard log (docs/clinical-safety.md) checked against the code, so it cannot rot.

Every row needs every column and ratings that follow the DCB0129 matrix; every
control that is not a *(process)* control names a test; every named test
exists and pytest collects it. The operations and security guides are held to
the settings and commands that really exist.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import click
import pytest

from tests.paths import ROOT

LOG = ROOT / "docs" / "clinical-safety.md"
COLUMNS = [
    "ID", "Hazard", "Cause", "Effect", "Initial risk", "Controls", "Residual risk", "Tests",
]  # fmt: skip
SEVERITIES = ["Minor", "Significant", "Considerable", "Major", "Catastrophic"]
LIKELIHOODS = ["Very low", "Low", "Medium", "High", "Very high"]
# The DCB0129 risk matrix: MATRIX[likelihood][severity], as in section 2 of the log.
MATRIX = {
    "Very high": [3, 4, 4, 5, 5],
    "High": [2, 3, 3, 4, 5],
    "Medium": [2, 2, 3, 3, 4],
    "Low": [1, 2, 2, 3, 4],
    "Very low": [1, 1, 2, 2, 3],
}
RATING = re.compile(r"^(?P<severity>[A-Za-z]+) × (?P<likelihood>[A-Za-z ]+) = (?P<level>\d)$")
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]*\])?`")
LETTERED = re.compile(r"^([a-z])\) (.+)$")
# Topics the hazard log must always cover (the issue that created it lists them).
REQUIRED_TOPICS = [
    "wrong patient", "stale", "capacity", "revoked", "service down", "small screen",
    "nhs number", "fhir import", "clock", "key compromise",
]  # fmt: skip


def split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@cache
def hazard_rows() -> tuple[dict[str, str], ...]:
    """The hazard table of section 3: the table whose header is COLUMNS."""
    lines = LOG.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and split_row(line) == COLUMNS:
            body = lines[i + 2 :]
            break
    else:
        pytest.fail(f"no table with columns {COLUMNS} in {LOG}")
    rows = []
    for line in body:
        if not line.startswith("|"):
            break
        cells = split_row(line)
        assert len(cells) == len(COLUMNS), f"row has {len(cells)} cells, not 8: {line[:60]}"
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return tuple(rows)


def lettered(cell: str) -> dict[str, str]:
    """'a) x<br>b) y' -> {'a': 'x', 'b': 'y'}, refusing anything else."""
    items = {}
    for part in cell.split("<br>"):
        match = LETTERED.match(part.strip())
        assert match, f"expected 'a) ...', got {part.strip()[:60]!r}"
        assert match[1] not in items, f"control {match[1]} appears twice"
        items[match[1]] = match[2]
    return items


def all_refs() -> list[tuple[str, str, str]]:
    """(hazard id, file, test name) for every test the log names."""
    return [
        (row["ID"], path, name)
        for row in hazard_rows()
        for path, name in TEST_REF.findall(row["Tests"])
    ]


# ------------------------------------------------------------------ the rows


def test_there_is_a_row_per_hazard_numbered_h1_upwards():
    ids = [row["ID"] for row in hazard_rows()]
    assert len(ids) >= len(REQUIRED_TOPICS)
    assert ids == [f"H{n}" for n in range(1, len(ids) + 1)]


@pytest.mark.parametrize("column", COLUMNS)
def test_every_hazard_fills_every_column(column):
    empty = [row["ID"] for row in hazard_rows() if not row[column].strip()]
    assert empty == [], f"{column} is empty for {', '.join(empty)}"


def test_the_required_hazards_are_all_in_the_log():
    hazards = " ".join(row["Hazard"].lower() for row in hazard_rows())
    missing = [topic for topic in REQUIRED_TOPICS if topic not in hazards]
    assert missing == []


def parse_rating(text: str) -> tuple[str, str, int]:
    match = RATING.match(text)
    assert match, f"a rating reads 'Severity × Likelihood = level', not {text!r}"
    severity, likelihood, level = match["severity"], match["likelihood"], int(match["level"])
    assert severity in SEVERITIES, f"unknown severity {severity!r}"
    assert likelihood in LIKELIHOODS, f"unknown likelihood {likelihood!r}"
    return severity, likelihood, level


def test_ratings_follow_the_dcb0129_matrix():
    for row in hazard_rows():
        for column in ("Initial risk", "Residual risk"):
            severity, likelihood, level = parse_rating(row[column])
            expected = MATRIX[likelihood][SEVERITIES.index(severity)]
            assert level == expected, (
                f"{row['ID']} {column}: {severity} × {likelihood} is {expected}"
            )


def test_the_matrix_in_the_log_is_the_one_these_tests_use():
    text = LOG.read_text(encoding="utf-8")
    for likelihood, levels in MATRIX.items():
        line = f"| **{likelihood}** | " + " | ".join(map(str, levels)) + " |"
        assert line in text


def test_controls_never_leave_a_risk_higher_or_unacceptable():
    for row in hazard_rows():
        *_, initial = parse_rating(row["Initial risk"])
        *_, residual = parse_rating(row["Residual risk"])
        assert residual <= initial, f"{row['ID']}: controls made the risk worse"
        assert residual <= 3, f"{row['ID']}: residual risk {residual} is unacceptable"


def test_every_level_3_residual_risk_is_explained():
    text = LOG.read_text(encoding="utf-8")
    explained = text[text.index("## 4.") : text.index("## 5.")]
    for row in hazard_rows():
        if parse_rating(row["Residual risk"])[2] == 3:
            assert f"**{row['ID']}," in explained, f"{row['ID']} needs its reasons in section 4"


def test_every_product_control_names_a_test():
    for row in hazard_rows():
        controls = lettered(row["Controls"])
        tests = lettered(row["Tests"])
        assert set(tests) <= set(controls), f"{row['ID']}: tests for controls that do not exist"
        for letter, text in controls.items():
            if text.startswith("*(process)*"):
                assert letter not in tests, f"{row['ID']} {letter}) is a process: no test"
                continue
            assert letter in tests, f"{row['ID']} control {letter}) has no test"
            refs = TEST_REF.findall(tests[letter])
            assert refs, f"{row['ID']} {letter}): name tests as `tests/x.py::test_name`"
            leftover = TEST_REF.sub("", tests[letter]).replace(",", "").strip()
            assert leftover == "", f"{row['ID']} {letter}): unreadable test list {leftover!r}"


# ------------------------------------------------------------------ the named tests


def defined_tests(path: Path) -> set[str]:
    """Test functions defined at module level or in Test* classes, read without importing."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return names


def test_every_named_test_is_defined():
    missing = []
    for hazard, path, name in all_refs():
        file = ROOT / path
        if not file.exists() or name not in defined_tests(file):
            missing.append(f"{hazard}: {path}::{name}")
    assert missing == [], "the hazard log names tests that do not exist:\n" + "\n".join(missing)


def test_every_named_test_is_collected_by_pytest():
    refs = all_refs()
    files = sorted({path for _hazard, path, _name in refs})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    collected = {re.sub(r"\[.*\]$", "", line) for line in result.stdout.splitlines()}
    missing = [f"{h}: {p}::{n}" for h, p, n in refs if f"{p}::{n}" not in collected]
    assert missing == [], (
        "pytest does not collect these tests named by the hazard log:\n"
        + "\n".join(missing)
        + "\n"
        + result.stdout[-2000:]
        + result.stderr[-2000:]
    )


def test_every_test_in_test_safety_controls_supports_a_hazard():
    named = {
        name for _h, path, name in all_refs() if path == "tests/safety/test_safety_controls.py"
    }
    defined = {
        n
        for n in defined_tests(ROOT / "tests/safety/test_safety_controls.py")
        if n.startswith("test_")
    }
    assert defined - named == set(), "name these tests in the hazard log, or move them"


# ------------------------------------------------------------------ the guides


def settings_in_code() -> set[str]:
    names = set()
    for path in (ROOT / "tagservice").rglob("*.py"):
        names.update(
            re.findall(
                r"\b(?:TAGSERVICE_[A-Z_]+|DATABASE_URL|PROMETHEUS_MULTIPROC_DIR)\b",
                path.read_text(),
            )
        )
    return names


@pytest.mark.parametrize("guide", ["operations.md", "security.md", "clinical-safety.md"])
def test_the_guides_name_only_settings_the_code_reads(guide):
    text = (ROOT / "docs" / guide).read_text(encoding="utf-8")
    named = set(
        re.findall(r"\b(?:TAGSERVICE_[A-Z_]*[A-Z]|DATABASE_URL|PROMETHEUS_MULTIPROC_DIR)\b", text)
    )
    assert named - settings_in_code() == set()


def cli_commands() -> dict[str, set[str]]:
    """Each `tagservice` command, with its subcommands when it is a group."""
    from tagservice.cli import main

    commands = {
        name: set(command.commands) if isinstance(command, click.Group) else set()
        for name, command in main.commands.items()
    }
    # Flask-Migrate's `db` group joins from the app at run time.
    commands["db"] = {"upgrade", "current", "history", "downgrade"}
    return commands


@pytest.mark.parametrize("guide", ["operations.md", "security.md", "clinical-safety.md"])
def test_the_guides_name_only_commands_that_exist(guide):
    text = (ROOT / "docs" / guide).read_text(encoding="utf-8")
    commands = cli_commands()
    unknown = []
    for first, second in re.findall(r"`tagservice ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", text):
        if first not in commands or (second and commands[first] and second not in commands[first]):
            unknown.append(f"tagservice {first} {second}".strip())
    assert unknown == []

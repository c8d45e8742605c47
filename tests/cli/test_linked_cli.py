"""`tagservice issue --linked`, `update`, `decode` and `revoke` for linked tags."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests.cli.test_cli_tags import cli  # noqa: F401 - the initialised-instance fixture
from tests.paths import FIXTURES

TYPICAL = str(FIXTURES / "summary-typical.json")


def issue(cli, out):  # noqa: F811
    result = cli("issue", TYPICAL, "--linked", "--out", str(out))
    assert result.exit_code == 0, result.output
    return re.search(r"issued tag ([0-9a-f]{16})", result.output).group(1)


def test_issue_linked_writes_a_short_l_url_and_prints_the_tag_id(cli, tmp_path):  # noqa: F811
    out = tmp_path / "tag.txt"
    tag_id = issue(cli, out)
    url = out.read_text().strip()
    assert re.fullmatch(r"HTTP://127\.0\.0\.1:8000/L/[0-9]{39}", url)
    decoded = cli("decode", url)
    assert decoded.exit_code == 0, decoded.output
    assert json.loads(decoded.output)["identity"]["name"] == "Jane Smith"
    trail = cli("audit", "export").output
    assert tag_id in trail and url.rsplit("/", 1)[1] not in trail


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_issue_linked_prints_a_card_whose_code_decodes(cli, tmp_path, suffix):  # noqa: F811
    out = tmp_path / f"card{suffix}"
    issue(cli, out)
    assert out.stat().st_size > 0
    if suffix == ".png":
        [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(out.read_bytes())))
        assert "/L/" in barcode.text


def test_update_replaces_the_summary_behind_the_same_url(cli, tmp_path):  # noqa: F811
    out = tmp_path / "tag.txt"
    issue(cli, out)
    url = out.read_text().strip()
    changed = json.loads(Path(TYPICAL).read_text())
    changed["identity"]["name"] = "Jane Updated"
    new = tmp_path / "new.json"
    new.write_text(json.dumps(changed))
    result = cli("update", url, str(new))
    assert result.exit_code == 0, result.output
    assert "revision 2" in result.output
    assert json.loads(cli("decode", url).output)["identity"]["name"] == "Jane Updated"
    assert "tag.updated" in cli("audit", "export").output


def test_update_of_a_v1_url_or_an_unknown_card_is_refused_cleanly(cli, tmp_path):  # noqa: F811
    from click.testing import CliRunner

    from tagservice.cli import main

    v1 = tmp_path / "v1.txt"
    assert cli("issue", TYPICAL, "--out", str(v1)).exit_code == 0
    for url in (v1.read_text().strip(), "HTTP://127.0.0.1:8000/L/" + "0" * 39):
        result = CliRunner().invoke(main, ["update", url, TYPICAL])
        assert result.exit_code == 2
        assert "Traceback" not in result.output


def test_revoke_works_for_a_linked_tag(cli, tmp_path):  # noqa: F811
    from click.testing import CliRunner

    from tagservice.cli import main

    out = tmp_path / "tag.txt"
    tag_id = issue(cli, out)
    assert cli("revoke", tag_id, "--reason", "lost").exit_code == 0
    url = out.read_text().strip()
    refused = CliRunner().invoke(main, ["update", url, TYPICAL])
    assert refused.exit_code == 2 and "revoked" in refused.output

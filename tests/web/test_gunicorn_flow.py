"""End to end on a real gunicorn (2 workers) on a free 127.0.0.1 port.

Given an instance set up with the command line (init, a clinician, an issued
tag), when a client signs in over the JSON API and unlocks the tag, then it
gets the summary and `tagservice audit verify` passes with the unlock in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest

from tests.helpers import gunicorn_serving
from tests.paths import ROOT
from tests.robustness.served import call, free_port

BIN = Path(sys.executable).parent


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "TAGSERVICE_HOME": str(tmp_path / "instance"),
        "TAGSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
        "TAGSERVICE_ENV": "development",
    }
    env.pop("DATABASE_URL", None)

    def cli(*args, stdin=None):
        result = subprocess.run(
            [str(BIN / "tagservice"), *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli("init")
    added = cli(
        "clinician",
        "add",
        "medic@example.nhs.uk",
        "--name",
        "Pat Medic",
        "--role",
        "paramedic",
        "--register",
        "HCPC",
        "--registration",
        "PA12345",
        "--org",
        "Example Ambulance Service",
        "--password-stdin",
        stdin="a long enough passphrase 2026\n",
    )
    uri = next(line for line in added.splitlines() if line.startswith("otpauth://"))
    cli(
        "issue",
        str(ROOT / "tests/fixtures/summary-typical.json"),
        "--out",
        str(tmp_path / "tag.txt"),
    )
    with gunicorn_serving(env, port, tmp_path / "gunicorn.log") as base:
        yield {
            "base": base,
            "cli": cli,
            "totp": pyotp.parse_uri(uri),
            "tag": (tmp_path / "tag.txt").read_text().strip(),
            "log": tmp_path / "gunicorn.log",
        }


def test_sign_in_unlock_and_audit_verify_through_real_gunicorn(server):
    status, session = call(
        server["base"] + "/api/v1/session",
        {
            "email": "medic@example.nhs.uk",
            "password": "a long enough passphrase 2026",
            "totp": server["totp"].now(),
        },
    )
    assert status == 200, session
    status, body = call(
        server["base"] + "/api/v1/unlock", {"tag": server["tag"], "reason": "999"}, session["token"]
    )
    assert status == 200, body
    assert body["summary"]["identity"]["name"] == "Jane Smith"
    assert body["critical"][0] == "ANAPHYLAXIS: Penicillin"
    status, refused = call(
        server["base"] + "/api/v1/unlock",
        {"tag": server["tag"][:-5] + "AAAAA", "reason": "999"},
        session["token"],
    )
    assert status == 400 and refused["error"] == "invalid_tag"
    verified = server["cli"]("audit", "verify")
    assert "intact" in verified
    exported = server["cli"]("audit", "export")
    unlocks = [json.loads(line) for line in exported.splitlines() if "tag.unlocked" in line]
    assert [e["id"] for e in unlocks] == [body["audit_id"]]
    assert "Jane" not in server["log"].read_text()

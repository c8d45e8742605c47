"""A key-encryption key that cannot open the keyring stops the service at start (issue 12).

Before, a wrong TAGSERVICE_KEK started fine and answered every scan with 500.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tagservice import create_app, keys
from tagservice.cli.doctor import run_checks
from tagservice.config import ConfigError, load_settings
from tests.paths import ROOT
from tests.robustness.served import free_port

BIN = Path(sys.executable).parent


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "instance"
    keys.init_instance(load_settings({"TAGSERVICE_HOME": str(home)}))
    return home


def environ(home: Path, **extra) -> dict:
    env = {**os.environ, "TAGSERVICE_HOME": str(home), "TAGSERVICE_ENV": "development", **extra}
    env.pop("DATABASE_URL", None)
    return env


def test_create_app_refuses_a_wrong_tagservice_kek_in_one_line_naming_it(home):
    settings = load_settings({"TAGSERVICE_HOME": str(home), "TAGSERVICE_KEK": keys.generate_kek()})
    with pytest.raises(ConfigError) as refused:
        create_app({"settings": settings})
    message = str(refused.value)
    assert message.startswith("TAGSERVICE_KEK holds the wrong key-encryption key")
    assert "\n" not in message and str(home / "keys.json") in message


def test_create_app_refuses_a_wrong_kek_file_naming_the_file(home):
    keys.write_private(home / "kek", keys.generate_kek())
    with pytest.raises(ConfigError, match=f"the KEK file {home / 'kek'} holds the wrong"):
        create_app({"settings": load_settings({"TAGSERVICE_HOME": str(home)})})


def test_a_malformed_tagservice_kek_is_named_too(home):
    settings = load_settings({"TAGSERVICE_HOME": str(home), "TAGSERVICE_KEK": "short"})
    with pytest.raises(ConfigError, match="^TAGSERVICE_KEK: the key-encryption key must be 32"):
        create_app({"settings": settings})


def test_doctor_reports_the_same_line(home):
    wrong = keys.generate_kek()
    settings = load_settings({"TAGSERVICE_HOME": str(home), "TAGSERVICE_KEK": wrong})
    with pytest.raises(ConfigError) as refused:
        create_app({"settings": settings})
    results = run_checks(environ(home, TAGSERVICE_KEK=wrong))
    [tag_keys] = [r for r in results if r.name == "tag keys"]
    assert tag_keys.status == "FAIL" and tag_keys.detail == str(refused.value)


def test_gunicorn_stops_at_boot_with_that_line_instead_of_serving(home, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
        cwd=ROOT, env=environ(home, TAGSERVICE_KEK=keys.generate_kek()),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()  # the master, by its PID: it stops its worker
        proc.communicate(timeout=30)
        pytest.fail("gunicorn started and served with a wrong TAGSERVICE_KEK")
    assert proc.returncode != 0
    line = "tagservice cannot start: TAGSERVICE_KEK holds the wrong key-encryption key"
    assert line in stderr and "Traceback" not in stderr


def test_the_right_kek_starts_as_before(home):
    assert create_app({"settings": load_settings({"TAGSERVICE_HOME": str(home)})})

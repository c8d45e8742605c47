"""A real instance for fault tests: set up with the command line, served by gunicorn.

Like tests/web/test_gunicorn_flow.py, but the instance can be reused by several
servers (one set-up costs seconds: three CLI starts and a production-strength
argon2 hash) and each server gets its own log file, so a test can read every
line gunicorn and the app wrote.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EMAIL = "fault.medic@example.nhs.uk"
PASSWORD = "a long enough passphrase 2026"


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """End a process this test started: SIGTERM, then SIGKILL if it has not gone in time."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(
    url: str, body: dict | None = None, token: str | None = None, timeout: float = 10
) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@dataclass
class Instance:
    home: Path
    port: int
    env: dict
    otpauth: str
    tag: str
    _token: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None, check: bool = True):
        result = subprocess.run(
            [str(BIN / "tagservice"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def token(self) -> str:
        """A bearer token (one per instance: it lasts a shift, and a code is single-use)."""
        if not self._token:
            self._token = self._sign_in()
        return self._token

    def _sign_in(self) -> str:
        totp = pyotp.parse_uri(self.otpauth)
        for _ in range(2):
            status, body = call(
                self.base + "/api/v1/session",
                {"email": EMAIL, "password": PASSWORD, "totp": totp.now()},
            )
            if status == 200:
                return body["token"]
            time.sleep(31 - time.time() % 30)
        raise AssertionError(f"sign-in failed: {status} {body}")


def make_instance(home: Path, **env: str) -> Instance:
    port = free_port()
    environ = {
        **os.environ,
        "TAGSERVICE_HOME": str(home),
        "TAGSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
        "TAGSERVICE_ENV": "development",
        **env,
    }
    environ.pop("DATABASE_URL", None)
    inst = Instance(home, port, environ, "", "")
    inst.cli("init")
    added = inst.cli(
        "clinician", "add", EMAIL, "--name", "Pat Medic", "--role", "paramedic",
        "--register", "HCPC", "--registration", "PA12345", "--org", "Example Ambulance",
        "--password-stdin", stdin=PASSWORD + "\n",
    ).stdout  # fmt: skip
    inst.otpauth = next(x for x in added.splitlines() if x.startswith("otpauth://"))
    out = home.parent / "tag.txt"
    inst.cli("issue", str(ROOT / "tests/fixtures/summary-typical.json"), "--out", str(out))
    inst.tag = out.read_text().strip()
    return inst


def makefile_access_log_format() -> str:
    """The access-log format `make run` gives gunicorn (it leaves the tag path out)."""
    found = re.search(r"--access-logformat\s+'([^']+)'", (ROOT / "Makefile").read_text())
    assert found, "the Makefile's run target no longer sets --access-logformat"
    return found.group(1)


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


@contextlib.contextmanager
def gunicorn(inst: Instance, log: Path, *args: str, workers: int = 2) -> Iterator[int]:
    """Serve `inst`; yield the master's PID; stop it (by that PID) afterwards."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{inst.port}",
                "--workers", str(workers), *args, "wsgi:app",
            ],
            cwd=ROOT, env=inst.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, "gunicorn exited at start: " + log.read_text()
                try:
                    with urllib.request.urlopen(inst.base + "/healthz", timeout=1):  # noqa: S310
                        break
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.1)
            yield proc.pid
        finally:
            stop(proc)

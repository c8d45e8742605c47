"""A throw-away tagservice instance on a real gunicorn, set up the way an operator would.

Shared by the benchmarks: `tagservice init`, `clinician add --password-stdin`
and `issue` through the console script, then gunicorn on a free 127.0.0.1
port. Nothing here is reused between runs; the temporary folder goes at exit.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The fault tests serve instances the same way: one port finder and JSON client for both.
from tests.robustness.served import call, free_port, stop  # noqa: E402

BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures"
EMAIL = "bench.medic@example.nhs.uk"
PASSWORD = "bench passphrase long enough"  # noqa: S105 - a throw-away local account


@dataclass
class Instance:
    home: Path
    base: str
    env: dict
    tags: dict[str, str] = field(default_factory=dict)
    otpauth: str = ""
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(BIN / "tagservice"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tagservice {args[0]} failed: {result.stderr.strip()[:300]}")
        return result.stdout

    def token(self) -> str:
        """A bearer token from POST /api/v1/session (password + a fresh TOTP code)."""
        import pyotp

        totp = pyotp.parse_uri(self.otpauth)
        for _ in range(3):  # a code already used this step is refused: wait for the next
            status, body = call(
                self.base + "/api/v1/session",
                {"email": EMAIL, "password": PASSWORD, "totp": totp.now()},
            )
            if status == 200:
                return body["token"]
            time.sleep(31)
        raise RuntimeError(f"could not sign in: {status} {body.get('error')}")


def setup_instance(
    home: Path, port: int, summaries: tuple[str, ...] = ("summary-typical.json",), **env
) -> Instance:
    """init, one paramedic and the given tags, through the command line."""
    environ = {
        **os.environ,
        "TAGSERVICE_HOME": str(home),
        "TAGSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
        "TAGSERVICE_ENV": "development",
        **env,
    }
    environ.pop("DATABASE_URL", None)
    inst = Instance(home=home, base=f"http://127.0.0.1:{port}", env=environ)
    inst.cli("init")
    added = inst.cli(
        "clinician", "add", EMAIL, "--name", "Bench Medic", "--role", "paramedic",
        "--register", "HCPC", "--registration", "PA54321", "--org", "Bench Ambulance",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    inst.otpauth = next(line for line in added.splitlines() if line.startswith("otpauth://"))
    for name in summaries:
        out = home / f"{name}.txt"
        inst.cli("issue", str(FIXTURES / name), "--out", str(out))
        inst.tags[name] = out.read_text().strip()
    return inst


def wait_healthy(
    base: str, proc: subprocess.Popen, seconds: float = 20, path: str = "/healthz"
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited at start")
        try:
            with urllib.request.urlopen(base + path, timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /healthz in time")


@contextlib.contextmanager
def running(
    workers: int = 2,
    summaries: tuple[str, ...] = ("summary-typical.json",),
    gunicorn_args: tuple[str, ...] = (),
    app: str = "wsgi:app",
    **env: str,
) -> Iterator[Instance]:
    """A set-up instance served by gunicorn; stopped (by its own PID) on exit."""
    with tempfile.TemporaryDirectory(prefix="tagservice-bench-") as tmp:
        port = free_port()
        inst = setup_instance(Path(tmp) / "instance", port, summaries, **env)
        inst.log = Path(tmp) / "gunicorn.log"
        with open(inst.log, "w") as log:
            inst.proc = subprocess.Popen(
                [
                    str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                    "--workers", str(workers), *gunicorn_args, app,
                ],
                cwd=ROOT, env=inst.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_healthy(inst.base, inst.proc)
                yield inst
            finally:
                stop(inst.proc)


@contextlib.contextmanager
def bare(workers: int = 2) -> Iterator[tuple[str, subprocess.Popen]]:
    """bench/bare_app.py (one Flask route) on its own gunicorn, same settings as `running`."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--pythonpath", str(Path(__file__).resolve().parent), "bare_app:app",
        ],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, path="/")
        yield base, proc
    finally:
        stop(proc)

"""A PostgreSQL cluster and a redis-server of the test's own, on 127.0.0.1.

The multi-host and backup tests restart PostgreSQL and stop Redis, so they
cannot use the CI's shared server: they start their own (initdb in a temporary
folder, as .ci/run does; redis-server on a free port, nothing saved to disk)
and end them by PID. Run as root (CI), PostgreSQL runs as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.robustness.served import free_port, stop


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), or None."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*") if (p / "bin" / "initdb").exists()),
        key=lambda p: int(p.name) if p.name.isdigit() else 0,
    )
    return versions[-1] / "bin" if versions else None


def _as_cluster_owner(args: list[str]) -> list[str]:
    if os.getuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


def _wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class PostgresCluster:
    bin: Path
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A client tool (psql, pg_dump, pg_restore) as the current user, over TCP."""
        return subprocess.run(
            [str(self.bin / tool), *args],
            capture_output=True, text=True, timeout=120, check=check,
        )  # fmt: skip

    def ctl(self, *args: str, check: bool = True) -> None:
        """pg_ctl as the cluster's owner."""
        subprocess.run(
            _as_cluster_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
            capture_output=True, text=True, timeout=120, check=check,
        )  # fmt: skip

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c fsync=on"
        self.ctl("-w", "-t", "60", "-o", options, "-l", str(self.data / "log"), "start")
        _wait_for_port(self.port)

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again."""
        self.ctl("-w", "-t", "60", "-m", "fast", "stop")
        self.start()

    def stop(self) -> None:
        self.ctl("-m", "immediate", "stop", check=False)

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self.run(
            "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(database),
            "-c", statement,
        ).stdout  # fmt: skip


def start_postgres() -> PostgresCluster:
    pg = postgres_bin()
    assert pg is not None
    data = Path(tempfile.mkdtemp(prefix="tagservice-pg-"))
    if os.getuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(data, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(pg, data, free_port())
    subprocess.run(
        _as_cluster_owner([str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                           "--no-sync"]),
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    cluster.start()
    return cluster


def remove_postgres(cluster: PostgresCluster) -> None:
    cluster.stop()
    shutil.rmtree(cluster.data, ignore_errors=True)


def own_postgres_missing() -> str | None:
    """Why the tests should not run a PostgreSQL cluster of their own, or None.

    They run when PostgreSQL tests are on (TAGSERVICE_TEST_DATABASE_URL, which
    .ci/run sets) and the server's binaries are here to start one.
    """
    if not os.environ.get("TAGSERVICE_TEST_DATABASE_URL"):
        return "PostgreSQL tests are off: set TAGSERVICE_TEST_DATABASE_URL (.ci/run does)"
    if postgres_bin() is None:
        return "PostgreSQL's server binaries are not installed (apt-get install postgresql)"
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user to own the cluster"
    return None


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1",
                "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop(self.proc, timeout=10)
        self.proc = None


def redis_missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis client is not installed (pip install -e '.[redis]')"
    return None

"""Two hosts on one PostgreSQL and one Redis, under faults (DESIGN section 7).

Two gunicorn instances ("hosts", each with its own instance folder holding the
same keys, as an operator would copy keys.json) share a PostgreSQL cluster and
a redis-server of the test's own. Unlock load goes through both; one host is
SIGKILLed (master and workers) mid-load, then PostgreSQL is restarted under the
surviving host's load. Then: every summary shown has its audit event, the chain
verifies, no request got a 500, and the surviving host kept answering.

Sign-in limits: wrong-password guesses alternating hosts are counted; through
Redis the hosts share one count, and with Redis stopped each worker falls back
to counting on its own (Flask-Limiter's in-memory fallback, security.py),
still limiting and never failing.

The short version runs in `make test` when PostgreSQL tests are on
(TAGSERVICE_TEST_DATABASE_URL, as .ci/run sets) and redis-server is installed;
the long one with TAGSERVICE_LONG_TESTS=1.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, replace

import pytest

from tests.robustness import served, services

SIGNIN_PER_MINUTE = 10  # tagservice.web.auth.SIGNIN_LIMIT
WORKERS = 2  # per host


_skip = services.own_postgres_missing() or services.redis_missing()
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(_skip is not None, reason=_skip or "")]


@dataclass
class Hosts:
    a: served.Instance
    b: served.Instance


def make_hosts(tmp_path, postgres, database: str, **env: str) -> Hosts:
    """Host A set up with the command line; host B a copy of its instance folder."""
    postgres.sql(f'CREATE DATABASE "{database}"')
    env = {"TAGSERVICE_DATABASE_URL": postgres.url(database), **env}
    a = served.make_instance(tmp_path / "a" / "instance", **env)
    shutil.copytree(a.home, tmp_path / "b" / "instance")
    port = served.free_port()
    b_env = a.env | {
        "TAGSERVICE_HOME": str(tmp_path / "b" / "instance"),
        "TAGSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
    }
    b = replace(a, home=tmp_path / "b" / "instance", port=port, env=b_env)
    return Hosts(a, b)


def kill_host(master: int) -> None:
    """SIGKILL a host: its workers and its master, as when the machine dies."""
    for pid in [*served.worker_pids(master), master]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ------------------------------------------------------------------ unlock load, faults


@dataclass
class Answer:
    host: str
    at: float  # seconds since the load started, when the answer (or the failure) came
    status: int | str  # HTTP status, or "error" when the connection failed
    detail: object  # the audit id of a shown summary, else the error


def unlock_load(hosts: Hosts, token: str, seconds: float, answers: list) -> list[threading.Thread]:
    """Three client threads per host, each unlocking as fast as it can."""
    started = time.monotonic()

    def client(name: str, inst: served.Instance) -> None:
        while time.monotonic() - started < seconds:
            try:
                status, body = served.call(
                    inst.base + "/api/v1/unlock", {"tag": inst.tag, "reason": "999"}, token, 10
                )
            except (OSError, http.client.HTTPException, ValueError) as e:
                now = time.monotonic() - started
                answers.append(Answer(name, now, "error", type(e).__name__))
                time.sleep(0.05)  # a host that is gone refuses at once: do not spin
                continue
            if status == 200 and body["summary"]["identity"]["name"] != "Jane Smith":
                status = "wrong summary"
            detail = body.get("audit_id") if status == 200 else body.get("error")
            answers.append(Answer(name, time.monotonic() - started, status, detail))

    threads = [
        threading.Thread(target=client, args=(name, inst))
        for name, inst in (("a", hosts.a), ("b", hosts.b))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    return threads


def run_faults(tmp_path, postgres, *, seconds: float, kill_at: float, restarts: list[float]):
    hosts = make_hosts(tmp_path, postgres, "multihost_faults", TAGSERVICE_RATELIMIT_ENABLED="false")
    answers: list[Answer] = []
    marks: dict[str, float] = {}
    with (
        served.gunicorn(hosts.a, tmp_path / "a.log", workers=WORKERS) as master_a,
        served.gunicorn(hosts.b, tmp_path / "b.log", workers=WORKERS),
    ):
        token = hosts.a.token()  # signed in on A, used on both: the token is in the database
        started = time.monotonic()
        threads = unlock_load(hosts, token, seconds, answers)
        try:
            for when, what in sorted([(kill_at, "kill"), *((r, "restart") for r in restarts)]):
                time.sleep(max(0.0, when - (time.monotonic() - started)))
                if what == "kill":
                    marks["killed"] = time.monotonic() - started
                    kill_host(master_a)
                else:
                    marks.setdefault("restarts", []).append(time.monotonic() - started)
                    postgres.restart()
                    marks["restarted"] = time.monotonic() - started
        finally:
            for t in threads:
                t.join(timeout=seconds + 60)
        exported = hosts.b.cli("audit", "export").stdout
        verified = hosts.b.cli("audit", "verify", check=False)
        b_log = (tmp_path / "b.log").read_text()
    return hosts, answers, marks, exported, verified, b_log


def assert_faults_survived(answers, marks, exported, verified, b_log) -> dict:
    shown = [x for x in answers if x.status == 200]
    unlocked = {
        e["id"] for e in map(json.loads, exported.splitlines()) if e["kind"] == "tag.unlocked"
    }
    figures = {
        "answers": len(answers),
        "shown": len(shown),
        "audited": sum(1 for x in shown if x.detail in unlocked),
        "500s": sum(1 for x in answers if x.status == 500),
        "503s": sum(1 for x in answers if x.status == 503),
        "lost with host a": sum(1 for x in answers if x.status == "error"),
        "b shown after the last restart": sum(
            1 for x in shown if x.host == "b" and x.at > marks["restarted"]
        ),
    }
    print(f"\nmulti-host under faults: {figures}, marks {marks}")
    # Every summary shown has its audit event, and the chain is intact
    assert figures["audited"] == figures["shown"] > 0
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stderr
    # No 500, no stack trace; only summaries, refusals while PostgreSQL restarts, lost connections
    assert figures["500s"] == 0
    odd = [x for x in answers if x.status not in (200, 503, "error")]
    assert not odd, odd[:5]
    assert "Traceback" not in b_log
    # Host A's clients lost connections only once A was killed; A served before that
    errors = [x for x in answers if x.status == "error"]
    assert all(x.host == "a" and x.at >= marks["killed"] for x in errors), errors[:5]
    assert all(x.host == "a" and x.at >= marks["killed"] for x in answers if x.status == "error")
    assert any(x.host == "a" and x.at < marks["killed"] for x in shown)
    # The surviving host answered throughout, and served summaries again after the restart
    assert not [x for x in answers if x.host == "b" and x.status == "error"]
    assert any(x.host == "b" and x.at > marks["killed"] for x in shown)
    assert figures["b shown after the last restart"] > 0
    return figures


def test_two_hosts_survive_a_killed_host_and_a_postgresql_restart_with_every_unlock_audited(
    tmp_path, postgres
):
    result = run_faults(tmp_path, postgres, seconds=8, kill_at=2, restarts=[3.5])
    assert_faults_survived(*result[1:])


@pytest.mark.slow
def test_two_hosts_under_a_long_load_with_postgresql_restarted_again_and_again(tmp_path, postgres):
    result = run_faults(
        tmp_path, postgres, seconds=60, kill_at=5, restarts=[10, 20, 30, 40, 50]
    )  # fmt: skip
    assert_faults_survived(*result[1:])


# ------------------------------------------------------------------ shared sign-in limits


def guess(inst: served.Instance, n: int) -> int:
    """One wrong API sign-in, each at another email nobody has: the database throttle
    (five failures per address and email) stays out of the way of the rate limit."""
    status, _body = served.call(
        inst.base + "/api/v1/session",
        {"email": f"nobody{n}@example.nhs.uk", "password": f"guess {n}", "totp": "000000"},
        timeout=30,
    )
    return status


def guess_alternating(hosts: Hosts, count: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    for n in range(count):
        status = guess(hosts.a if n % 2 == 0 else hosts.b, n)
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def test_sign_in_limits_are_shared_through_redis_and_per_worker_when_it_stops(
    tmp_path, postgres, redis_server
):
    hosts = make_hosts(
        tmp_path, postgres, "multihost_limits", TAGSERVICE_RATELIMIT_STORAGE_URI=redis_server.url
    )
    with (
        served.gunicorn(hosts.a, tmp_path / "a.log", workers=WORKERS),
        served.gunicorn(hosts.b, tmp_path / "b.log", workers=WORKERS),
    ):
        started = time.monotonic()
        token = hosts.a.token()
        # Given guesses alternating hosts (and so workers), within one minute
        shared = guess_alternating(hosts, 4 * SIGNIN_PER_MINUTE)
        # Then the four workers of two hosts let through one minute's allowance between them
        # (the sign-in above used one; a window that ran out under a slow machine, two)
        assert set(shared) <= {401, 429}
        windows = 1 if time.monotonic() - started < 60 else 2
        assert 0 < shared[401] <= windows * SIGNIN_PER_MINUTE - 1
        assert windows > 1 or shared[401] == SIGNIN_PER_MINUTE - 1
        # When Redis stops
        redis_server.stop()
        fallback = guess_alternating(hosts, 6 * SIGNIN_PER_MINUTE)
        # Then each worker counts on its own: still limited, never an error
        assert set(fallback) <= {401, 429}
        assert 0 < fallback.get(401, 0) <= WORKERS * 2 * SIGNIN_PER_MINUTE
        assert fallback.get(429, 0) > 0
        # ... and unlocks go on (their limit falls back the same way)
        for inst in (hosts.a, hosts.b):
            status, body = served.call(
                inst.base + "/api/v1/unlock", {"tag": inst.tag, "reason": "999"}, token
            )
            assert status == 200 and body["summary"]["identity"]["name"] == "Jane Smith"
        logs = (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
    print(f"\nsign-in guesses alternating hosts: through Redis {shared}, Redis down {fallback}")
    assert "Traceback" not in logs

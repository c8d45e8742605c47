"""Robustness tests: fuzzing, faults and attacks. Fast versions run by default.

The long runs (atheris, 100,000-request HTTP fuzzing, longer load) are marked
`slow` and run only with `TAGSERVICE_LONG_TESTS=1`, or with `--runslow` when
pytest is pointed at this folder (`pytest tests/robustness --runslow`; pytest
reads options only from the conftest files it loads first).
"""

from __future__ import annotations

import os

import pytest

LONG_ENV = "TAGSERVICE_LONG_TESTS"


def pytest_addoption(parser):
    try:
        parser.addoption(
            "--runslow", action="store_true", default=False, help="run tests marked slow"
        )
    except ValueError:  # another conftest already defines it: share it
        pass


def long_runs(config) -> bool:
    return os.environ.get(LONG_ENV) == "1" or bool(config.getoption("--runslow", default=False))


def pytest_collection_modifyitems(config, items):
    if long_runs(config):
        return
    skip = pytest.mark.skip(reason=f"long run: set {LONG_ENV}=1 (or --runslow) to run it")
    here = os.path.dirname(__file__)
    for item in items:
        if "slow" in item.keywords and str(item.fspath).startswith(here):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def served_instance(tmp_path_factory):
    """One instance set up with the command line, for every gunicorn test in this folder.

    Rate limits are off: the fault tests put it under load. Each test starts its own
    gunicorn (with its own log) on it.
    """
    from tests.robustness import served

    home = tmp_path_factory.mktemp("served") / "instance"
    return served.make_instance(home, TAGSERVICE_RATELIMIT_ENABLED="false")


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL cluster of this module's own (tests/robustness/services.py)."""
    from tests.robustness import services

    cluster = services.start_postgres()
    try:
        yield cluster
    finally:
        services.remove_postgres(cluster)


@pytest.fixture
def redis_server():
    """A redis-server of this test's own on a free port, stopped (by PID) afterwards."""
    from tests.robustness import served, services

    server = services.RedisServer(served.free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()

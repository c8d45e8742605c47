"""Shared fixtures: a fresh instance folder, database and app per test (flaskr style).

The database is a SQLite file in the test's instance folder. When
TAGSERVICE_TEST_DATABASE_URL names a PostgreSQL database, every test that
uses the database runs a second time against it (id suffix `[postgresql]`,
marker `postgres`), each in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import weakref
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from tagservice import create_app, crypto, keys
from tagservice.config import load_settings
from tagservice.store import tags
from tagservice.store.db import db, engine_url, upgrade_database
from tests.helpers import FAST_ARGON2, fixture

TEST_DATABASE_URL = os.environ.get("TAGSERVICE_TEST_DATABASE_URL", "")

# Every engine a test makes (tests build extra apps: a second worker, a restored
# instance...). Disposed after each test so no pooled PostgreSQL connection is left
# for the garbage collector to find during some later test.
_ENGINES: weakref.WeakSet = weakref.WeakSet()


@event.listens_for(Engine, "engine_connect")
def _track_engine(connection) -> None:
    _ENGINES.add(connection.engine)


@pytest.fixture(autouse=True)
def _dispose_engines():
    yield
    for engine in list(_ENGINES):
        engine.dispose()


def pytest_generate_tests(metafunc):
    if TEST_DATABASE_URL and "database_url" in metafunc.fixturenames:
        backends = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
        metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture
def instance_dir(tmp_path):
    home = tmp_path / "instance"
    home.mkdir(mode=0o700)
    return home


@pytest.fixture
def database_url(request, instance_dir):
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{instance_dir / 'tagservice.sqlite3'}"
        return
    schema = f"test_{secrets.token_hex(6)}"
    admin = create_engine(engine_url(TEST_DATABASE_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = engine_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(instance_dir, database_url):
    base = load_settings({"TAGSERVICE_HOME": str(instance_dir), "TAGSERVICE_ENV": "testing"})
    return base.with_overrides(database_url=database_url)


@pytest.fixture
def app(settings):
    """An app whose database is migrated to the latest schema (and empty)."""
    app = create_app({"settings": settings, "SECRET_KEY": "test-secret", "TESTING": True})
    upgrade_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def tag_factory(app, settings):
    """Issue and register tags with this instance's real keys."""
    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2

    def make(name="summary-typical.json", supersede=None) -> str:
        with app.app_context():
            keyset = keys.load_keyset(settings)
            now = datetime.now(UTC)
            tag = crypto.seal(fixture(name), keyset, now)
            header = crypto.verify_tag(tag, keyset)
            tags.register_tag(
                header.tag_id_hex,
                header.issuer_kid.hex(),
                header.reader_kid.hex(),
                now,
                None,
                supersede=supersede,
            )
            return crypto.tag_url(settings.base_url, tag)

    return make


@pytest.fixture
def tag_url(tag_factory):
    return tag_factory()


@pytest.fixture
def make_clinician(app_context):
    """A committed Clinician row; keyword arguments override the defaults."""
    from tagservice.store.models import Clinician

    def make(**overrides) -> Clinician:
        fields = {
            "email": f"clinician-{secrets.token_hex(4)}@example.nhs.uk",
            "name": "Test Clinician",
            "role": "paramedic",
            "register": "HCPC",
            "registration_number": "PA12345",
            "organisation": "Example Ambulance Service",
            "status": "active",
        } | overrides
        clinician = Clinician(**fields)
        db.session.add(clinician)
        db.session.commit()
        return clinician

    return make

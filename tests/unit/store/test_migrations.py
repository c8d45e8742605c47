"""Migrations: the shipped Alembic history builds exactly the schema the models describe."""

from __future__ import annotations

import alembic.command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

import tagservice
from tagservice.store.db import MIGRATIONS_DIR, db, upgrade_database
from tagservice.store.models import GENESIS_HASH, AuditHead


def _diff():
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrations_build_the_schema_the_models_describe(app_context):
    # The app fixture ran upgrade_database on an empty database.
    assert _diff() == []


def test_the_comparison_would_notice_a_missing_index(app_context):
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_audit_event_tag_id")
    assert any(change[0] == "add_index" for change in _diff())


def test_migrations_start_the_audit_chain(app_context):
    head = db.session.scalars(select(AuditHead)).one()
    assert (head.id, head.last_id, head.last_hash) == (1, 0, GENESIS_HASH)


def test_upgrading_twice_changes_nothing(app):
    upgrade_database(app)
    with app.app_context():
        assert _diff() == []
        assert len(db.session.scalars(select(AuditHead)).all()) == 1


def test_downgrade_to_nothing_and_back_up(app):
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(str(MIGRATIONS_DIR))
        alembic.command.downgrade(config, "base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade_database(app)
    with app.app_context():
        assert _diff() == []


def test_create_all_also_starts_the_chain(app):
    with app.app_context():
        db.drop_all()
        db.create_all()
        assert db.session.get(AuditHead, 1).last_hash == GENESIS_HASH


def test_the_history_is_one_line_shipped_inside_the_package():
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
    assert MIGRATIONS_DIR.is_relative_to(tagservice.__path__[0])
    assert (MIGRATIONS_DIR / "alembic.ini").is_file()

"""Alembic environment: migrate the Flask app's database with the models' metadata.

No logging.fileConfig here: the application owns logging, and fileConfig
would silence every logger created before it ran.
"""

from __future__ import annotations

from alembic import context
from flask import current_app

config = context.config
extension = current_app.extensions["migrate"]
target_metadata = extension.db.metadata


def _render_item(type_, obj, autogen_context):
    """Write UTCDateTime columns as plain `sa.DateTime(timezone=True)`.

    A revision must not import application code that may change after it is written.
    """
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=extension.db.engine.url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=_render_item,
        **extension.configure_args,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = extension.db.engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Batch migrations rebuild tables; with foreign keys on, dropping the old
            # table would cascade. The pragma only works outside a transaction.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_item=_render_item,
                # tagservice.store.db makes SQLAlchemy emit BEGIN on SQLite, so DDL is
                # transactional there too: a failed migration leaves nothing half done.
                transactional_ddl=True,
                **extension.configure_args,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

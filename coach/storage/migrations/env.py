"""Alembic environment: run with a connection from coach.storage.migrate, or a sqlalchemy.url (developers)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from coach.storage.tables import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite has almost no ALTER TABLE
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Use coach.storage.migrate (or `coach db upgrade`); no connection or sqlalchemy.url given.")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            run_on(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("Offline (--sql) migrations are not supported; run them against a database.")
run_migrations()

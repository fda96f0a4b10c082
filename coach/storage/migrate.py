"""Alembic configured in code (no alembic.ini): head and current revisions, upgrades, the schema check."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection

from coach.errors import StorageError

if TYPE_CHECKING:
    from coach.storage.db import Database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_LOCK_ID = 7_236_274_516  # any constant: serialises concurrent `coach db upgrade` runs
# Alembic keeps its migration context in module globals, so upgrades in one process run one at a time.
_upgrade_lock = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for our migrations; pass `url` to use the alembic command API directly."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise StorageError("No database migrations found; reinstall interview-coach.")
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_database(db: Database) -> str:
    """Bring `db` to head; on SQLite with data, snapshot it first with VACUUM INTO. Returns the revision."""
    with _upgrade_lock:
        return _upgrade_locked(db)


def _upgrade_locked(db: Database) -> str:
    head = head_revision()
    current = db.schema_revision()
    if current == head:
        return head
    if current is not None:
        _ensure_known(db, current)
        if db.is_sqlite:
            from coach.storage.backup import snapshot_before_upgrade

            path = snapshot_before_upgrade(db, revision=current)
            log.info("Saved a snapshot of %s before upgrading: %s", db.path, path)
    _run_upgrade(db, "head")
    log.info("Upgraded %s from %s to %s", db.display_url, current or "an empty database", head)
    return head


def ensure_current(db: Database) -> None:
    """Raise StorageError unless the schema is at head (PostgreSQL is never upgraded on open)."""
    head = head_revision()
    current = db.schema_revision()
    if current == head:
        return
    if current is None:
        raise StorageError(
            f"The database {db.display_url} has no interview-coach tables yet. "
            "Fix: run `coach db upgrade` once with the same COACH_DATABASE_URL."
        )
    _ensure_known(db, current)
    raise StorageError(
        f"The database {db.display_url} is at schema revision {current}; this version of interview-coach "
        f"needs {head}. Fix: back it up (pg_dump), then run `coach db upgrade`."
    )


def _ensure_known(db: Database, revision: str) -> None:
    try:
        found = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise StorageError(
            f"The database {db.display_url} has schema revision {revision}, which this version of "
            "interview-coach does not know: a newer version wrote it. Fix: install that version or newer."
        )


def _run_upgrade(db: Database, revision: str) -> None:
    cfg = alembic_config()
    # db.write() semantics on a bare Connection: BEGIN IMMEDIATE on SQLite, so two processes opening a new
    # database at once take turns, and the second finds the schema already at head.
    with db.write_engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        if db.is_sqlite:
            # Batch migrations copy and drop tables; with foreign keys on, a DROP would cascade-delete rows.
            # The pragma is ignored inside a transaction, so it is set on the raw connection first.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # nosemgrep: sql-text-from-string-building - a constant lock id, no input
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if db.is_sqlite:
                    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if problems:
                        raise StorageError(
                            f"Upgrading {db.display_url} would leave rows pointing at missing rows "
                            f"({problems[:3]}); nothing was changed. Fix: report this with the snapshot."
                        )
        finally:
            if db.is_sqlite:
                raw.execute("PRAGMA foreign_keys=ON")

"""Consistent SQLite snapshots (VACUUM INTO), restores that drop stale WAL sidecars, integrity checks."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coach.errors import StorageError
from coach.storage import migrate
from coach.storage.db import Database

SIDECARS = ("-wal", "-shm", "-journal")


def backup(db: Database, dest: Path) -> Path:
    """Write a consistent copy of a running SQLite database to `dest` (a new file, mode 0600)."""
    if not db.is_sqlite:
        raise StorageError(f"`coach db backup` copies SQLite databases; back up {db.display_url} with pg_dump instead.")
    dest = Path(dest).expanduser().absolute()
    if dest.exists() and dest.stat().st_size > 0:
        raise StorageError(f"{dest} already exists; choose a new file name for the backup.")
    _create_private_file(dest)
    try:
        with db.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            # VACUUM cannot run inside a transaction, so it goes to the raw (autocommit) connection.
            raw.execute("VACUUM INTO ?", (str(dest),))
        problems = check_file(dest)
    except Exception:
        dest.unlink(missing_ok=True)
        raise
    if problems:
        dest.unlink(missing_ok=True)
        raise StorageError(f"The backup of {db.path} failed its integrity check ({problems[0]}); no backup was kept.")
    return dest


def snapshot_before_upgrade(db: Database, *, revision: str) -> Path:
    """Back up a SQLite database into BACKUPS next to it before its schema changes."""
    assert db.path is not None
    folder = db.path.parent / "backups"
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return backup(db, folder / f"{db.path.stem}-before-upgrade-from-{revision}-{stamp}.db")


def restore(src: Path, db_path: Path) -> Path:
    """Replace the SQLite database at `db_path` with the backup `src`. Close every connection to it first.

    Stale -wal/-shm files are removed before the new file is moved in: SQLite would otherwise replay a
    WAL written for the old database onto the restored one.
    """
    src, db_path = Path(src).expanduser().absolute(), Path(db_path).expanduser().absolute()
    if not src.is_file():
        raise StorageError(f"No backup at {src}; `coach db backup` writes one.")
    problems = check_file(src)
    if problems:
        raise StorageError(f"{src} is not a sound SQLite database ({problems[0]}); nothing was restored.")
    if not db_path.parent.exists():
        db_path.parent.mkdir(parents=True, mode=0o700)
    staging = db_path.with_name(f".{db_path.name}.restoring")
    staging.unlink(missing_ok=True)
    _create_private_file(staging)
    try:
        with open(src, "rb") as reader, open(staging, "wb") as writer:
            while chunk := reader.read(1 << 20):
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        for suffix in SIDECARS:
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        os.replace(staging, db_path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    _fsync_folder(db_path.parent)
    return db_path


def integrity_check(db: Database) -> list[str]:
    """Problems found in the database (empty when sound): schema revision, and on SQLite corruption,
    rows pointing at missing rows, and files other users can read."""
    problems: list[str] = []
    head = migrate.head_revision()
    revision = db.schema_revision()
    if revision != head:
        problems.append(f"schema revision is {revision or 'missing'}, expected {head}; run `coach db upgrade`")
    if not db.is_sqlite:
        return problems
    with db.engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        problems += _sqlite_problems(raw)
    assert db.path is not None
    for path in (db.path, *(db.path.with_name(db.path.name + suffix) for suffix in ("-wal", "-shm"))):
        if path.exists() and path.stat().st_mode & 0o077:
            problems.append(f"{path} can be read by other users; run `chmod 600 {path}`")
    return problems


def check_file(path: Path) -> list[str]:
    """Integrity problems of a SQLite file, opened read-only (it is never modified)."""
    try:
        with closing(sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)) as conn:
            return _sqlite_problems(conn)
    except sqlite3.DatabaseError as error:
        return [str(error)]


def _sqlite_problems(conn: Any) -> list[str]:
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchall():
        problems.append(f"{table} row {rowid} points at a missing {parent} row")
    return problems


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.close(fd)
    path.chmod(0o600)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""`coach doctor`: find what is wrong with the database and say how to fix it, without changing anything.

SQLite files are opened read-only (`mode=ro`): the checks never create, upgrade or checkpoint the file, so
they are safe on a damaged database and beside a running server. Each finding names the problem and the
command that fixes it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, exc
from sqlalchemy.engine import make_url

from coach.storage import migrate

SQLITE_HEADER = b"SQLite format 3\x00"
WAL_MODE = 2  # bytes 18 and 19 of the header: 1 = rollback journal, 2 = WAL


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning", "ok"]
    check: str
    message: str
    fix: str = ""


def diagnose(url: str) -> list[Finding]:
    """Every check of the database at `url` (an SQLAlchemy URL), in order; errors first need fixing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _diagnose_sqlite(Path(parsed.database or "").expanduser().absolute())
    return _diagnose_server(url)


def newest_backup(folder: Path) -> Path | None:
    backups = sorted(folder.glob("*.db"), key=lambda path: path.stat().st_mtime) if folder.is_dir() else []
    return backups[-1] if backups else None


def _restore_fix(path: Path) -> str:
    newest = newest_backup(path.parent / "backups")
    source = str(newest) if newest else "YOUR-BACKUP.db"
    return (
        f"stop the server, then `coach db restore {source}` (the damaged file is kept under backups/); "
        "`sqlite3 coach.db .recover` can salvage rows from a file with no backup"
    )


def _diagnose_sqlite(path: Path) -> list[Finding]:
    findings: list[Finding] = []
    if not path.exists():
        return [Finding("warning", "file", f"{path} does not exist yet.", "it is created when the app first starts")]
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) == 0:
        return [Finding("warning", "file", f"{path} is empty.", "it is set up when the app first starts")]
    if not header.startswith(SQLITE_HEADER):
        return [Finding("error", "file", f"{path} is not a SQLite database (its header is wrong).", _restore_fix(path))]
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if len(header) >= 20 and header[18] == WAL_MODE and shm.exists() and not wal.exists():
        findings.append(
            Finding(
                "error",
                "wal",
                f"{wal.name} is missing but {shm.name} is there: the newest commits, which live in the WAL "
                "until a checkpoint, may be lost (the file was probably copied or moved without it).",
                f"if the database was copied, copy {wal.name} from the same place next to it; otherwise "
                + _restore_fix(path),
            )
        )
    else:
        findings.append(Finding("ok", "wal", "the write-ahead log is consistent with the database file."))
    # Without a WAL, `immutable` keeps even a read-only connection from creating -wal/-shm files (which would
    # hide a missing WAL from the next run); with one, a plain read-only connection reads it.
    uri = f"{path.as_uri()}?mode=ro" + ("" if wal.exists() else "&immutable=1")
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            damage = [str(row[0]) for row in conn.execute("PRAGMA quick_check") if row[0] != "ok"]
            if damage:
                findings.append(
                    Finding("error", "quick_check", f"SQLite found damage: {'; '.join(damage[:3])}", _restore_fix(path))
                )
                return findings
            findings.append(Finding("ok", "quick_check", "pages and indexes are sound (PRAGMA quick_check)."))
            orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
            if orphans:
                table, rowid, parent, _ = orphans[0]
                findings.append(
                    Finding(
                        "error",
                        "foreign_keys",
                        f"{len(orphans)} row(s) point at missing rows (first: {table} row {rowid} -> {parent}).",
                        _restore_fix(path),
                    )
                )
            findings.append(_revision_finding(_sqlite_revision(conn), sqlite=True))
    except sqlite3.DatabaseError as error:
        findings.append(Finding("error", "quick_check", f"SQLite cannot read {path}: {error}.", _restore_fix(path)))
        return findings
    for file in (path, wal, shm):
        if file.exists() and file.stat().st_mode & 0o077:
            findings.append(Finding("error", "permissions", f"{file} can be read by other users.", f"chmod 600 {file}"))
    return findings


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: a new or foreign database
        return None
    return str(row[0]) if row else None


def _diagnose_server(url: str) -> list[Finding]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            revision = migrate.current_revision(conn)
    except exc.DBAPIError as error:
        reason = str(error.orig).splitlines()[0] if error.orig else str(error)
        return [Finding("error", "connect", f"cannot open the database: {reason}", "check COACH_DATABASE_URL")]
    finally:
        engine.dispose()
    return [Finding("ok", "connect", "the database server answered."), _revision_finding(revision, sqlite=False)]


def _revision_finding(revision: str | None, *, sqlite: bool) -> Finding:
    head = migrate.head_revision()
    if revision == head:
        return Finding("ok", "schema", f"schema revision {revision} is the one this version needs.")
    if revision is None:
        fix = "start the app once (SQLite sets itself up)" if sqlite else "run `coach db upgrade`"
        return Finding("warning", "schema", "the database has no interview-coach schema yet.", fix)
    try:
        known = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        return Finding(
            "error",
            "schema",
            f"schema revision {revision} is unknown here: a newer version of interview-coach wrote it.",
            "install that version or a newer one (do not downgrade the database by hand)",
        )
    fix = (
        "run `coach db upgrade` (or just start the app: SQLite is upgraded on open, after a snapshot into backups/)"
        if sqlite
        else "back it up with pg_dump, then run `coach db upgrade`"
    )
    level: Literal["error", "warning"] = "warning" if sqlite else "error"  # PostgreSQL is never upgraded on open
    return Finding(level, "schema", f"schema revision {revision} is older than {head}, which this version needs.", fix)

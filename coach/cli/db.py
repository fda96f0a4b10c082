"""`coach db`: upgrade the schema (PostgreSQL), back up and restore SQLite, and check the database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from coach.cli.common import console, friendly, settings
from coach.errors import StorageError
from coach.settings import Settings

app = typer.Typer(help="Upgrade, back up, restore and check the database.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (default: COACH_DATABASE_URL, else SQLite in COACH_HOME)."),
]


def _settings(url: str | None) -> Settings:
    s = settings()
    return s.model_copy(update={"database_url": url}) if url else s


@app.command("upgrade")
@friendly
def upgrade_cmd(database_url: UrlOpt = None) -> None:
    """Bring the database schema to this version (PostgreSQL needs this; SQLite upgrades itself)."""
    from coach.storage import upgrade
    from coach.storage.db import Database

    s = _settings(database_url)
    revision = upgrade(s.resolved_database_url)
    console.print(f"{Database(s.resolved_database_url).display_url} is at schema revision {revision}.")


@app.command("backup")
@friendly
def backup_cmd(
    dest: Annotated[Path, typer.Argument(help="The backup file to create (must not exist).")],
    database_url: UrlOpt = None,
) -> None:
    """Write a consistent copy of the SQLite database, safe while the app is running."""
    from coach.storage import backup, open_database

    db = open_database(_settings(database_url))
    try:
        path = backup(db, dest)
    finally:
        db.dispose()
    console.print(f"Backed up {db.path} to {path} ({path.stat().st_size:,} bytes).")


@app.command("restore")
@friendly
def restore_cmd(
    src: Annotated[Path, typer.Argument(help="A file written by `coach db backup`.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the SQLite database with a backup; the current one is saved under HOME/backups first."""
    from coach.storage import backup, restore
    from coach.storage.backup import check_file
    from coach.storage.db import Database

    s = settings()
    if s.database_url and not s.database_url.startswith("sqlite"):
        raise StorageError("`coach db restore` restores SQLite backups; restore PostgreSQL with pg_restore or psql.")
    target = Database(s.resolved_database_url)
    try:
        assert target.path is not None
        problems = check_file(Path(src)) if Path(src).is_file() else []
        if problems:
            raise StorageError(f"{src} is not a sound SQLite database ({problems[0]}); nothing was restored.")
        if not yes:
            typer.confirm(f"Replace {target.path} with {src}? (the current database is saved first)", abort=True)
        saved = None
        if target.path.exists() and target.path.stat().st_size > 0:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            saved = backup(target, target.path.parent / "backups" / f"{target.path.stem}-before-restore-{stamp}.db")
    finally:
        target.dispose()
    path = restore(src, target.path)
    console.print(f"Restored {path} from {src}." + (f" The previous database is in {saved}." if saved else ""))


@app.command("status")
@friendly
def status_cmd(database_url: UrlOpt = None) -> None:
    """Show the database, its schema revision and any integrity problems."""
    from coach.storage import head_revision, integrity_check
    from coach.storage.db import Database

    s = _settings(database_url)
    db = Database(s.resolved_database_url)
    try:
        revision, head = db.schema_revision(), head_revision()
        problems = integrity_check(db)
        console.print(f"Database: {db.display_url}")
        if db.path is not None and db.path.exists():
            console.print(f"Size: {db.path.stat().st_size:,} bytes")
        console.print(f"Schema revision: {revision or 'none (empty database)'}; this version needs {head}.")
    finally:
        db.dispose()
    if not problems:
        console.print("[green]OK[/]: no problems found.")
        return
    for problem in problems:
        console.print(f"[red]problem[/]: {problem}")
    raise typer.Exit(code=1)


@app.command("purge")
@friendly
def purge_cmd(
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="Delete answers older than this (default: COACH_RETENTION_DAYS)."),
    ] = None,
    database_url: UrlOpt = None,
) -> None:
    """Delete every user's answers and drafts older than the retention period, for good (the server also
    does this hourly when COACH_RETENTION_DAYS is set)."""
    from coach.errors import InvalidInput
    from coach.storage import open_database
    from coach.storage.retention import purge_expired

    s = _settings(database_url)
    days = days or s.retention_days
    if not days:
        raise InvalidInput("No retention period: pass --days N or set COACH_RETENTION_DAYS.")
    db = open_database(s)
    try:
        result = purge_expired(db, days=days)
    finally:
        db.dispose()
    console.print(
        f"Deleted {result.attempts} answer(s) and {result.drafts} draft(s) from before "
        f"{result.cutoff:%Y-%m-%d %H:%M} UTC ({days} days)."
    )

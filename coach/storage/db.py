"""Open a database: the engine, its connection settings, and the schema check or upgrade on open."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from coach.errors import StorageError, StorageFull
from coach.settings import Settings
from coach.storage import migrate

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Applied to every SQLite connection; see RELIABILITY.md section 4.2 for why each one is here.
SQLITE_PRAGMAS = (
    ("journal_mode", "WAL"),
    ("synchronous", "FULL"),
    ("busy_timeout", str(BUSY_TIMEOUT_MS)),
    ("foreign_keys", "ON"),
    ("secure_delete", "ON"),
)
_BEGIN_OPTION = "coach_sqlite_begin"


class Database:
    """An engine and sessions for one database URL; repository code goes through `write()` and `read()`."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.path: Path | None = None
        if self.is_sqlite:
            self.path = _sqlite_path(self.url)
            _prepare_sqlite_file(self.path)
            self.engine: Engine = create_engine(
                self.url,
                echo=echo,
                pool_size=8,
                max_overflow=32,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            event.listen(self.engine, "connect", _on_sqlite_connect)
            event.listen(self.engine, "begin", _on_sqlite_begin)
        else:
            # The web app runs sync routes in a thread pool of 40; room for them without queueing for long.
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=30)
        # Same pool and events; only the BEGIN differs (IMMEDIATE takes SQLite's write lock up front, so a
        # transaction that reads and then writes cannot fail with "database is locked" halfway through).
        self.write_engine = self.engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        # SQLite has one writer at a time, and its busy handler retries by sleeping, not in turn: with dozens
        # of request threads writing at once (50 users signing in), one could wait past the busy timeout and
        # fail with "database is locked". Writers of this process queue on a lock instead; the busy timeout
        # is left for other processes. PostgreSQL needs no such lock.
        self._write_turn: AbstractContextManager[Any] = threading.RLock() if self.is_sqlite else nullcontext()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction: committed on a clean exit, rolled back on an exception."""
        with (
            self._write_turn,
            _translate_errors("write"),
            Session(self.write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            session.connection()  # begin now, so the write lock is held before the first read
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; never committed (closing it returns the connection, rolled back, to the pool
        and leaves the loaded rows readable)."""
        with _translate_errors("read"), Session(self.engine, expire_on_commit=False) as session:
            yield session

    def checkpoint(self) -> bool:
        """Fold the SQLite WAL into the database file and truncate it; False if readers kept it from finishing."""
        if not self.is_sqlite:
            return True
        with _translate_errors("checkpoint"), self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection  # outside any transaction, or it cannot finish
            busy, _log_frames, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("WAL checkpoint of %s did not finish: another connection was reading", self.path)
        return not busy

    def schema_revision(self) -> str | None:
        with _translate_errors("read"), self.engine.connect() as conn:
            return migrate.current_revision(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def open_database(settings: Settings) -> Database:
    """Open the configured database: SQLite upgrades itself to head; PostgreSQL must already be at head."""
    db = Database(settings.resolved_database_url)
    try:
        if db.is_sqlite:
            refuse_damaged(db)
            migrate.upgrade_database(db)
        else:
            migrate.ensure_current(db)
    except BaseException:
        db.dispose()
        raise
    return db


def refuse_damaged(db: Database) -> None:
    """Raise StorageError when SQLite's quick_check finds damage, so nothing runs on (and adds to) a broken file."""
    problems = quick_check(db)
    if problems:
        raise StorageError(
            f"The database {db.path} is damaged ({problems[0]}); refusing to use it. "
            "Fix: run `coach doctor` for details, then restore the newest backup with `coach db restore FILE` "
            f"(snapshots taken before upgrades are in {db.path.parent / 'backups' if db.path else 'HOME/backups'})."
        )


def quick_check(db: Database) -> list[str]:
    """SQLite's `PRAGMA quick_check` (page structure and constraints, in linear time); empty when sound."""
    if not db.is_sqlite:
        return []
    try:
        with db.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            rows = raw.execute("PRAGMA quick_check").fetchall()
    except exc.DBAPIError as error:  # "file is not a database" (when connecting)
        return [str(error.orig)]
    except sqlite3.DatabaseError as error:  # "database disk image is malformed" (from the raw connection)
        return [str(error)]
    return [str(row[0]) for row in rows if row[0] != "ok"]


def upgrade(url: str | URL) -> str:
    """Upgrade the database at `url` to the newest schema (`coach db upgrade`); returns the revision."""
    db = Database(url)
    try:
        return migrate.upgrade_database(db)
    finally:
        db.dispose()


def _sqlite_path(url: URL) -> Path:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise StorageError(
            f"SQLite needs a database file, not {url.render_as_string(hide_password=True)!r}; "
            "leave COACH_DATABASE_URL empty to use HOME/coach.db or give sqlite:////path/to/coach.db."
        )
    return Path(database).expanduser().absolute()


def _prepare_sqlite_file(path: Path) -> None:
    """Create the folder (0700) and the file (0600) ourselves: SQLite gives -wal/-shm the file's mode."""
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, mode=0o700)
        except FileExistsError:
            pass  # another process opening the same new database made it first (and set its mode)
        else:
            path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        path.chmod(0o600)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event emit BEGIN instead of the sqlite3 module's own half-transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")  # nosemgrep: sql-text-from-string-building - constants
            cursor.fetchall()
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    try:
        yield
    except exc.OperationalError as error:
        full = any("full" in detail.lower() for detail in _details(error))
        raise (StorageFull if full else StorageError)(_explain(action, error)) from error


_HINTS = (
    ("full", "the disk or the database is full; free some space and try again"),
    ("locked", f"another process held the database for more than {BUSY_TIMEOUT_MS // 1000} s; try again"),
    ("busy", f"another process held the database for more than {BUSY_TIMEOUT_MS // 1000} s; try again"),
    ("readonly", "the database file or its folder is read-only; check the permissions of the coach home folder"),
)


def _details(error: BaseException) -> list[str]:
    # One failure can set off another (SQLite rolls back on SQLITE_FULL, so releasing a savepoint then
    # fails too), so the whole chain is searched for the cause.
    details: list[str] = []
    cause: BaseException | None = error
    while cause is not None and len(details) < 5:
        orig = getattr(cause, "orig", None)
        details.append(str(orig if orig is not None else cause))
        cause = cause.__cause__ or cause.__context__
    return details


def _explain(action: str, error: exc.OperationalError) -> str:
    details = _details(error)
    kept = "nothing from this request was saved" if action == "write" else "nothing was changed"
    for word, hint in _HINTS:
        for detail in details:
            if word in detail.lower().replace("read-only", "readonly"):
                return f"The database failed a {action} ({detail}); {kept}. Fix: {hint}."
    return (
        f"The database failed a {action} ({details[0]}); {kept}. "
        "Fix: check that the database server is reachable and the file is intact."
    )

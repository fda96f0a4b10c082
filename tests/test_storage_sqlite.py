"""Durability and privacy of the SQLite file: pragmas, locking, byte-level deletion, backups, contention."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from contextlib import ExitStack, closing

import pytest
from sqlalchemy import text

from coach.errors import StorageError
from coach.settings import Settings
from coach.storage import backup, integrity_check, open_database, restore
from coach.storage import repository as repo
from coach.storage.backup import check_file


def file_bytes(db):
    """The .db, -wal and -shm files as they are on disk now."""
    return b"".join(
        path.read_bytes()
        for path in (db.path, *(db.path.with_name(db.path.name + s) for s in ("-wal", "-shm")))
        if path.exists()
    )


def test_every_connection_runs_with_the_durability_pragmas(sqlite_db):
    with ExitStack() as stack:
        connections = [stack.enter_context(sqlite_db.engine.connect()) for _ in range(3)]
        for conn in connections:

            def pragma(name, conn=conn):
                return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("busy_timeout") == 5000
            assert pragma("foreign_keys") == 1
            assert pragma("secure_delete") == 1


def test_write_transactions_take_the_write_lock_when_they_begin(sqlite_db):
    with closing(sqlite3.connect(sqlite_db.path, timeout=0, isolation_level=None)) as other:
        with sqlite_db.write(), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")

        with sqlite_db.read() as session:
            session.execute(text("SELECT count(*) FROM users"))
            other.execute("BEGIN IMMEDIATE")  # a reader does not hold the write lock
            other.execute("ROLLBACK")


def test_a_full_disk_is_reported_as_a_storage_error_that_says_nothing_was_saved(sqlite_db):
    user = repo.get_or_create_local_user(sqlite_db)
    try:
        with (
            pytest.raises(StorageError, match="nothing from this request was saved.*free some space"),
            sqlite_db.write() as session,
        ):
            pages = session.execute(text("PRAGMA page_count")).scalar()
            session.execute(text(f"PRAGMA max_page_count = {pages}"))
            repo.store_attempt(session, user_id=user.id, question_id="q", answer="x" * 200_000)
    finally:
        sqlite_db.dispose()  # drop the connection that carries the page limit
    assert repo.list_attempts(sqlite_db, user_id=user.id) == []
    assert integrity_check(sqlite_db) == []


@pytest.mark.parametrize("how", ["forget_session", "forget_all", "delete_user"])
def test_forgetting_removes_the_answer_text_from_the_database_files(sqlite_db, how):
    canary = f"CANARY-{uuid.uuid4().hex}".encode()
    user = repo.create_user(sqlite_db, email="ada@example.org", display_name="Ada")
    session = repo.create_session(sqlite_db, user_id=user.id, plan=[{"question_id": "q1", "reason": "new"}])
    attempt = repo.store_attempt(
        sqlite_db,
        user_id=user.id,
        question_id="q1",
        answer=f"My answer {canary.decode()} ends here",
        session_id=session.id,
    )
    repo.save_grade(
        sqlite_db, attempt_id=attempt.id, grade={"evidence": [canary.decode()]}, score=3.0, engine_version="v1"
    )
    repo.save_draft(
        sqlite_db, user_id=user.id, question_id="q2", text=f"draft {canary.decode()}", session_id=session.id
    )
    other = repo.create_user(sqlite_db, email="bob@example.org", display_name="Bob")
    kept = repo.store_attempt(sqlite_db, user_id=other.id, question_id="q1", answer="Bob keeps this")
    assert canary in file_bytes(sqlite_db)  # so this test can fail

    if how == "forget_session":
        repo.forget_session(sqlite_db, user_id=user.id, session_id=session.id)
    elif how == "forget_all":
        repo.forget_all(sqlite_db, user_id=user.id)
    else:
        repo.delete_user(sqlite_db, user_id=user.id)

    assert canary not in file_bytes(sqlite_db)
    assert repo.get_attempt(sqlite_db, user_id=other.id, attempt_id=kept.id).answer == "Bob keeps this"
    assert integrity_check(sqlite_db) == []


def test_backup_is_a_consistent_private_copy(sqlite_db, tmp_path):
    user = repo.get_or_create_local_user(sqlite_db)
    repo.store_attempt(sqlite_db, user_id=user.id, question_id="q1", answer="backed up")
    dest = backup(sqlite_db, tmp_path / "backups" / "coach-1.db")
    assert dest.stat().st_mode & 0o777 == 0o600
    assert check_file(dest) == []
    with closing(sqlite3.connect(dest)) as conn:
        assert conn.execute("SELECT answer FROM attempts").fetchall() == [("backed up",)]
    with pytest.raises(StorageError, match="already exists"):
        backup(sqlite_db, dest)


def test_restore_removes_a_stale_wal_that_would_otherwise_be_replayed(tmp_path):
    settings = Settings(home=tmp_path / "home", database_url=None)
    db = open_database(settings)
    user = repo.create_user(db, email="ada@example.org", display_name="Ada")
    repo.store_attempt(db, user_id=user.id, question_id="q1", answer="in the backup")
    saved = backup(db, tmp_path / "coach-backup.db")
    export_at_backup = repo.export_user(db, user_id=user.id)
    for n in range(20):
        repo.store_attempt(db, user_id=user.id, question_id="q2", answer=f"after the backup {n}")
    wal = db.path.with_name("coach.db-wal")
    stale = wal.read_bytes()  # frames written after the backup
    assert stale
    db.dispose()
    wal.write_bytes(stale)  # a crash or a careless copy leaves it next to the database

    # Control: the same backup with that WAL beside it does not come back as the backup.
    control = tmp_path / "control" / "coach.db"
    control.parent.mkdir()
    shutil.copy(saved, control)
    control.with_name("coach.db-wal").write_bytes(stale)
    with closing(sqlite3.connect(control)) as conn:
        try:
            answers = [row[0] for row in conn.execute("SELECT answer FROM attempts")]
            damaged = conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]
        except sqlite3.DatabaseError:
            answers, damaged = [], True
    assert damaged or answers != ["in the backup"]

    restore(saved, settings.sqlite_path)
    stale_wal_left = wal.exists() and wal.read_bytes() == stale
    assert not stale_wal_left
    db = open_database(settings)
    try:
        assert [a.answer for a in repo.list_attempts(db, user_id=user.id)] == ["in the backup"]
        assert repo.export_user(db, user_id=user.id) == export_at_backup
        assert integrity_check(db) == []
        assert settings.sqlite_path.stat().st_mode & 0o777 == 0o600
    finally:
        db.dispose()


def test_restore_refuses_a_file_that_is_not_a_sound_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    target = tmp_path / "home" / "coach.db"
    with pytest.raises(StorageError, match="nothing was restored"):
        restore(junk, target)
    assert not target.exists()

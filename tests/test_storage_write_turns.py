"""SQLite writers of one process take turns on a lock instead of racing SQLite's busy handler.

Found by bench/load_users.py: with 50 users signing in at once, some sign-ins waited past the busy timeout
and failed with 503 ("database is locked"), because SQLite's busy handler retries by sleeping rather than
in turn. The busy timeout is made short here so that, without the turn lock, the second writer would fail.
"""

from __future__ import annotations

import threading

from coach.settings import Settings
from coach.storage import db as db_module
from coach.storage import open_database, repository


def test_a_second_writer_waits_its_turn_past_the_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 50)
    pragmas = tuple((k, "50" if k == "busy_timeout" else v) for k, v in db_module.SQLITE_PRAGMAS)
    monkeypatch.setattr(db_module, "SQLITE_PRAGMAS", pragmas)
    db = open_database(Settings(home=tmp_path / "home", database_url=None))
    holding, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def long_writer() -> None:
        with db.write() as session:
            session.connection()
            holding.set()
            release.wait(30)  # the write lock stays taken well past the 50 ms busy timeout

    def second_writer() -> None:
        try:
            repository.create_user(db, email="b@example.org", display_name="B")
            outcome.append("written")
        except Exception as error:  # the failure this lock prevents: StorageError "database is locked"
            outcome.append(f"failed: {error}")

    first = threading.Thread(target=long_writer)
    first.start()
    assert holding.wait(30)
    second = threading.Thread(target=second_writer)
    second.start()
    second.join(0.5)  # ten busy timeouts: without the turn lock it would have failed by now
    assert outcome == []  # still waiting for its turn, not failed
    release.set()
    first.join(30)
    second.join(30)
    assert outcome == ["written"]
    assert repository.find_user_by_email(db, email="b@example.org") is not None
    db.dispose()

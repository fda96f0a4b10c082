"""Writer contention (RELIABILITY.md D3): many threads writing at once get through without "database is locked".

The writers run for 2 s in the default suite (about 200 answers, 800 write transactions, per backend here)
and for 5 s with COACH_FULL_CORPUS=1. tests/test_durability.py holds D3 itself (concurrent browsers over HTTP).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

from coach.storage import repository as repo

SECONDS = 5 if os.environ.get("COACH_FULL_CORPUS", "") not in ("", "0") else 2


def test_eight_writers_for_a_few_seconds_never_see_database_is_locked(db):
    users = [repo.create_user(db, email=f"w{i}@example.org", display_name=f"W{i}") for i in range(8)]
    stop = time.monotonic() + SECONDS
    acked: list[str] = []
    errors: list[BaseException] = []

    def writer(user):
        n = 0
        try:
            while time.monotonic() < stop:
                n += 1
                repo.save_draft(db, user_id=user.id, question_id=f"q{n % 3}", text=f"typing {n}")
                attempt = repo.store_attempt(
                    db, user_id=user.id, question_id=f"q{n % 3}", answer=f"answer {n}", idempotency_key=f"{user.id}-{n}"
                )
                acked.append(attempt.id)
                repo.save_grade(db, attempt_id=attempt.id, grade={"n": n}, score=3.0, engine_version="v1")
                repo.hit_rate_limit(db, key="submit:all", window=timedelta(hours=1))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(user,)) for user in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    print(f"8 writers for {SECONDS} s: {len(acked)} answers stored")
    assert len(acked) > 8  # every writer got through at least once
    stored = {a.id for user in users for a in repo.list_attempts(db, user_id=user.id)}
    assert set(acked) == stored
    assert repo.list_ungraded_attempts(db) == []
    assert repo.find_rate_limit(db, key="submit:all").count == len(acked)

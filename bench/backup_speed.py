"""D5 [bench]: how long `coach db backup` (VACUUM INTO + integrity_check of the copy) and `coach db restore`
take on a database with many answers (target from RELIABILITY.md: 100,000 answers backed up in < 30 s).
Prints JSON.

    .venv/bin/python bench/backup_speed.py [--answers 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coach.settings import Settings
from coach.storage import backup, open_database, restore
from coach.storage import repository as repo
from coach.storage.tables import Attempt

ANSWER = (
    "I would start from who is harmed by a wrong decision, measure error rates by group, run a bias audit, "
    "write the results into a model card and launch in shadow mode with a rollback trigger. "
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="coach-backup-bench-"))
    db = open_database(Settings(home=home / "live", database_url=None))
    user = repo.create_user(db, email="bench@example.org", display_name="Bench")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    table = Attempt.__table__
    for first in range(0, args.answers, 5000):
        rows = [
            {
                "id": f"{n:032x}",
                "user_id": user.id,
                "question_id": f"q{n % 120}",
                "kind": "answer",
                "answer": f"{ANSWER} (answer {n})" * 2,
                "status": "graded",
                "grade": {"score": 3.5, "key_points": [{"id": "kp", "evidence": f"sentence {n}"}]},
                "score": 3.5,
                "engine_version": "1.0.0",
                "idempotency_key": f"key-{n}",
                "created_at": start + timedelta(seconds=n),
            }
            for n in range(first, min(first + 5000, args.answers))
        ]
        with db.write() as session:
            session.execute(table.insert(), rows)
    seeded = time.perf_counter() - began
    size = (home / "live" / "coach.db").stat().st_size + (home / "live" / "coach.db-wal").stat().st_size
    began = time.perf_counter()
    copy = backup(db, home / "backup.db")
    backup_s = time.perf_counter() - began
    db.dispose()
    began = time.perf_counter()
    restore(copy, home / "restored" / "coach.db")
    restore_s = time.perf_counter() - began
    print(
        json.dumps(
            {
                "answers": args.answers,
                "database_mb": round(size / 1e6, 1),
                "seed_s": round(seeded, 1),
                "backup_s_including_integrity_check": round(backup_s, 2),
                "backup_mb": round(copy.stat().st_size / 1e6, 1),
                "restore_s_including_integrity_check": round(restore_s, 2),
                "target_backup_s": 30,
            },
            indent=2,
        )
    )
    shutil.rmtree(home)


if __name__ == "__main__":
    main()

"""D6 (and D7 on PostgreSQL): a full database at each older schema revision upgrades to head without losing
or changing a row, survives `downgrade -1` / `upgrade head`, and ends with no drift from the models.

No version has been released yet, so every revision before head counts as one a deployed database may be
at. The fixture is written at the first revision with raw SQL on the tables as they were then (10,000
answers plus every other object type), then upgraded to the revision under test. 10,000 answers take a
few seconds here on SQLite and PostgreSQL alike, so the full size from RELIABILITY.md is used.
"""
# ruff: noqa: F811 - the blank_url fixture is imported from test_storage_migrations and taken as an argument

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, select
from test_storage_migrations import blank_url, run_alembic  # noqa: F401 - blank_url is a fixture

from coach.settings import Settings
from coach.storage import Database, migrate, open_database
from coach.storage import repository as repo
from coach.storage.backup import check_file
from coach.storage.tables import Base

ANSWERS = 10_000
USERS = 20


def revisions() -> list[str]:
    """Oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


OLDER = revisions()[:-1]


def seed_first_revision(db: Database) -> None:
    """Every object type of the first revision, through the tables as reflected from the database."""
    meta = MetaData()
    with db.engine.connect() as conn:
        meta.reflect(conn)
    sqlite = db.is_sqlite
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def when(minutes: float) -> datetime:
        moment = base + timedelta(minutes=minutes)
        return moment.replace(tzinfo=None) if sqlite else moment

    t = meta.tables
    users = [
        {
            "id": n + 1,
            "email": f"user{n}@example.org",
            "display_name": f"User {n}",
            "password_hash": f"$argon2id$v=19$m=19456,t=2,p=1$fake{n}",
            "is_admin": n == 0,
            "is_local": n == 1,
            "llm_opt_in": n % 2 == 0,
            "created_at": when(n),
            "disabled_at": when(n + 5) if n == 3 else None,
        }
        for n in range(USERS)
    ]
    sessions = [
        {
            "id": f"s{n:031d}",
            "user_id": n % USERS + 1,
            "status": ("active", "finished", "abandoned")[n % 3],
            "plan": [{"question_id": f"q{k}", "reason": "new"} for k in range(3)],
            "role": "Responsible AI PM",
            "level": "senior",
            "seniority": None,
            "minutes": 30,
            "current_index": n % 3,
            "created_at": when(n),
            "updated_at": when(n + 1),
            "finished_at": when(n + 2) if n % 3 == 1 else None,
        }
        for n in range(200)
    ]
    attempts = []
    for n in range(ANSWERS):
        follow_up = n % 10 == 9
        graded = n % 4 != 0
        attempts.append(
            {
                "id": f"a{n:031d}",
                "user_id": n % USERS + 1,
                "session_id": f"s{n % 200:031d}" if n % 2 else None,
                "question_id": f"q{n % 50}",
                "parent_id": f"a{n - 1:031d}" if follow_up else None,
                "kind": "follow_up" if follow_up else "answer",
                "prompt": "What would you measure?" if follow_up else None,
                "target_key_points": ["kp-1"] if follow_up else None,
                "answer": f"Answer {n}: I would audit error rates by group and document them. " * 4,
                "seconds": 60.0 + n % 120,
                "status": "graded" if graded else ("stored", "failed")[n % 2],
                "grade": {"score": 3.5, "key_points": [{"id": "kp-1", "evidence": f"sentence {n}"}]}
                if graded
                else None,
                "score": 3.5 if graded else None,
                "engine_version": "grader-1/all-MiniLM-L6-v2" if graded else None,
                "error": None if graded or n % 2 == 0 else "The grader failed (RuntimeError).",
                "idempotency_key": f"key-{n:08d}",
                "counts_toward_progress": n % 7 != 0,
                "flagged_wrong": n % 97 == 0,
                "flag_comment": "the second point was there" if n % 97 == 0 else None,
                "created_at": when(n),
                "graded_at": when(n + 0.5) if graded else None,
            }
        )
    rows = {
        "users": users,
        "auth_sessions": [
            {
                "id": n + 1,
                "user_id": n + 1,
                "token_hash": hashlib.sha256(f"s{n}".encode()).hexdigest(),
                "created_at": when(n),
                "last_seen_at": when(n + 1),
                "expires_at": when(n + 600),
                "ip": "127.0.0.1",
                "user_agent": "Mozilla/5.0",
            }
            for n in range(USERS)
        ],
        "api_tokens": [
            {
                "id": n + 1,
                "user_id": n + 1,
                "name": f"token {n}",
                "token_hash": hashlib.sha256(f"t{n}".encode()).hexdigest(),
                "created_at": when(n),
                "last_used_at": None,
            }
            for n in range(5)
        ],
        "rate_limits": [{"key": f"login:ip:10.0.0.{n}", "window_start": when(n), "count": n} for n in range(10)],
        "app_settings": [{"key": "signup_open", "value": "false"}],
        "interview_sessions": sessions,
        "attempts": attempts,
        "drafts": [
            {
                "id": n + 1,
                "user_id": n % USERS + 1,
                "session_id": "" if n % 2 else f"s{n % 200:031d}",
                "question_id": f"q{n}",
                "text": f"half an answer {n}",
                "updated_at": when(n),
            }
            for n in range(100)
        ],
        "reviews": [
            {
                "user_id": n % USERS + 1,
                "question_id": f"q{n}",
                "card": {"card_id": n, "state": 2, "step": None, "stability": 3.2, "difficulty": 5.1},
                "due_at": when(n * 60),
                "last_rating": 1 + n % 4,
                "last_score": 3.0,
                "updated_at": when(n),
            }
            for n in range(300)
        ],
    }
    missing = set(t) - set(rows) - {"alembic_version"}
    assert not missing, f"the first revision has tables this fixture does not fill: {missing}"
    with db.engine.begin() as conn:
        for name in ("users", "auth_sessions", "api_tokens", "rate_limits", "app_settings", "interview_sessions"):
            conn.execute(t[name].insert(), rows[name])
        for start in range(0, ANSWERS, 1000):  # parents come before their follow-ups in id order
            conn.execute(t["attempts"].insert(), attempts[start : start + 1000])
        conn.execute(t["drafts"].insert(), rows["drafts"])
        conn.execute(t["reviews"].insert(), rows["reviews"])


def table_rows(db: Database, tables: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Every row of every table (or of the given tables and columns), as sorted JSON strings."""
    meta = MetaData()
    with db.engine.connect() as conn:
        meta.reflect(conn)
        wanted = tables or {name: [c.name for c in table.columns] for name, table in meta.tables.items()}
        found: dict[str, list[str]] = {}
        for name, columns in wanted.items():
            if name == "alembic_version":
                continue
            table = meta.tables[name]
            result = conn.execute(select(*(table.c[c] for c in columns)))
            found[name] = sorted(json.dumps(_plain(dict(row._mapping)), sort_keys=True) for row in result)
    return found


def _plain(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        if isinstance(value, str) and value.startswith(("{", "[")):
            with contextlib.suppress(ValueError):
                value = json.loads(value)  # JSON columns come back as text from some reflections
        out[key] = value
    return out


def columns_of(rows_db: Database) -> dict[str, list[str]]:
    with rows_db.engine.connect() as conn:
        inspector = inspect(conn)
        return {name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()}


@pytest.mark.skipif(not OLDER, reason="only one schema revision exists: nothing to upgrade from")
@pytest.mark.parametrize("start", OLDER)
def test_a_full_database_at_an_older_revision_upgrades_to_head_and_back_without_losing_a_row(
    blank_url, tmp_path, start
):
    first = revisions()[0]
    db = Database(blank_url)
    try:
        run_alembic(db, command.upgrade, first)
        seed_first_revision(db)
        if start != first:
            run_alembic(db, command.upgrade, start)
        old_columns = columns_of(db)
        before = table_rows(db)
    finally:
        db.dispose()

    # Upgrade the way the product does: SQLite on open (after a snapshot), PostgreSQL with `coach db upgrade`.
    settings = Settings(home=tmp_path / "home", database_url=blank_url)
    if blank_url.startswith("sqlite"):
        upgraded = open_database(settings)
        snapshots = list((tmp_path / "blank-home" / "backups").glob("*.db"))
        assert len(snapshots) == 1 and check_file(snapshots[0]) == []
    else:
        migrate.upgrade_database(Database(blank_url))
        upgraded = open_database(settings)
    try:
        assert upgraded.schema_revision() == migrate.head_revision()
        assert table_rows(upgraded, old_columns) == before  # old columns of old tables: identical
        exported = repo.export_user(upgraded, user_id=1)
        assert len(exported["attempts"]) == ANSWERS // USERS
        assert any(a["flagged_wrong"] and a["flag_comment"] for a in exported["attempts"])

        after_upgrade = table_rows(upgraded)
        run_alembic(upgraded, command.downgrade, "-1")
        run_alembic(upgraded, command.upgrade, "head")
        assert upgraded.schema_revision() == migrate.head_revision()
        # Tables that existed at `start` (so also before the last migration) keep every row through its
        # down-and-up.
        kept = {name: rows for name, rows in after_upgrade.items() if name in old_columns}
        assert {name: rows for name, rows in table_rows(upgraded).items() if name in kept} == kept
        with upgraded.engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert drift == []
    finally:
        upgraded.dispose()

"""Migrations: Alembic creates the schema, matches the models, upgrades SQLite on open and PostgreSQL on request."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from coach.errors import StorageError
from coach.settings import Settings
from coach.storage import Database, integrity_check, migrate, open_database, upgrade
from coach.storage import repository as repo
from coach.storage.backup import check_file
from coach.storage.tables import Base

PG_URL = os.environ.get("COACH_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.postgres)] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def blank_url(request, tmp_path):
    """The URL of an empty database (no tables at all) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank-home' / 'coach.db'}"
    else:
        yield from blank_postgres_schema()


@pytest.fixture
def blank_pg_url():
    if not PG_URL:
        pytest.skip("COACH_TEST_DATABASE_URL is not set")
    yield from blank_postgres_schema()


def blank_postgres_schema():
    schema = f"coach_blank_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def settings_for(url, tmp_path):
    return Settings(home=tmp_path / "home", database_url=url)


def run_alembic(db, action, revision):
    """Run an alembic command on `db` the way coach.storage.migrate does (connection passed in)."""
    cfg = migrate.alembic_config()
    with db.write_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def table_names(db):
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_it_migrates_a_blank_database_to_head(blank_url):
    db = Database(blank_url)
    try:
        assert db.schema_revision() is None
        assert upgrade(blank_url) == migrate.head_revision()
        assert db.schema_revision() == migrate.head_revision() == "0002"
        assert table_names(db) == set(Base.metadata.tables) | {"alembic_version"}
        assert integrity_check(db) == []
    finally:
        db.dispose()


def test_the_migrations_match_the_models(db):
    """`alembic check`: autogenerate finds nothing to add, drop or alter."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        assert compare_metadata(context, Base.metadata) == []


def test_it_downgrades_to_nothing_and_upgrades_again(blank_url):
    upgrade(blank_url)
    db = Database(blank_url)
    try:
        run_alembic(db, command.downgrade, "base")
        assert table_names(db) <= {"alembic_version"}
        assert db.schema_revision() is None
        run_alembic(db, command.upgrade, "head")
        assert db.schema_revision() == migrate.head_revision()
        user = repo.get_or_create_local_user(db)
        assert repo.get_user(db, user_id=user.id).is_local
    finally:
        db.dispose()


def test_opening_a_new_sqlite_database_creates_it_at_head_with_private_modes(tmp_path):
    home = tmp_path / "fresh-home"
    db = open_database(Settings(home=home, database_url=None))
    try:
        repo.get_or_create_local_user(db)  # a write, so the -wal file exists
        assert db.schema_revision() == migrate.head_revision()
        assert db.path == home / "coach.db"
        assert home.stat().st_mode & 0o777 == 0o700
        for path in (home / "coach.db", home / "coach.db-wal"):
            assert path.stat().st_mode & 0o777 == 0o600, path
        assert integrity_check(db) == []
    finally:
        db.dispose()


@pytest.mark.postgres
def test_opening_a_postgresql_database_behind_head_asks_for_coach_db_upgrade(blank_pg_url, tmp_path):
    with pytest.raises(StorageError, match="run `coach db upgrade`"):
        open_database(settings_for(blank_pg_url, tmp_path))
    db = Database(blank_pg_url)
    assert db.schema_revision() is None  # opening did not upgrade it
    db.dispose()

    upgrade(blank_pg_url)
    opened = open_database(settings_for(blank_pg_url, tmp_path))
    assert opened.schema_revision() == migrate.head_revision()
    assert integrity_check(opened) == []
    opened.dispose()


def test_it_refuses_a_database_written_by_a_newer_version(blank_url, tmp_path):
    upgrade(blank_url)
    db = Database(blank_url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dcafe'")
    db.dispose()
    with pytest.raises(StorageError, match="newer version"):
        open_database(settings_for(blank_url, tmp_path))


def test_it_refuses_an_in_memory_sqlite_database():
    with pytest.raises(StorageError, match="needs a database file"):
        Database("sqlite://")


# --- a later migration, simulated with a copy of the migrations folder plus a batch migration ---------

LATER_MIGRATION = '''
"""Test-only: a batch migration of the table every other table references."""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.add_column(sa.Column("nickname", sa.String(50), nullable=True))


def downgrade():
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.drop_column("nickname")
'''


@pytest.fixture
def later_migrations(tmp_path, monkeypatch):
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0003_test_nickname.py").write_text(textwrap.dedent(LATER_MIGRATION))
    return folder


def test_opening_an_older_sqlite_database_snapshots_it_then_upgrades_without_losing_rows(
    tmp_path, later_migrations, monkeypatch
):
    settings = Settings(home=tmp_path / "home", database_url=None)
    db = open_database(settings)
    user = repo.create_user(db, email="ada@example.org", display_name="Ada")
    attempt = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="kept through the upgrade")
    db.dispose()

    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", later_migrations)
    db = open_database(settings)
    try:
        assert db.schema_revision() == "0003"
        # Recreating `users` with foreign keys on would have cascade-deleted every attempt.
        assert repo.get_attempt(db, user_id=user.id, attempt_id=attempt.id).answer == "kept through the upgrade"
        assert integrity_check(db) == []
        snapshots = list((settings.home / "backups").glob("coach-before-upgrade-from-0002-*.db"))
        assert len(snapshots) == 1
        assert snapshots[0].stat().st_mode & 0o777 == 0o600
        assert check_file(snapshots[0]) == []
        snapshot = Database(f"sqlite:///{snapshots[0]}")
        assert snapshot.schema_revision() == "0002"
        assert repo.get_attempt(snapshot, user_id=user.id, attempt_id=attempt.id).answer == "kept through the upgrade"
        snapshot.dispose()
    finally:
        db.dispose()


def test_processes_opening_one_new_sqlite_database_at_once_all_succeed(tmp_path):
    home = tmp_path / "shared-home"
    script = (
        "from coach.settings import Settings\n"
        "from coach.storage import open_database, repository as repo\n"
        f"db = open_database(Settings(home={str(home)!r}, database_url=None))\n"
        "repo.get_or_create_local_user(db)\n"
        "print(db.schema_revision())\n"
    )
    env = {**os.environ, "COACH_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    assert {out.strip() for out, _ in results} == {migrate.head_revision()}
    db = Database(f"sqlite:///{home / 'coach.db'}")
    assert len(repo.list_users(db)) == 1
    db.dispose()

"""Shared fixtures: every test runs with its own COACH_HOME and no user packs folder."""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Point COACH_HOME at a temporary folder so no test touches the real home directory."""
    monkeypatch.setenv("COACH_HOME", str(tmp_path / "coach-home"))
    monkeypatch.delenv("COACH_PACKS_DIR", raising=False)


# --- storage: migrated databases (SQLite always; PostgreSQL too when COACH_TEST_DATABASE_URL is set) ---

STORAGE_BACKENDS = ["sqlite"] + (
    [pytest.param("postgresql", marks=pytest.mark.postgres)] if os.environ.get("COACH_TEST_DATABASE_URL") else []
)


@pytest.fixture(params=STORAGE_BACKENDS)
def make_db(request, tmp_path):
    """A factory of fresh, empty databases migrated to head with Alembic, all on this test's backend.

    SQLite: a new file under tmp_path. PostgreSQL: a new schema (dropped afterwards), selected through the
    connection's search_path, so tests never see each other's tables.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from coach.settings import Settings
    from coach.storage import open_database, upgrade

    opened, schemas = [], []
    admin = None

    def make(name: str = "coach"):
        nonlocal admin
        if request.param == "sqlite":
            settings = Settings(home=tmp_path / f"{name}-home", database_url=None)
        else:
            base = os.environ["COACH_TEST_DATABASE_URL"]
            schema = f"coach_test_{uuid.uuid4().hex[:16]}"
            admin = admin or create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            schemas.append(schema)
            url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
            upgrade(url)  # PostgreSQL is upgraded explicitly (`coach db upgrade`), never on open
            settings = Settings(home=tmp_path / f"{name}-home", database_url=url.render_as_string(hide_password=False))
        db = open_database(settings)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.dispose()
    if admin is not None:
        with admin.connect() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def db(make_db):
    """One fresh migrated database (parametrized over the storage backends)."""
    return make_db()


@pytest.fixture
def sqlite_db(tmp_path):
    """A fresh SQLite database in its own COACH_HOME-like folder, opened the way the app opens it."""
    from coach.settings import Settings
    from coach.storage import open_database

    db = open_database(Settings(home=tmp_path / "sqlite-home", database_url=None))
    yield db
    db.dispose()

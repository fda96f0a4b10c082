"""Shared fixtures: every test runs with its own COACH_HOME and no user packs folder."""

from __future__ import annotations

import os

import pytest

# The embedder must never reach for the Hugging Face Hub, whatever started pytest (P4 in RELIABILITY.md).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session", autouse=True)
def _each_pack_text_parsed_once():
    """Parse each distinct pack text with the real YAML parser once per run, then hand out deep copies.

    Every app a test creates loads the shipped bank (7 YAML files); PyYAML's constructor runs in Python, and the
    same texts were parsed again for each of the few hundred apps in a run (about a third of a web test's set-up
    time). Only successful parses of identical text are reused: invalid YAML still raises from the real parser
    every time, each caller gets its own copy to change, and the admin upload route (which imports the function
    itself) always parses for real. Checks of the loader's own behaviour are unaffected."""
    import copy

    from coach.bank import loader

    real = loader.parse_yaml_text
    parsed: dict[str, object] = {}

    def parse_yaml_text(text: str, name: str):
        if text not in parsed:
            parsed[text] = real(text, name)
        return copy.deepcopy(parsed[text])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "parse_yaml_text", parse_yaml_text)
        yield


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Point COACH_HOME at a temporary folder so no test touches the real home directory."""
    monkeypatch.setenv("COACH_HOME", str(tmp_path / "coach-home"))
    monkeypatch.delenv("COACH_PACKS_DIR", raising=False)


# --- storage: migrated databases (SQLite always; PostgreSQL too when COACH_TEST_DATABASE_URL is set) ---

import os  # noqa: E402  (appended section)
import uuid  # noqa: E402

STORAGE_BACKENDS = ["sqlite"] + (
    [pytest.param("postgresql", marks=pytest.mark.postgres)] if os.environ.get("COACH_TEST_DATABASE_URL") else []
)


@pytest.fixture(scope="session")
def _postgres_schemas():
    """PostgreSQL schemas migrated once per test run (by name), dropped at the end. Creating and migrating
    a schema costs about half a second there, so tests reuse them and start from emptied tables instead."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from coach.storage import upgrade

    base = os.environ.get("COACH_TEST_DATABASE_URL", "")
    admin = create_engine(base, isolation_level="AUTOCOMMIT") if base else None
    schemas: dict[str, tuple[str, str]] = {}  # name -> (schema, url)

    def schema_url(name: str) -> str:
        if name not in schemas:
            assert admin is not None
            schema = f"coach_test_{uuid.uuid4().hex[:12]}_{name}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
            upgrade(url)  # PostgreSQL is upgraded explicitly (`coach db upgrade`), never on open
            schemas[name] = (schema, url.render_as_string(hide_password=False))
        return schemas[name][1]

    yield schema_url
    if admin is not None:
        with admin.connect() as conn:
            for schema, _url in schemas.values():
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=STORAGE_BACKENDS)
def make_db(request, tmp_path):
    """A factory of empty databases migrated to head with Alembic, on this test's backend; `name` tells them apart.

    SQLite: a new file under tmp_path, opened (and so migrated) the way the app opens it. PostgreSQL: a schema
    of its own (selected through search_path), migrated once per run and emptied for each test.
    """
    from coach.settings import Settings
    from coach.storage import open_database

    opened = []

    def make(name: str = "coach"):
        if request.param == "sqlite":
            settings = Settings(home=tmp_path / f"{name}-home", database_url=None)
        else:
            url = request.getfixturevalue("_postgres_schemas")(name)
            settings = Settings(home=tmp_path / f"{name}-home", database_url=url)
        db = open_database(settings)
        opened.append(db)
        if not db.is_sqlite:
            _empty_tables(db)
        return db

    yield make
    for db in opened:
        db.dispose()


def _empty_tables(db):
    from coach.storage.tables import Base

    # DELETE, not TRUNCATE: on tables this small it is several times faster (TRUNCATE makes new files).
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """An empty SQLite database that the app's own open path created and migrated to head, once per run
    (`make_app` in tests/test_web_support.py starts each new home from a copy)."""
    from coach.settings import Settings
    from coach.storage import open_database

    settings = Settings(home=tmp_path_factory.mktemp("migrated-template") / "home", database_url=None)
    open_database(settings).dispose()  # the last connection to close folds the WAL into the file
    assert not settings.sqlite_path.with_name(settings.sqlite_path.name + "-wal").exists()
    return settings.sqlite_path


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

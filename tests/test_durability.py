"""Durability (RELIABILITY.md section 4): D2 ack-after-commit, D3 writer contention, D4 disk full, D5 backup
while writing, D6 migrations from every released schema version, D8 `coach doctor`. D7 is D2, D3 and D6 on
PostgreSQL: the tests taking `backend_app` or `make_db` run there too when COACH_TEST_DATABASE_URL is set.
"""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from test_web_support import (
    ANSWER,
    BASE_URL,
    GOOD_QUESTION,
    make_app,  # noqa: F401
    page,
    real_grader,  # noqa: F401
    signed_up,
    web_settings,
)
from typer.testing import CliRunner

from coach.cli import app as cli_app
from coach.errors import StorageError
from coach.settings import Settings
from coach.storage import backup, integrity_check, open_database, restore
from coach.storage import repository as repo
from coach.storage.backup import check_file
from coach.storage.tables import Attempt

# --- a web app on each storage backend --------------------------------------------------------------

# As in conftest.py (not imported from it: tests/e2e has a conftest module of the same name).
STORAGE_BACKENDS = ["sqlite"] + (
    [pytest.param("postgresql", marks=pytest.mark.postgres)] if os.environ.get("COACH_TEST_DATABASE_URL") else []
)


def _empty_tables(db) -> None:
    from coach.storage.tables import Base

    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=STORAGE_BACKENDS)
def backend_app(request, tmp_path, real_grader):
    """The web app on SQLite, and on PostgreSQL too when COACH_TEST_DATABASE_URL is set (D7)."""
    from coach.web.app import create_app

    url = None if request.param == "sqlite" else request.getfixturevalue("_postgres_schemas")("web")
    app = create_app(web_settings(tmp_path / "web", database_url=url), grader=real_grader)
    if url:
        _empty_tables(app.state.services.db)
    yield app
    app.state.services.worker.stop()
    app.state.services.db.dispose()


def count_attempts(db) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Attempt)) or 0)


def practice_form(client: TestClient) -> dict[str, str]:
    form = page(client.get(f"/practice/{GOOD_QUESTION}")).find("form", attrs={"data-answer-form": True})
    return {field["name"]: field.get("value", "") for field in form.find_all("input") if field.get("name")}


def post_answer(client: TestClient, form: dict[str, str], key: str, answer: str = ANSWER):
    return client.post(
        f"/practice/{GOOD_QUESTION}", data={**form, "idempotency_key": key, "answer": answer}, follow_redirects=False
    )


def api_token(app, email: str = "ada@example.org") -> str:
    token = "coach_" + secrets.token_urlsafe(32)
    user = repo.find_user_by_email(app.state.services.db, email=email)
    repo.create_api_token(app.state.services.db, user_id=user.id, name="test", token_hash=repo.hash_token(token))
    return token


# --- D2: the answer is acknowledged only after its commit --------------------------------------------


class InjectedFault(RuntimeError):
    pass


@contextmanager
def fault_when_an_answer_commits(stage: str):
    """SQLAlchemy's own events as the fault hook: raise just before the COMMIT of the transaction that
    inserted an answer, or just after it. The engine's "commit" event fires only for the real COMMIT (not
    for a SAVEPOINT release, which the PostgreSQL path uses), so both stages hit the same moment on both
    backends. State is per thread: each request runs in a thread of its own."""
    state = threading.local()

    def after_flush(session, _context):
        if any(isinstance(row, Attempt) for row in session.new):
            state.inserted = True

    def before_real_commit(_conn):
        if getattr(state, "inserted", False):
            state.inserted = False
            if stage == "before":
                raise InjectedFault("injected between the insert and the commit")
            state.committed = True

    def after_commit(_session):
        if stage == "after" and getattr(state, "committed", False):
            state.committed = False
            raise InjectedFault("injected between the commit and the response")

    hooks = [
        (Session, "after_flush", after_flush),
        (Engine, "commit", before_real_commit),
        (Session, "after_commit", after_commit),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)


def submit_via(app, client: TestClient, via: str, key: str) -> tuple[int, str | None]:
    """Submit ANSWER with `key` through the form or the API; (status, attempt id if acknowledged)."""
    if via == "form":
        response = post_answer(client, practice_form(client), key)
        found = re.search(r"/attempts/([0-9a-f]+)", response.headers.get("location", ""))
        return response.status_code, found.group(1) if found and response.status_code == 303 else None
    headers = {"authorization": f"Bearer {app.state.api_token}"}
    body = {"question_id": GOOD_QUESTION, "answer": ANSWER, "idempotency_key": key}
    response = client.post("/api/v1/grade", json=body, headers=headers)
    return response.status_code, response.json()["id"] if response.status_code in (200, 202) else None


@pytest.mark.parametrize("via", ["form", "api"])
def test_a_failure_before_the_commit_answers_5xx_and_stores_nothing_then_the_retry_stores_once(backend_app, via):
    app, db = backend_app, backend_app.state.services.db
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        signed_up(client)
        app.state.api_token = api_token(app)
        with fault_when_an_answer_commits("before"):
            status, attempt_id = submit_via(app, client, via, "d2-before-0001")
        assert status >= 500 and attempt_id is None
        assert count_attempts(db) == 0
        status, attempt_id = submit_via(app, client, via, "d2-before-0001")
        assert status in (303, 200, 202) and attempt_id is not None
        assert count_attempts(db) == 1


@pytest.mark.parametrize("via", ["form", "api"])
def test_a_failure_after_the_commit_is_retried_with_the_key_into_the_same_answer(backend_app, via):
    app, db = backend_app, backend_app.state.services.db
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        signed_up(client)
        app.state.api_token = api_token(app)
        with fault_when_an_answer_commits("after"):
            status, attempt_id = submit_via(app, client, via, "d2-after-00001")
        assert status >= 500 and attempt_id is None  # the client never saw an acknowledgement...
        stored = repo.list_attempts(db, user_id=repo.find_user_by_email(db, email="ada@example.org").id)
        assert [a.idempotency_key for a in stored] == ["d2-after-00001"]  # ...but the answer was committed
        status, attempt_id = submit_via(app, client, via, "d2-after-00001")
        assert status in (303, 200, 202)
        assert attempt_id == stored[0].id  # the retry answers with the original row
        assert count_attempts(db) == 1


# --- D3: writer contention ---------------------------------------------------------------------------

# RELIABILITY D3 names 50 concurrent sessions. The default suite runs 20 (all released at once by a barrier,
# so they still queue for the one SQLite writer; 2.5x fewer threads on a 2-core CI box); COACH_D3_WRITERS=50,
# or COACH_FULL_CORPUS=1, runs the plan's 50.
FULL_RUN = os.environ.get("COACH_FULL_CORPUS", "") not in ("", "0")
WRITERS = int(os.environ.get("COACH_D3_WRITERS") or (50 if FULL_RUN else 20))
ROUNDS = 4


def test_concurrent_users_writing_never_see_database_is_locked(backend_app, caplog):
    """WRITERS signed-in browsers (threads; 20 by default, 50 as in RELIABILITY D3 with COACH_D3_WRITERS=50 or
    COACH_FULL_CORPUS=1) autosave, submit and flag at once while direct repository writers and the grading
    thread write too: no 5xx, no "locked"/"busy" in any response or log record, nothing lost."""
    app, db = backend_app, backend_app.state.services.db
    users = []
    for n in range(WRITERS):
        user = repo.create_user(db, email=f"writer{n}@example.org", display_name=f"W{n}")
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(hours=1)
        repo.create_auth_session(db, user_id=user.id, token_hash=repo.hash_token(token), expires_at=expires)
        users.append((user, token))
    failures: list[str] = []
    acked: list[str] = []
    start = threading.Barrier(WRITERS + 1)
    lock = threading.Lock()

    def browser(n: int, user, token: str) -> None:
        # No `with`: the app's lifespan (the grading worker) runs once, in the test, not once per browser.
        with closing(TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)) as client:
            client.cookies.set(app.state.services.session_cookie, token)
            form = practice_form(client)
            start.wait(timeout=60)
            for round_ in range(ROUNDS):
                draft = client.post(
                    f"/practice/{GOOD_QUESTION}/draft",
                    data={"answer": f"draft {round_}", "csrf_token": form["csrf_token"]},
                    headers={"hx-request": "true"},
                )
                key = f"writer{n:02d}-round{round_}"
                answer = post_answer(client, form, key, answer=f"{ANSWER} Writer {n}, round {round_}.")
                with lock:
                    if answer.status_code != 303:
                        failures.append(f"answer {key}: {answer.status_code}")
                        continue
                # A direct repository write beside the HTTP ones (the CLI and the grader write like this).
                repo.flag_grade(db, user_id=user.id, attempt_id=_id(answer), comment=f"check {round_}")
                with lock:
                    for response in (draft, answer):
                        if response.status_code >= 500 or re.search(r"locked|busy", response.text, re.I):
                            failures.append(f"{response.status_code} {response.text[:200]}")
                    if answer.status_code == 303:
                        acked.append(key)

    def _id(response) -> str:
        return response.headers["location"].rsplit("/", 1)[-1].split("?")[0]

    caplog.set_level(logging.WARNING)
    threads = [threading.Thread(target=browser, args=(n, *users[n])) for n in range(WRITERS)]
    with TestClient(app, base_url=BASE_URL):  # starts the grading worker, which writes too
        for thread in threads:
            thread.start()
        start.wait(timeout=60)
        for thread in threads:
            thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert [r.getMessage() for r in caplog.records if re.search(r"locked|busy", r.getMessage(), re.I)] == []
    assert len(acked) == WRITERS * ROUNDS
    with db.read() as session:
        keys = set(session.scalars(select(Attempt.idempotency_key)))
        flagged = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.flagged_wrong.is_(True)))
    assert set(acked) <= keys
    assert flagged == WRITERS * ROUNDS


# --- D4: disk full --------------------------------------------------------------------------------------


@contextmanager
def page_limit(db, extra_pages: int = 0):
    """SQLITE_FULL on demand: every pooled connection gets `max_page_count` just above the current size."""
    with db.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar() + extra_pages

    def limit(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    db.engine.dispose()
    event.listen(db.engine, "connect", limit)
    try:
        yield
    finally:
        event.remove(db.engine, "connect", limit)
        db.engine.dispose()  # drop the connections that carry the limit: space is "freed"


def test_a_full_disk_answers_507_with_the_text_kept_and_the_app_stays_up(make_app):
    app = make_app()
    db = app.state.services.db
    # About 15,000 characters: more than the free space left in the file's pages, so it needs new ones.
    canary = " ".join(f"{ANSWER} (Part {n} of an answer that must not be lost.)" for n in range(25))
    with TestClient(app, base_url=BASE_URL) as client:
        signed_up(client)
        form = practice_form(client)
        with page_limit(db):
            response = post_answer(client, form, "d4-full-000001", answer=canary)
            assert response.status_code == 507
            html = page(response)
            assert "Storage is full: your answer was not saved" in html.find(id="answer-error").get_text()
            assert html.find("textarea", attrs={"name": "answer"}).get_text() == canary
            kept_key = html.find("input", attrs={"name": "idempotency_key"})["value"]
            assert kept_key == "d4-full-000001"
            assert client.get("/healthz").status_code == 200  # reads and other pages still work
            assert client.get("/").status_code == 200
        assert count_attempts(db) == 0
        assert integrity_check(db) == []
        # Space freed: the same form, sent again, stores the answer once.
        again = post_answer(client, {**form, "idempotency_key": kept_key}, kept_key, answer=canary)
        assert again.status_code == 303
        assert count_attempts(db) == 1


def test_a_full_disk_on_the_api_is_a_503_that_says_nothing_was_saved(make_app):
    app = make_app()
    db = app.state.services.db
    with TestClient(app, base_url=BASE_URL) as client:
        signed_up(client)
        headers = {"authorization": f"Bearer {api_token(app)}"}
        with page_limit(db):
            response = client.post(
                "/api/v1/grade",
                json={
                    "question_id": GOOD_QUESTION,
                    "answer": " ".join([ANSWER] * 25),
                    "idempotency_key": "d4-api-0001",
                },
                headers=headers,
            )
        assert response.status_code == 503
        assert "nothing from this request was saved" in response.json()["detail"]
        assert count_attempts(db) == 0


# --- D5: backup while writing, restore over a stale WAL ---------------------------------------------------


def test_a_backup_taken_while_answers_arrive_is_a_consistent_snapshot_and_restores_exactly(tmp_path):
    db = open_database(Settings(home=tmp_path / "live", database_url=None))
    quiet = repo.create_user(db, email="quiet@example.org", display_name="Quiet")
    for n in range(20):
        repo.store_attempt(db, user_id=quiet.id, question_id=f"q{n % 4}", answer=f"answer {n}")
    busy = [repo.create_user(db, email=f"busy{n}@example.org", display_name=f"B{n}") for n in range(4)]
    stop = threading.Event()
    written = [0] * len(busy)

    def writer(i: int) -> None:
        while not stop.is_set():
            repo.store_attempt(
                db,
                user_id=busy[i].id,
                question_id="q",
                answer=f"busy {written[i]}",
                idempotency_key=f"{i}-{written[i]:06d}",
            )
            written[i] += 1

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(busy))]
    for thread in threads:
        thread.start()

    def wait_for_writes(at_least: list[int]) -> None:
        deadline = time.monotonic() + 60
        while any(w < n for w, n in zip(written, at_least)) and time.monotonic() < deadline:
            time.sleep(0.02)

    try:
        wait_for_writes([5] * len(busy))
        expected_export = json.dumps(repo.export_user(db, user_id=quiet.id), sort_keys=True)
        snapshot = backup(db, tmp_path / "snapshot.db")
        wait_for_writes([w + 5 for w in written])  # the writers went on during and after the backup
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert check_file(snapshot) == []
    with closing(sqlite3.connect(snapshot)) as conn:
        per_writer = dict(conn.execute("SELECT user_id, count(*) FROM attempts GROUP BY user_id").fetchall())
        keys = {
            row[0] for row in conn.execute("SELECT idempotency_key FROM attempts WHERE idempotency_key IS NOT NULL")
        }
    for i, user in enumerate(busy):
        count = per_writer.get(user.id, 0)
        assert 5 <= count < written[i]
        # A consistent snapshot holds a prefix of each writer's sequence: no gap, nothing from "later".
        assert {k for k in keys if k.startswith(f"{i}-")} == {f"{i}-{n:06d}" for n in range(count)}
    # Restore into a fresh home where a stale WAL of another database waits next to the target.
    db.dispose()
    home = tmp_path / "fresh"
    other = open_database(Settings(home=home, database_url=None))
    repo.create_user(other, email="stale@example.org", display_name="Stale")
    stale_wal = (home / "coach.db-wal").read_bytes()
    other.dispose()
    (home / "coach.db-wal").write_bytes(stale_wal or b"\0" * 4096)
    restore(snapshot, home / "coach.db")
    restored = open_database(Settings(home=home, database_url=None))
    try:
        assert repo.find_user_by_email(restored, email="stale@example.org") is None
        assert json.dumps(repo.export_user(restored, user_id=quiet.id), sort_keys=True) == expected_export
        assert integrity_check(restored) == []
    finally:
        restored.dispose()


def test_coach_db_backup_and_restore_through_the_cli(tmp_path, monkeypatch):
    home = tmp_path / "cli-home"
    monkeypatch.setenv("COACH_HOME", str(home))
    db = open_database(Settings(home=home, database_url=None))
    user = repo.get_or_create_local_user(db)
    repo.store_attempt(db, user_id=user.id, question_id="q1", answer="kept by the backup")
    db.dispose()
    runner = CliRunner()
    result = runner.invoke(cli_app, ["db", "backup", str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    db = open_database(Settings(home=home, database_url=None))
    repo.forget_all(db, user_id=user.id)
    db.dispose()
    result = runner.invoke(cli_app, ["db", "restore", str(tmp_path / "b.db"), "--yes"])
    assert result.exit_code == 0, result.output
    db = open_database(Settings(home=home, database_url=None))
    try:
        assert [a.answer for a in repo.list_attempts(db, user_id=user.id)] == ["kept by the backup"]
    finally:
        db.dispose()


# --- D8: coach doctor, and no serving on a damaged file ---------------------------------------------------


def seeded_sqlite(home, answers: int = 300):
    db = open_database(Settings(home=home, database_url=None))
    user = repo.get_or_create_local_user(db)
    for n in range(answers):
        repo.store_attempt(db, user_id=user.id, question_id=f"q{n % 7}", answer=f"answer number {n} " * 20)
    db.checkpoint()
    db.dispose()
    return home / "coach.db"


def doctor(home, *args):
    result = CliRunner().invoke(cli_app, ["doctor", *args], env={"COACH_HOME": str(home)})
    return result.exit_code, result.output


def flip_byte_in_a_table_page(path) -> None:
    """Overwrite bytes in the middle of the attempts table's root page (a b-tree page header)."""
    with closing(sqlite3.connect(path)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'attempts'").fetchone()[0]
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        header = bytearray(handle.read(12))
        header[0] = 0x07  # not a valid b-tree page type
        header[3:5] = b"\xff\xff"  # cell count far beyond the page
        handle.seek((root - 1) * page_size)
        handle.write(header)


def test_doctor_says_a_sound_database_is_sound(tmp_path):
    seeded_sqlite(tmp_path / "home", answers=10)
    code, output = doctor(tmp_path / "home")
    assert code == 0, output
    assert "quick_check" in output and "0 error(s)" in output


def test_doctor_reports_a_damaged_page_with_the_restore_command_and_the_server_refuses_it(tmp_path, real_grader):
    home = tmp_path / "home"
    path = seeded_sqlite(home)
    snapshot = backup(open_database(Settings(home=home, database_url=None)), home / "backups" / "good.db")
    flip_byte_in_a_table_page(path)
    code, output = doctor(home)
    assert code == 1, output
    assert "[quick_check]" in output and f"coach db restore {snapshot}" in output
    from coach.web.app import create_app

    with pytest.raises(StorageError, match="damaged.*coach doctor"):
        create_app(web_settings(home), grader=real_grader)
    result = CliRunner().invoke(cli_app, ["serve", "--get", "/healthz"], env={"COACH_HOME": str(home)})
    assert result.exit_code != 0 and "damaged" in result.output


def test_doctor_reports_a_missing_wal_next_to_its_shm(tmp_path):
    home = tmp_path / "home"
    db = open_database(Settings(home=home, database_url=None))
    user = repo.get_or_create_local_user(db)
    holder = db.engine.connect()  # keeps the WAL open while the files are copied, as a running server does
    repo.store_attempt(db, user_id=user.id, question_id="q1", answer="only in the WAL so far")
    moved = tmp_path / "moved"
    moved.mkdir()
    for suffix in ("", "-shm"):  # copied without coach.db-wal
        (moved / f"coach.db{suffix}").write_bytes((home / f"coach.db{suffix}").read_bytes())
    holder.close()
    db.dispose()
    for _run in range(2):  # the first run must not hide the problem from the next one
        code, output = doctor(moved)
        assert code == 1, output
        assert "[wal]" in output and "coach.db-wal is missing" in output and "copy coach.db-wal" in output


def test_doctor_reports_an_old_schema_with_the_upgrade_command_and_a_future_one_as_unknown(tmp_path):
    home = tmp_path / "home"
    path = seeded_sqlite(home, answers=3)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
        conn.commit()
    code, output = doctor(home)
    if "0001 is the one this version needs" not in output:  # only while 0001 is not the newest migration
        assert "[schema]" in output and "older than" in output and "coach db upgrade" in output
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
        conn.commit()
    code, output = doctor(home)
    assert code == 1
    assert "unknown here: a newer version of interview-coach wrote it" in output


def test_doctor_never_changes_the_database_it_checks(tmp_path):
    path = seeded_sqlite(tmp_path / "home", answers=5)
    before = path.read_bytes()
    assert not path.with_name("coach.db-wal").exists()
    doctor(tmp_path / "home")
    assert path.read_bytes() == before
    assert not path.with_name("coach.db-wal").exists()


def test_opening_a_database_runs_quick_check_and_refuses_a_file_that_is_not_sqlite(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "coach.db").write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StorageError, match="damaged"):
        open_database(Settings(home=home, database_url=None))
    code, output = doctor(home)
    assert code == 1 and "not a SQLite database" in output


# --- S13: coach doctor --deploy ------------------------------------------------------------------------


def deploy(tmp_path, env: dict[str, str], host: str = "0.0.0.0"):
    home = tmp_path / "deploy-home"
    seeded_sqlite(home, answers=1)
    result = CliRunner().invoke(cli_app, ["doctor", "--deploy", "--host", host], env={"COACH_HOME": str(home), **env})
    return result.exit_code, result.output


SAFE = {"COACH_SECRET_KEY": secrets.token_urlsafe(48), "COACH_HTTPS": "1", "COACH_SIGNUP_OPEN": "0"}


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"COACH_SECRET_KEY": ""}, "[secret_key]"),
        ({"COACH_SECRET_KEY": "short-key"}, "[secret_key]"),
        ({"COACH_SECRET_KEY": "a" * 60}, "[secret_key]"),
        ({"COACH_HTTPS": "0"}, "[https]"),
        ({"COACH_MODE": "development"}, "[mode]"),
        ({"COACH_PASSWORD_HASH_COST": "test"}, "[password_hash_cost]"),
        ({"COACH_LLM_BASE_URL": "http://llm.example.org/v1"}, "[llm_base_url]"),
    ],
)
def test_deploy_check_fails_on_each_insecure_setting(tmp_path, change, check):
    code, output = deploy(tmp_path, {**SAFE, **change})
    assert code == 1, output
    assert f"error {check}" in " ".join(output.split())


def test_deploy_check_passes_a_hardened_configuration_and_only_warns_on_loopback(tmp_path):
    code, output = deploy(tmp_path, {**SAFE, "COACH_RETENTION_DAYS": "365"})
    assert code == 0, output
    assert "0 error(s)" in output
    code, output = deploy(tmp_path, {"COACH_SECRET_KEY": "", "COACH_HTTPS": "0"}, host="127.0.0.1")
    assert code == 0, output
    assert "warning [https]" in " ".join(output.split())


def test_deploy_check_warns_that_sign_up_is_open(tmp_path):
    code, output = deploy(tmp_path, {**SAFE, "COACH_SIGNUP_OPEN": "1"})
    assert code == 0
    assert "warning [signup_open]" in " ".join(output.split())


def test_deploy_check_fails_when_the_database_is_readable_by_others(tmp_path):
    home = tmp_path / "deploy-home"
    seeded_sqlite(home, answers=1)
    (home / "coach.db").chmod(0o644)
    code, output = deploy(tmp_path, SAFE)
    assert code == 1
    assert "[permissions]" in output

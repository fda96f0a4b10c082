"""Privacy (RELIABILITY.md section 6): P1 export, P2 deletion down to the bytes, P3 retention, P4 no outbound
traffic, P8 explainable grades that users can dispute. P6 (browser residue) is in tests/e2e.
"""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from pytest_socket import SocketConnectBlockedError
from sqlalchemy import select
from starlette.testclient import TestClient
from test_web_support import (
    ANSWER,
    BASE_URL,
    GOOD_QUESTION,
    PASSWORD,
    app,  # noqa: F401
    client,  # noqa: F401
    graded_attempt,
    make_app,  # noqa: F401
    page,
    post_form,
    real_grader,  # noqa: F401
    signed_up,
    user_id,
)
from typer.testing import CliRunner

from coach.cli import app as cli_app
from coach.settings import Settings
from coach.storage import open_database
from coach.storage import repository as repo
from coach.storage.repository.privacy import EXPORTED, NOT_EXPORTED
from coach.storage.retention import purge_expired
from coach.storage.tables import Base


def database_bytes(db) -> bytes:
    return b"".join(
        path.read_bytes()
        for path in (db.path, db.path.with_name(db.path.name + "-wal"), db.path.with_name(db.path.name + "-shm"))
        if path.exists()
    )


def user_tables() -> dict[str, str]:
    """Every table with a column that references users.id (found from the models, so new tables count)."""
    found = {}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "users" for fk in column.foreign_keys):
                found[table.name] = column.name
    return found


# --- P1: export -----------------------------------------------------------------------------------------


def test_the_web_and_api_exports_hold_every_row_of_the_user_and_nothing_of_anyone_else(app, client):
    db = app.state.services.db
    signed_up(client)
    first = graded_attempt(app, client)
    post_form(client, f"/attempts/{first}/flag", {"comment": "my example was there"}, from_page=f"/attempts/{first}")
    post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": "a draft in progress"}, from_page="/")
    created = post_form(client, "/account/tokens", {"name": "export test"})
    token = re.search(r"coach_[A-Za-z0-9_-]{20,}", created.text).group(0)
    me = user_id(app, "ada@example.org")
    repo.create_session(db, user_id=me, plan=[{"question_id": GOOD_QUESTION, "reason": "new"}])
    with TestClient(app, base_url=BASE_URL) as other:
        signed_up(other, email="bob@example.org", name="Bob")
        theirs = graded_attempt(app, other, answer=ANSWER + " Bob's own words.")

    web = client.get("/account/export")
    assert web.status_code == 200 and "attachment" in web.headers["content-disposition"]
    api = client.get("/api/v1/export", headers={"authorization": f"Bearer {token}"})
    assert api.status_code == 200
    exported = json.loads(web.text)
    assert exported == api.json()
    assert exported["format"] == "interview-coach-export" and exported["version"] == 1

    tables = user_tables()
    sections = {model.__tablename__: section for section, (model, _) in EXPORTED.items()}
    assert set(tables) - {"users"} <= set(sections) | NOT_EXPORTED  # a new table must be exported or listed
    with db.read() as session:
        for name, column in tables.items():
            table = Base.metadata.tables[name]
            rows = session.execute(select(table).where(table.c[column] == me)).mappings().all()
            if name in sections:
                assert rows, f"the seeding made no {name} row"
                excluded = next(ex for section, (model, ex) in EXPORTED.items() if model.__tablename__ == name)
                keys = [c.name for c in table.primary_key.columns if c.name not in excluded]
                if not keys:  # drafts: their internal id is not exported; one per user and question
                    keys = ["question_id"]
                in_db = sorted(tuple(str(row[k]) for k in keys) for row in rows)
                in_export = sorted(tuple(str(item[k]) for k in keys) for item in exported[sections[name]])
                assert in_export == in_db, name
    text = web.text
    assert theirs not in text and "Bob's own words" not in text and "bob@example.org" not in text
    user = repo.get_user(db, user_id=me)
    assert user.password_hash not in text and "password_hash" not in text
    for row in repo.list_auth_sessions(db, user_id=me):
        assert row.token_hash not in text
    for row in repo.list_api_tokens(db, user_id=me):
        assert row.token_hash not in text
    assert token not in text and app.state.services.secret not in text
    flagged = [a for a in exported["attempts"] if a["id"] == first][0]
    assert flagged["flagged_wrong"] is True and flagged["flag_comment"] == "my example was there"


# --- P2: delete account, down to the bytes ---------------------------------------------------------------


def cache_keys(grader) -> set[str]:
    disk = grader.embedder.disk
    if disk is None:
        return set()
    with closing(sqlite3.connect(disk.path)) as conn:
        return {row[0] for row in conn.execute("SELECT key FROM shared_vectors")}


def test_deleting_the_account_leaves_no_row_no_session_and_no_byte_of_the_answer(app, client, caplog, real_grader):
    db = app.state.services.db
    canary = f"Canary{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    signed_up(client)
    attempt_id = graded_attempt(app, client, answer=f"{ANSWER} My private note is {canary}.")
    post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": f"draft with {canary}"}, from_page="/")
    assert canary.encode() in database_bytes(db)  # the byte check can see the text while it is stored
    assert repo.get_attempt(db, user_id=1, attempt_id=attempt_id).status == "graded"
    cookie = client.cookies.get(app.state.services.session_cookie)

    # Re-authentication is required: a wrong password deletes nothing.
    refused = post_form(client, "/account/delete", {"password": "not the password"})
    assert refused.status_code == 403
    assert repo.find_user_by_email(db, email="ada@example.org") is not None

    deleted = post_form(client, "/account/delete", {"password": PASSWORD})
    assert deleted.status_code == 303
    assert "storage" in deleted.headers["clear-site-data"]
    app.state.services.worker.wait_idle(timeout=60)
    db.checkpoint()

    with db.read() as session:
        for name, column in user_tables().items():
            table = Base.metadata.tables[name]
            assert session.execute(select(table).where(table.c[column] == 1)).first() is None, name
        assert (
            session.execute(
                select(Base.metadata.tables["users"]).where(Base.metadata.tables["users"].c.id == 1)
            ).first()
            is None
        )
    with TestClient(app, base_url=BASE_URL) as replay:
        replay.cookies.set(app.state.services.session_cookie, cookie)
        response = replay.get("/account", follow_redirects=False)
        assert response.status_code in (303, 401) and "/sign-in" in response.headers.get("location", "/sign-in")
    found = database_bytes(db).count(canary.encode())
    assert found == 0, f"{found} copies of the deleted answer's canary remain in coach.db/-wal/-shm"
    assert not [r for r in caplog.records if canary in r.getMessage()]
    cache = real_grader.embedder.disk
    if cache is not None:  # the embedding cache holds vectors keyed by SHA-256, never the text itself
        data = b"".join(p.read_bytes() for p in cache.path.parent.glob(cache.path.name + "*"))
        assert canary.encode() not in data


def test_answer_sentences_never_reach_the_embedding_cache_on_disk(app, client, real_grader):
    """The disk cache keeps only rubric and bank vectors, so deleting an answer leaves nothing of it there."""
    if real_grader.embedder.disk is None:
        pytest.skip("the grader has no disk cache")
    signed_up(client)
    secret_sentence = f"My manager {uuid.uuid4().hex} told me to ship the model without the audit."
    graded_attempt(app, client, answer=f"{ANSWER} {secret_sentence}")
    keys = cache_keys(real_grader)
    assert keys, "the rubric of the graded question should be cached on disk"
    assert real_grader.embedder.key(secret_sentence) not in keys
    data = real_grader.embedder.disk.path.read_bytes()
    assert secret_sentence.split()[2].encode() not in data


def test_an_old_cache_that_held_answer_vectors_is_erased_when_opened(tmp_path):
    from coach.grading.embedders import DiskCache

    path = tmp_path / "embeddings.sqlite"
    canary = uuid.uuid4().hex
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE vectors (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))")
        conn.execute("INSERT INTO vectors VALUES ('m', ?, ?)", (canary, canary.encode() * 4))
        conn.commit()
    cache = DiskCache(path, "m")
    assert cache.get_many([canary]) == {}
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            assert canary.encode() not in part.read_bytes()


# --- P3: retention ----------------------------------------------------------------------------------------

DAYS = 30
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def aged_answers(db, canary: str):
    user = repo.create_user(db, email="old@example.org", display_name="Old")
    other = repo.create_user(db, email="other@example.org", display_name="Other")
    made = {}
    for label, age in (("newer", DAYS - 1), ("exactly", DAYS), ("older", DAYS + 1)):
        for who in (user, other):
            text = f"{canary}-{label}-{who.id} " + ANSWER
            made[(label, who.id)] = repo.store_attempt(
                db, user_id=who.id, question_id="q1", answer=text, now=NOW - timedelta(days=age)
            ).id
    repo.save_draft(
        db, user_id=user.id, question_id="q2", text=f"{canary}-olddraft", now=NOW - timedelta(days=DAYS + 5)
    )
    repo.save_draft(db, user_id=user.id, question_id="q3", text=f"{canary}-newdraft", now=NOW - timedelta(days=1))
    return user, other, made


def test_retention_deletes_answers_older_than_n_days_down_to_the_bytes_and_logs_no_content(sqlite_db, caplog):
    canary = f"Keep{uuid.uuid4().hex[:12]}"
    user, other, made = aged_answers(sqlite_db, canary)
    caplog.set_level(logging.INFO, logger="coach.storage.retention")
    result = purge_expired(sqlite_db, days=DAYS, now=NOW)
    assert (result.attempts, result.drafts) == (2, 1)
    for who in (user, other):
        left = {a.id for a in repo.list_attempts(sqlite_db, user_id=who.id)}
        assert left == {made[("newer", who.id)], made[("exactly", who.id)]}
    assert [d.question_id for d in repo.list_drafts(sqlite_db, user_id=user.id)] == ["q3"]
    data = database_bytes(sqlite_db)
    assert data.count(f"{canary}-older".encode()) == 0 and data.count(f"{canary}-olddraft".encode()) == 0
    assert f"{canary}-newer".encode() in data  # the check can see text that is there
    assert purge_expired(sqlite_db, days=DAYS, now=NOW).attempts == 0  # idempotent
    messages = [r.getMessage() for r in caplog.records]
    assert any("deleted 2 answers and 1 drafts older than 30 days" in m for m in messages)
    assert not [m for m in messages if canary in m]


def test_retention_on_postgresql_deletes_the_same_rows(db):
    canary = f"Keep{uuid.uuid4().hex[:12]}"
    user, other, made = aged_answers(db, canary)
    result = purge_expired(db, days=DAYS, now=NOW)
    assert (result.attempts, result.drafts) == (2, 1)
    assert {a.id for a in repo.list_attempts(db, user_id=user.id)} == {
        made[("newer", user.id)],
        made[("exactly", user.id)],
    }


def test_the_server_purges_old_answers_when_it_starts(make_app):
    app = make_app(retention_days=DAYS)
    db = app.state.services.db
    user = repo.create_user(db, email="old@example.org", display_name="Old")
    old = repo.store_attempt(
        db, user_id=user.id, question_id="q1", answer="old", now=datetime.now(UTC) - timedelta(days=DAYS + 2)
    )
    new = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="new")
    with TestClient(app, base_url=BASE_URL):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(repo.list_attempts(db, user_id=user.id)) > 1:
            time.sleep(0.05)
    assert [a.id for a in repo.list_attempts(db, user_id=user.id)] == [new.id]
    assert old.id != new.id


def test_coach_db_purge_uses_the_retention_setting_and_refuses_without_one(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("COACH_HOME", str(home))
    db = open_database(Settings(home=home, database_url=None))
    user = repo.get_or_create_local_user(db)
    repo.store_attempt(
        db, user_id=user.id, question_id="q", answer="ancient", now=datetime.now(UTC) - timedelta(days=400)
    )
    repo.store_attempt(db, user_id=user.id, question_id="q", answer="recent")
    db.dispose()
    runner = CliRunner()
    refused = runner.invoke(cli_app, ["db", "purge"])
    assert refused.exit_code == 2 and "COACH_RETENTION_DAYS" in refused.output
    done = runner.invoke(cli_app, ["db", "purge"], env={"COACH_RETENTION_DAYS": "365"})
    assert done.exit_code == 0, done.output
    assert "Deleted 1 answer(s)" in done.output
    db = open_database(Settings(home=home, database_url=None))
    try:
        assert [a.answer for a in repo.list_attempts(db, user_id=user.id)] == ["recent"]
    finally:
        db.dispose()


# --- P4: no outbound traffic --------------------------------------------------------------------------


def test_the_suite_blocks_connections_to_anything_but_loopback():
    """pytest-socket (--allow-hosts in pyproject) fails any test that connects elsewhere and names the host.
    0.0.0.0 is used because it is not on the list and, were the guard missing, would only reach this machine."""
    with pytest.raises(SocketConnectBlockedError, match="0.0.0.0"), socket.socket() as sock:
        sock.connect(("0.0.0.0", 9))


def test_the_app_grades_offline_and_every_page_loads_only_from_its_own_origin(app, client):
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    attempt = repo.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert attempt.status == "graded"
    for path in ("/", f"/practice/{GOOD_QUESTION}", f"/attempts/{attempt_id}", "/history", "/account", "/bank"):
        html = BeautifulSoup(client.get(path).text, "html.parser")
        for element in html.find_all(src=True) + html.find_all("link", href=True):
            url = element.get("src") or element.get("href")
            assert not re.match(r"^(https?:)?//", url), f"{path} loads {url} from another origin"


# --- P8: explainable grades users can dispute --------------------------------------------------------


def test_every_grade_keeps_its_evidence_and_engine_and_a_disputed_grade_reaches_the_operator(app, client):
    signed_up(client)  # the first account is the admin
    with TestClient(app, base_url=BASE_URL) as member:
        signed_up(member, email="bob@example.org", name="Bob")
        attempt_id = graded_attempt(app, member)
        attempt = repo.get_attempt(
            app.state.services.db, user_id=user_id(app, "bob@example.org"), attempt_id=attempt_id
        )
        grade = attempt.grade
        assert grade["engine"]["version"] and grade["engine"]["embedder"]
        assert attempt.engine_version == grade["engine"]["version"]
        covered = [kp for kp in grade["key_points"] if kp["status"] != "missing"]
        assert covered and all(kp["evidence"] and kp["evidence"] in attempt.answer for kp in covered)
        for pitfall in grade["pitfalls"]:
            assert pitfall["evidence"]
        shown = page(member.get(f"/attempts/{attempt_id}"))
        assert shown.find(id="flag") is not None

        flagged = post_form(
            member,
            f"/attempts/{attempt_id}/flag",
            {"comment": "I named the rollback trigger"},
            from_page=f"/attempts/{attempt_id}",
        )
        assert flagged.status_code == 303
        exported = member.get("/account/export").json()
        mine = [a for a in exported["attempts"] if a["id"] == attempt_id][0]
        assert mine["flagged_wrong"] and mine["flag_comment"] == "I named the rollback trigger"
        assert mine["grade"]["key_points"] == grade["key_points"]

    admin_page = page(client.get("/admin"))
    row = admin_page.find(attrs={"data-flagged-attempt": attempt_id})
    assert row is not None and "I named the rollback trigger" in row.get_text()
    assert grade["engine"]["embedder"] in row.get_text()
    assert [a.id for a in repo.list_flagged_attempts(app.state.services.db)] == [attempt_id]


def test_a_user_can_take_a_report_back(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    post_form(client, f"/attempts/{attempt_id}/flag", {"comment": "wrong"}, from_page=f"/attempts/{attempt_id}")
    post_form(client, f"/attempts/{attempt_id}/flag", {"wrong": "0"}, from_page=f"/attempts/{attempt_id}")
    assert repo.list_flagged_attempts(app.state.services.db) == []

"""Privacy (RELIABILITY.md P1, P2, P3): export, import, deletion and retention, on every storage backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import fsrs
import pytest
from sqlalchemy import Table, func, select

from coach.errors import InvalidInput, NotFound
from coach.storage import repository as repo
from coach.storage.repository.privacy import EXPORTED, NOT_EXPORTED
from coach.storage.tables import Attempt, Base

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_user(db, name="ada"):
    return repo.create_user(db, email=f"{name}@example.org", display_name=name.title(), password_hash="argon2$secret")


def seed_everything(db, user, canary="canary"):
    """One of every object a user owns, with timestamps that order deterministically."""
    session = repo.create_session(
        db, user_id=user.id, plan=[{"question_id": "q1", "reason": "new"}], role="rai-pm", level="mid", minutes=15
    )
    main = repo.store_attempt(
        db,
        user_id=user.id,
        question_id="q1",
        answer=f"{canary} main",
        session_id=session.id,
        seconds=61.5,
        idempotency_key="k1",
        now=T0,
    )
    repo.save_grade(
        db,
        attempt_id=main.id,
        grade={"score": 3, "evidence": [{"kp": "a", "sentence": canary}]},
        score=3.0,
        engine_version="v1",
    )
    follow = repo.store_attempt(
        db,
        user_id=user.id,
        question_id="q1",
        answer=f"{canary} follow-up",
        session_id=session.id,
        kind="follow_up",
        parent_id=main.id,
        prompt="Who is harmed?",
        target_key_points=["kp-2"],
        now=T0 + timedelta(seconds=1),
    )
    repo.mark_attempt_failed(db, attempt_id=follow.id, error="timeout")
    loose = repo.store_attempt(
        db, user_id=user.id, question_id="q2", answer=f"{canary} loose", now=T0 + timedelta(seconds=2)
    )
    repo.flag_grade(db, user_id=user.id, attempt_id=loose.id, comment="wrong band")
    repo.update_session_progress(db, user_id=user.id, session_id=session.id, current_index=1)
    repo.save_draft(db, user_id=user.id, question_id="q3", text=f"{canary} draft", now=T0)
    repo.save_draft(
        db, user_id=user.id, question_id="q1", text=f"{canary} session draft", session_id=session.id, now=T0
    )
    repo.upsert_review(
        db,
        user_id=user.id,
        question_id="q1",
        card=fsrs.Card(due=T0).to_dict(),
        due_at=T0,
        last_rating=3,
        last_score=3.0,
    )
    repo.create_auth_session(
        db, user_id=user.id, token_hash=repo.hash_token(f"{user.id}-cookie"), expires_at=T0 + timedelta(days=1)
    )
    repo.create_api_token(db, user_id=user.id, name="cli", token_hash=repo.hash_token(f"{user.id}-token"))
    return session


def test_export_holds_all_of_a_users_data_and_nothing_secret_or_foreign(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    seed_everything(db, ada, canary="ADA")
    seed_everything(db, bob, canary="BOB")
    data = repo.export_user(db, user_id=ada.id)
    text = json.dumps(data)  # JSON-ready as it is

    assert (data["format"], data["version"]) == ("interview-coach-export", 1)
    assert (len(data["sessions"]), len(data["attempts"]), len(data["drafts"]), len(data["reviews"])) == (1, 3, 2, 1)
    assert "BOB" not in text and "bob@" not in text
    assert "argon2" not in text and "password_hash" not in text and "token_hash" not in text
    assert repo.hash_token(f"{ada.id}-cookie") not in text and repo.hash_token(f"{ada.id}-token") not in text


def test_every_table_with_user_data_is_exported_or_deliberately_left_out():
    owned = {t.name for t in Base.metadata.sorted_tables if "user_id" in t.c}
    exported = {model.__tablename__ for model, _ in EXPORTED.values()}
    assert owned == exported | NOT_EXPORTED


def test_export_rows_carry_every_column_but_the_left_out_ones(db):
    user = make_user(db)
    seed_everything(db, user)
    data = repo.export_user(db, user_id=user.id)
    for section, (model, excluded) in EXPORTED.items():
        table = model.__table__
        assert isinstance(table, Table)
        assert set(data[section][0]) == {c.name for c in table.columns} - excluded, section


def test_an_export_imported_into_an_empty_database_exports_identically(make_db):
    source = make_db("source")
    user = make_user(source)
    seed_everything(source, user)
    exported = json.loads(json.dumps(repo.export_user(source, user_id=user.id)))

    target = make_db("target")
    into = repo.create_user(target, email="ada@example.org", display_name="Ada")
    counts = repo.import_user(target, data=exported, into_user_id=into.id)
    assert counts == {"sessions": 1, "attempts": 3, "drafts": 2, "reviews": 1}
    again = repo.export_user(target, user_id=into.id)

    for section in ("sessions", "attempts", "drafts", "reviews"):
        assert again[section] == exported[section], section
    assert {k: again["user"][k] for k in ("email", "display_name")} == {
        "email": "ada@example.org",
        "display_name": "Ada",
    }


def test_importing_into_the_same_database_maps_taken_ids(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    seed_everything(db, ada)
    exported = repo.export_user(db, user_id=ada.id)
    repo.import_user(db, data=exported, into_user_id=bob.id)
    copy = repo.export_user(db, user_id=bob.id)

    def without_ids(data):
        ids = {a["id"]: f"attempt-{i}" for i, a in enumerate(data["attempts"])}
        ids |= {s["id"]: f"session-{i}" for i, s in enumerate(data["sessions"])}
        mapped = json.loads(json.dumps({k: data[k] for k in ("sessions", "attempts", "drafts", "reviews")}))
        for row in mapped["sessions"] + mapped["attempts"] + mapped["drafts"]:
            for key in ("id", "session_id", "parent_id"):
                if row.get(key) is not None:
                    row[key] = ids[row[key]]
        return mapped

    assert {a["id"] for a in copy["attempts"]}.isdisjoint({a["id"] for a in exported["attempts"]})
    assert without_ids(copy) == without_ids(exported)
    # Ada's data is untouched by Bob's import.
    assert repo.export_user(db, user_id=ada.id) == exported


def test_it_rejects_an_export_it_cannot_read(db):
    user = make_user(db)
    with pytest.raises(InvalidInput, match="not an interview-coach export"):
        repo.import_user(db, data={"hello": 1}, into_user_id=user.id)
    with pytest.raises(InvalidInput, match="version 2"):
        repo.import_user(db, data={"format": "interview-coach-export", "version": 2}, into_user_id=user.id)
    broken = {"format": "interview-coach-export", "version": 1, "attempts": [{"id": "x", "parent_id": "missing"}]}
    with pytest.raises(InvalidInput, match="nothing was imported"):
        repo.import_user(db, data=broken, into_user_id=user.id)
    assert repo.list_attempts(db, user_id=user.id) == []


def test_deleting_a_user_leaves_no_row_that_references_them(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    seed_everything(db, ada)
    seed_everything(db, bob)
    repo.delete_user(db, user_id=ada.id)
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            if "user_id" in table.c:
                left = session.scalar(select(func.count()).select_from(table).where(table.c.user_id == ada.id))
                assert left == 0, table.name
        assert session.scalar(select(func.count()).select_from(Attempt).where(Attempt.user_id == bob.id)) == 3
    with pytest.raises(NotFound):
        repo.get_user(db, user_id=ada.id)


def test_forgetting_a_session_deletes_its_answers_and_drafts_only(db):
    user = make_user(db)
    session = seed_everything(db, user)
    repo.forget_session(db, user_id=user.id, session_id=session.id)
    assert [a.question_id for a in repo.list_attempts(db, user_id=user.id)] == ["q2"]
    assert [d.question_id for d in repo.list_drafts(db, user_id=user.id)] == ["q3"]
    with pytest.raises(NotFound):
        repo.get_session(db, user_id=user.id, session_id=session.id)


def test_forgetting_everything_keeps_the_account(db):
    user = make_user(db)
    seed_everything(db, user)
    counts = repo.forget_all(db, user_id=user.id)
    assert counts == {"attempts": 3, "sessions": 1, "drafts": 2, "reviews": 1}
    assert repo.get_user(db, user_id=user.id).email == "ada@example.org"
    assert repo.export_user(db, user_id=user.id)["attempts"] == []


def test_retention_purges_old_attempts_of_every_user(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    repo.store_attempt(db, user_id=ada.id, question_id="q", answer="old", now=T0)
    repo.store_attempt(db, user_id=bob.id, question_id="q", answer="old", now=T0 + timedelta(days=1))
    kept = repo.store_attempt(db, user_id=bob.id, question_id="q", answer="new", now=T0 + timedelta(days=3))
    assert repo.purge_attempts_before(db, before=T0 + timedelta(days=2)) == 2
    assert [a.id for a in repo.list_attempts(db, user_id=bob.id)] == [kept.id]

"""Repository behaviour on every storage backend (the `db` fixture runs SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import fsrs
import pytest

from coach.errors import InvalidInput, NotFound, StorageError
from coach.storage import Database, backup
from coach.storage import repository as repo

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_user(db, name="ada"):
    return repo.create_user(db, email=f"{name}@example.org", display_name=name.title(), password_hash="argon2$secret")


# --- users -------------------------------------------------------------------------------------------


def test_it_creates_one_local_user_however_often_it_is_asked(db):
    first = repo.get_or_create_local_user(db)
    again = repo.get_or_create_local_user(db)
    assert first.id == again.id
    assert first.is_local and first.email is None and not first.llm_opt_in
    assert [u.id for u in repo.list_users(db)] == [first.id]


def test_concurrent_first_runs_create_a_single_local_user(db):
    ids = []
    threads = [threading.Thread(target=lambda: ids.append(repo.get_or_create_local_user(db).id)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1


def test_it_finds_users_by_email_whatever_the_case(db):
    user = repo.create_user(db, email="  Grace@Example.ORG ", display_name="Grace")
    assert user.email == "grace@example.org"
    assert repo.find_user_by_email(db, email="GRACE@example.org").id == user.id
    assert repo.find_user_by_email(db, email="nobody@example.org") is None


def test_it_refuses_a_second_account_for_the_same_email(db):
    make_user(db)
    with pytest.raises(InvalidInput, match="already exists"):
        repo.create_user(db, email="ADA@example.org", display_name="Other")


def test_get_user_raises_not_found_and_find_user_returns_none(db):
    with pytest.raises(NotFound):
        repo.get_user(db, user_id=999)
    assert repo.find_user(db, user_id=999) is None


def test_it_switches_admin_and_disabled_and_disabling_ends_sign_ins(db):
    user = make_user(db)
    repo.create_auth_session(db, user_id=user.id, token_hash=repo.hash_token("t"), expires_at=T0 + timedelta(days=1))
    assert repo.set_user_admin(db, user_id=user.id, is_admin=True).is_admin
    assert repo.count_admins(db) == 1
    disabled = repo.set_user_disabled(db, user_id=user.id, disabled=True)
    assert disabled.disabled_at is not None
    assert repo.list_auth_sessions(db, user_id=user.id) == []
    assert repo.count_admins(db) == 0
    assert repo.set_user_disabled(db, user_id=user.id, disabled=False).disabled_at is None


def test_datetimes_come_back_aware_and_in_utc(db):
    user = make_user(db)
    assert user.created_at.tzinfo is not None
    local = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    attempt = repo.store_attempt(db, user_id=user.id, question_id="q", answer="a", now=local)
    stored = repo.get_attempt(db, user_id=user.id, attempt_id=attempt.id)
    assert stored.created_at == local and stored.created_at.utcoffset() == timedelta(0)


# --- attempts ----------------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_same_attempt(db):
    user = make_user(db)
    first = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="first try", idempotency_key="k-1")
    retry = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="first try", idempotency_key="k-1")
    assert retry.id == first.id
    assert len(repo.list_attempts(db, user_id=user.id)) == 1


def test_idempotency_keys_belong_to_one_user(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    a = repo.store_attempt(db, user_id=ada.id, question_id="q1", answer="x", idempotency_key="same")
    b = repo.store_attempt(db, user_id=bob.id, question_id="q1", answer="y", idempotency_key="same")
    assert a.id != b.id


def test_concurrent_retries_with_one_key_store_one_attempt(db):
    user = make_user(db)
    ids, errors = [], []

    def submit():
        try:
            ids.append(repo.store_attempt(db, user_id=user.id, question_id="q", answer="a", idempotency_key="race").id)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 1
    assert len(repo.list_attempts(db, user_id=user.id)) == 1


def test_the_answer_is_committed_before_grading_and_stays_stored_when_grading_fails(db):
    user = make_user(db)
    attempt = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="my answer", idempotency_key="k")

    # Another connection pool (as another process would) sees the answer before any grading starts.
    other = Database(db.url)
    try:
        seen = repo.get_attempt(other, user_id=user.id, attempt_id=attempt.id)
    finally:
        other.dispose()
    assert (seen.answer, seen.status, seen.grade) == ("my answer", "stored", None)

    def grade(_answer):
        raise RuntimeError("embedder crashed")

    with pytest.raises(RuntimeError):
        repo.save_grade(db, attempt_id=attempt.id, grade=grade(attempt.answer), score=1.0, engine_version="x")
    assert repo.get_attempt(db, user_id=user.id, attempt_id=attempt.id).status == "stored"
    assert [a.id for a in repo.list_ungraded_attempts(db)] == [attempt.id]

    failed = repo.mark_attempt_failed(db, attempt_id=attempt.id, error="RuntimeError: embedder crashed")
    assert (failed.status, failed.answer) == ("failed", "my answer")
    assert [a.id for a in repo.list_ungraded_attempts(db, user_id=user.id)] == [attempt.id]

    graded = repo.save_grade(
        db,
        attempt_id=attempt.id,
        grade={"score": 4, "evidence": []},
        score=4.0,
        engine_version="rubric-1",
        counts_toward_progress=False,
    )
    assert (graded.status, graded.score, graded.error, graded.counts_toward_progress) == ("graded", 4.0, None, False)
    assert graded.graded_at is not None
    assert repo.list_ungraded_attempts(db) == []


def test_a_failed_regrade_keeps_the_earlier_grade(db):
    user = make_user(db)
    attempt = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="a")
    repo.save_grade(db, attempt_id=attempt.id, grade={"score": 3}, score=3.0, engine_version="v1")
    kept = repo.mark_attempt_failed(db, attempt_id=attempt.id, error="boom")
    assert (kept.status, kept.score, kept.error) == ("graded", 3.0, "boom")


def test_a_failure_before_commit_leaves_no_row(db):
    user = make_user(db)
    with pytest.raises(RuntimeError), db.write() as session:
        repo.store_attempt(session, user_id=user.id, question_id="q", answer="lost", idempotency_key="k")
        raise RuntimeError("crash between insert and commit")
    assert repo.list_attempts(db, user_id=user.id) == []
    # The retry with the same key then stores it once.
    repo.store_attempt(db, user_id=user.id, question_id="q", answer="lost", idempotency_key="k")
    assert len(repo.list_attempts(db, user_id=user.id)) == 1


def test_another_users_attempt_is_not_found(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    attempt = repo.store_attempt(db, user_id=ada.id, question_id="q1", answer="ada's answer")
    with pytest.raises(NotFound):
        repo.get_attempt(db, user_id=bob.id, attempt_id=attempt.id)
    with pytest.raises(NotFound):
        repo.flag_grade(db, user_id=bob.id, attempt_id=attempt.id, comment="not mine")
    with pytest.raises(NotFound):
        repo.store_attempt(db, user_id=bob.id, question_id="q1", answer="x", kind="follow_up", parent_id=attempt.id)
    assert repo.list_attempts(db, user_id=bob.id) == []
    assert not repo.get_attempt(db, user_id=ada.id, attempt_id=attempt.id).flagged_wrong


def test_another_users_session_is_not_found(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    session = repo.create_session(db, user_id=ada.id, plan=[{"question_id": "q1", "reason": "new"}])
    for call in (
        lambda: repo.get_session(db, user_id=bob.id, session_id=session.id),
        lambda: repo.update_session_progress(db, user_id=bob.id, session_id=session.id, current_index=1),
        lambda: repo.finish_session(db, user_id=bob.id, session_id=session.id),
        lambda: repo.store_attempt(db, user_id=bob.id, question_id="q1", answer="x", session_id=session.id),
        lambda: repo.forget_session(db, user_id=bob.id, session_id=session.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert repo.get_session(db, user_id=ada.id, session_id=session.id).status == "active"


def test_follow_ups_hang_off_their_parent_answer(db):
    user = make_user(db)
    parent = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="main")
    follow = repo.store_attempt(
        db,
        user_id=user.id,
        question_id="q1",
        answer="more",
        kind="follow_up",
        parent_id=parent.id,
        prompt="Which stakeholders?",
        target_key_points=["kp-2"],
    )
    assert (follow.parent_id, follow.prompt, follow.target_key_points) == (parent.id, "Which stakeholders?", ["kp-2"])
    with pytest.raises(InvalidInput, match="parent_id"):
        repo.store_attempt(db, user_id=user.id, question_id="q1", answer="x", kind="follow_up")


def test_it_lists_attempts_by_question_and_session_oldest_first(db):
    user = make_user(db)
    session = repo.create_session(db, user_id=user.id, plan=[{"question_id": "q1", "reason": "due"}])
    a = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="1", session_id=session.id, now=T0)
    b = repo.store_attempt(db, user_id=user.id, question_id="q2", answer="2", now=T0 + timedelta(seconds=1))
    c = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="3", now=T0 + timedelta(seconds=2))
    assert [x.id for x in repo.list_attempts(db, user_id=user.id)] == [a.id, b.id, c.id]
    assert [x.id for x in repo.list_attempts(db, user_id=user.id, question_id="q1")] == [a.id, c.id]
    assert [x.id for x in repo.list_attempts(db, user_id=user.id, session_id=session.id)] == [a.id]


def test_users_can_flag_a_grade_and_the_operator_can_list_flags(db):
    user = make_user(db)
    attempt = repo.store_attempt(db, user_id=user.id, question_id="q1", answer="a")
    flagged = repo.flag_grade(db, user_id=user.id, attempt_id=attempt.id, comment="I did mention consent")
    assert (flagged.flagged_wrong, flagged.flag_comment) == (True, "I did mention consent")
    assert [a.id for a in repo.list_flagged_attempts(db)] == [attempt.id]
    repo.flag_grade(db, user_id=user.id, attempt_id=attempt.id, wrong=False)
    assert repo.list_flagged_attempts(db) == []


# --- interview sessions ------------------------------------------------------------------------------


def test_a_session_moves_through_its_plan_and_finishes_once(db):
    user = make_user(db)
    plan = [{"question_id": "q1", "reason": "weakest"}, {"question_id": "q2", "reason": "due"}]
    session = repo.create_session(db, user_id=user.id, plan=plan, role="rai-pm", level="senior", minutes=20)
    assert (session.status, session.current_index, session.plan) == ("active", 0, plan)
    moved = repo.update_session_progress(db, user_id=user.id, session_id=session.id, current_index=1)
    assert moved.current_index == 1
    with pytest.raises(InvalidInput):
        repo.update_session_progress(db, user_id=user.id, session_id=session.id, current_index=5)
    done = repo.finish_session(db, user_id=user.id, session_id=session.id)
    assert done.status == "finished" and done.finished_at is not None
    assert repo.finish_session(db, user_id=user.id, session_id=session.id, status="abandoned").status == "finished"
    with pytest.raises(InvalidInput, match="finished"):
        repo.store_attempt(db, user_id=user.id, question_id="q1", answer="late", session_id=session.id)
    assert [s.id for s in repo.list_sessions(db, user_id=user.id, status="finished")] == [session.id]


def test_it_rejects_a_plan_without_question_ids(db):
    user = make_user(db)
    with pytest.raises(InvalidInput, match="question_id"):
        repo.create_session(db, user_id=user.id, plan=[{"reason": "?"}])


# --- drafts and reviews ------------------------------------------------------------------------------


def test_drafts_are_saved_replaced_and_cleared_by_the_answer(db):
    user = make_user(db)
    session = repo.create_session(db, user_id=user.id, plan=[{"question_id": "q1", "reason": "x"}])
    repo.save_draft(db, user_id=user.id, question_id="q1", text="outside")
    repo.save_draft(db, user_id=user.id, question_id="q1", text="inside v1", session_id=session.id)
    repo.save_draft(db, user_id=user.id, question_id="q1", text="inside v2", session_id=session.id)
    assert repo.get_draft(db, user_id=user.id, question_id="q1").text == "outside"
    assert repo.get_draft(db, user_id=user.id, question_id="q1", session_id=session.id).text == "inside v2"
    assert len(repo.list_drafts(db, user_id=user.id)) == 2

    repo.store_attempt(db, user_id=user.id, question_id="q1", answer="inside v2", session_id=session.id)
    assert repo.find_draft(db, user_id=user.id, question_id="q1", session_id=session.id) is None
    assert repo.delete_draft(db, user_id=user.id, question_id="q1") is True
    with pytest.raises(NotFound):
        repo.get_draft(db, user_id=user.id, question_id="q1")


def test_review_cards_round_trip_and_come_due(db):
    user = make_user(db)
    card = fsrs.Card(due=T0)
    repo.upsert_review(db, user_id=user.id, question_id="q1", card=card.to_dict(), due_at=T0, last_rating=3)
    repo.upsert_review(
        db,
        user_id=user.id,
        question_id="q2",
        card=fsrs.Card(due=T0).to_dict(),
        due_at=T0 + timedelta(days=3),
        last_rating=2,
    )
    review = repo.get_review(db, user_id=user.id, question_id="q1")
    assert fsrs.Card.from_dict(review.card).due == T0
    assert [r.question_id for r in repo.list_due_reviews(db, user_id=user.id, now=T0 + timedelta(hours=1))] == ["q1"]

    updated = repo.upsert_review(
        db,
        user_id=user.id,
        question_id="q1",
        card=card.to_dict(),
        due_at=T0 + timedelta(days=9),
        last_rating=4,
        last_score=4.5,
    )
    assert (updated.last_rating, updated.last_score, updated.due_at) == (4, 4.5, T0 + timedelta(days=9))
    assert repo.find_review(db, user_id=user.id, question_id="nope") is None


# --- sign-in, tokens, rate limits, settings ----------------------------------------------------------


def test_sign_in_sessions_expire_and_end(db):
    user = make_user(db)
    token = repo.hash_token("cookie-value")
    created = repo.create_auth_session(
        db, user_id=user.id, token_hash=token, expires_at=T0 + timedelta(hours=8), ip="127.0.0.1", now=T0
    )
    found = repo.find_auth_session(db, token_hash=token, now=T0 + timedelta(hours=1))
    assert found is not None and found[1].id == user.id and found[0].id == created.id
    assert repo.find_auth_session(db, token_hash=token, now=T0 + timedelta(hours=9)) is None
    repo.touch_auth_session(db, session_id=created.id, now=T0 + timedelta(minutes=5))
    assert repo.list_auth_sessions(db, user_id=user.id)[0].last_seen_at == T0 + timedelta(minutes=5)
    assert repo.delete_auth_session(db, token_hash=token) is True
    assert repo.find_auth_session(db, token_hash=token, now=T0) is None


def test_signing_out_everywhere_can_keep_the_current_session(db):
    user, other = make_user(db, "ada"), make_user(db, "bob")
    keep = repo.create_auth_session(db, user_id=user.id, token_hash="a" * 64, expires_at=T0 + timedelta(days=1))
    repo.create_auth_session(db, user_id=user.id, token_hash="b" * 64, expires_at=T0 + timedelta(days=1))
    theirs = repo.create_auth_session(db, user_id=other.id, token_hash="c" * 64, expires_at=T0 + timedelta(days=1))
    assert repo.delete_auth_sessions(db, user_id=user.id, keep_session_id=keep.id) == 1
    with pytest.raises(NotFound):
        repo.end_auth_session(db, user_id=user.id, session_id=theirs.id)
    assert repo.delete_expired_auth_sessions(db, now=T0 + timedelta(days=2)) == 2


def test_api_tokens_are_found_by_hash_and_only_their_owner_deletes_them(db):
    ada, bob = make_user(db, "ada"), make_user(db, "bob")
    token = repo.create_api_token(db, user_id=ada.id, name="laptop", token_hash=repo.hash_token("secret"))
    found = repo.find_api_token(db, token_hash=repo.hash_token("secret"))
    assert found is not None and found[1].id == ada.id
    repo.record_api_token_use(db, token_id=token.id, now=T0)
    assert repo.list_api_tokens(db, user_id=ada.id)[0].last_used_at == T0
    with pytest.raises(NotFound):
        repo.delete_api_token(db, user_id=bob.id, token_id=token.id)
    repo.set_user_disabled(db, user_id=ada.id, disabled=True)
    assert repo.find_api_token(db, token_hash=repo.hash_token("secret")) is None
    repo.delete_api_token(db, user_id=ada.id, token_id=token.id)
    assert repo.list_api_tokens(db, user_id=ada.id) == []


def test_rate_limits_count_within_a_window_and_restart_after_it(db):
    window = timedelta(hours=1)
    key = "login:acct:42"
    assert [repo.hit_rate_limit(db, key=key, window=window, now=T0 + timedelta(minutes=m)) for m in (0, 1, 2)] == [
        1,
        2,
        3,
    ]
    assert repo.hit_rate_limit(db, key=key, window=window, now=T0 + timedelta(minutes=61)) == 1
    assert repo.find_rate_limit(db, key=key).window_start == T0 + timedelta(minutes=61)
    repo.clear_rate_limit(db, key=key)
    assert repo.find_rate_limit(db, key=key) is None
    repo.hit_rate_limit(db, key="login:ip:10.0.0.1", window=window, now=T0)
    assert repo.delete_stale_rate_limits(db, before=T0 + timedelta(seconds=1)) == 1


def test_concurrent_hits_on_one_rate_limit_are_all_counted(db):
    def hit():
        for _ in range(10):
            repo.hit_rate_limit(db, key="login:ip:1.2.3.4", window=timedelta(hours=1))

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert repo.find_rate_limit(db, key="login:ip:1.2.3.4").count == 40


def test_app_settings_hold_json_values(db):
    assert repo.find_app_setting(db, key="signup_open") is None
    with pytest.raises(NotFound):
        repo.get_app_setting(db, key="signup_open")
    repo.set_app_setting(db, key="signup_open", value=False)
    repo.set_app_setting(db, key="banner", value={"text": "Maintenance at 5", "level": "info"})
    repo.set_app_setting(db, key="signup_open", value=True)
    assert repo.list_app_settings(db) == {"banner": {"text": "Maintenance at 5", "level": "info"}, "signup_open": True}
    assert repo.delete_app_setting(db, key="banner") is True


def test_backup_of_postgresql_points_at_pg_dump(db, tmp_path):
    if db.is_sqlite:
        pytest.skip("PostgreSQL only")
    with pytest.raises(StorageError, match="pg_dump"):
        backup(db, tmp_path / "backup.db")

"""Answers: stored (and committed) before grading, graded or marked failed afterwards, flagged by users."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from coach.errors import InvalidInput, NotFound
from coach.storage.repository._base import (
    Target,
    count_rows,
    delete_rows,
    insert_or_find,
    now_or,
    owned,
    reading,
    writing,
)
from coach.storage.tables import ATTEMPT_KINDS, NO_SESSION, Attempt, Draft, InterviewSession

MAX_ERROR_CHARS = 2000


def store_attempt(
    db: Target,
    *,
    user_id: int,
    question_id: str,
    answer: str,
    session_id: str | None = None,
    kind: str = "answer",
    parent_id: str | None = None,
    prompt: str | None = None,
    target_key_points: Sequence[str] | None = None,
    seconds: float | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Attempt:
    """Save an answer with status 'stored'. With a Database target it is committed when this returns, so
    grade it only afterwards. A repeated `idempotency_key` returns the first attempt unchanged (a retried
    request must not store the answer twice). Storing an answer clears the matching draft.
    """
    if kind not in ATTEMPT_KINDS:
        raise InvalidInput(f"Attempt kind must be one of {', '.join(ATTEMPT_KINDS)}, not {kind!r}.")
    if kind == "follow_up" and parent_id is None:
        raise InvalidInput("A follow-up answer needs the id of the answer it follows (parent_id).")
    if not isinstance(answer, str):
        raise InvalidInput("The answer must be text.")
    with writing(db) as session:
        if idempotency_key:
            existing = _find_by_key(session, user_id, idempotency_key)
            if existing is not None:
                return existing
        if session_id is not None:
            interview = owned(
                session, InterviewSession, user_id=user_id, object_id=session_id, label="interview session"
            )
            if interview.status != "active":
                raise InvalidInput(
                    f"Interview session {session_id} is {interview.status}; start a new session to answer."
                )
        if parent_id is not None:
            owned(session, Attempt, user_id=user_id, object_id=parent_id, label="attempt")
        row = Attempt(
            user_id=user_id,
            session_id=session_id,
            question_id=question_id,
            parent_id=parent_id,
            kind=kind,
            prompt=prompt,
            target_key_points=list(target_key_points) if target_key_points is not None else None,
            answer=answer,
            seconds=seconds,
            status="stored",
            idempotency_key=idempotency_key or None,
            created_at=now_or(now),
        )
        stored = insert_or_find(
            session, row, lambda: _find_by_key(session, user_id, idempotency_key) if idempotency_key else None
        )
        if stored is not row:  # a concurrent retry with the same key committed first
            return stored
        if kind == "answer":
            delete_rows(session, Draft, user_id=user_id, session_id=session_id or NO_SESSION, question_id=question_id)
        return row


def save_grade(
    db: Target,
    *,
    attempt_id: str,
    grade: dict[str, Any],
    score: float | None,
    engine_version: str,
    counts_toward_progress: bool = True,
    now: datetime | None = None,
) -> Attempt:
    """Record the grade (JSON of the Grade) and mark the attempt 'graded'."""
    with writing(db) as session:
        row = _load(session, attempt_id)
        row.grade = grade
        row.score = score
        row.engine_version = engine_version
        row.counts_toward_progress = counts_toward_progress
        row.status = "graded"
        row.error = None
        row.graded_at = now_or(now)
        return row


def mark_attempt_failed(db: Target, *, attempt_id: str, error: str) -> Attempt:
    """Record why grading failed. An attempt that already has a grade keeps it (and its 'graded' status)."""
    with writing(db) as session:
        row = _load(session, attempt_id)
        row.error = error[:MAX_ERROR_CHARS]
        if row.status != "graded":
            row.status = "failed"
        return row


def list_ungraded_attempts(db: Target, *, user_id: int | None = None, limit: int | None = None) -> list[Attempt]:
    """Attempts still 'stored' or 'failed', oldest first: what `coach regrade` finishes."""
    stmt = select(Attempt).where(Attempt.status.in_(("stored", "failed")))
    if user_id is not None:
        stmt = stmt.where(Attempt.user_id == user_id)
    with reading(db) as session:
        return list(session.scalars(stmt.order_by(Attempt.created_at, Attempt.id).limit(limit)))


def list_attempts(
    db: Target,
    *,
    user_id: int,
    question_id: str | None = None,
    session_id: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
    summary: bool = False,
) -> list[Attempt]:
    """The user's attempts, oldest first (or newest first), a page of them with `offset` and `limit`.

    `summary` leaves the answer, the grade and the other large columns unloaded (reading one of them later
    raises), for lists that show only scores and dates: a history page of 50 out of 200 graded answers was
    ten times slower than the practice page when every grade was loaded and parsed (bench/pages_wrk.py).
    """
    stmt = select(Attempt).where(Attempt.user_id == user_id)
    if summary:
        stmt = stmt.options(*(defer(column, raiseload=True) for column in _LARGE_COLUMNS))
    if question_id is not None:
        stmt = stmt.where(Attempt.question_id == question_id)
    if session_id is not None:
        stmt = stmt.where(Attempt.session_id == session_id)
    if status is not None:
        stmt = stmt.where(Attempt.status == status)
    order = (Attempt.created_at.desc(), Attempt.id.desc()) if newest_first else (Attempt.created_at, Attempt.id)
    with reading(db) as session:
        return list(session.scalars(stmt.order_by(*order).offset(offset or None).limit(limit)))


_LARGE_COLUMNS = (Attempt.answer, Attempt.grade, Attempt.prompt, Attempt.target_key_points, Attempt.flag_comment)


def count_attempts(db: Target, *, user_id: int) -> int:
    """How many attempts the user has (without loading them)."""
    with reading(db) as session:
        return count_rows(session, Attempt, user_id=user_id)


def get_attempt(db: Target, *, user_id: int, attempt_id: str) -> Attempt:
    """The user's attempt; another user's attempt id is NotFound."""
    with reading(db) as session:
        return owned(session, Attempt, user_id=user_id, object_id=attempt_id, label="attempt")


def flag_grade(db: Target, *, user_id: int, attempt_id: str, wrong: bool = True, comment: str | None = None) -> Attempt:
    """The user marks a grade as wrong (with an optional comment), or takes the flag back."""
    with writing(db) as session:
        row = owned(session, Attempt, user_id=user_id, object_id=attempt_id, label="attempt")
        row.flagged_wrong = wrong
        row.flag_comment = (comment or None) if wrong else None
        return row


def list_flagged_attempts(db: Target, *, limit: int | None = None) -> list[Attempt]:
    """Grades users marked as wrong, newest first (for the operator)."""
    stmt = select(Attempt).where(Attempt.flagged_wrong.is_(True)).order_by(Attempt.created_at.desc()).limit(limit)
    with reading(db) as session:
        return list(session.scalars(stmt))


def _find_by_key(session: Session, user_id: int, key: str) -> Attempt | None:
    return session.scalar(select(Attempt).where(Attempt.user_id == user_id, Attempt.idempotency_key == key))


def _load(session: Session, attempt_id: str) -> Attempt:
    row = session.get(Attempt, attempt_id)
    if row is None:
        raise NotFound(f"No attempt {attempt_id!r}; it may have been deleted.")
    return row

"""Interview sessions: the plan of questions, where the user is in it, and how it ended."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from coach.errors import InvalidInput
from coach.storage.repository._base import Target, owned, reading, writing
from coach.storage.tables import SESSION_STATUSES, InterviewSession, utcnow


def create_session(
    db: Target,
    *,
    user_id: int,
    plan: Sequence[dict[str, Any]],
    role: str | None = None,
    level: str | None = None,
    seniority: str | None = None,
    minutes: int | None = None,
) -> InterviewSession:
    """Start a session; `plan` is a list of {"question_id": ..., "reason": ...}."""
    with writing(db) as session:
        row = InterviewSession(
            user_id=user_id,
            plan=_checked_plan(plan),
            role=role,
            level=level,
            seniority=seniority,
            minutes=minutes,
            status="active",
            current_index=0,
        )
        session.add(row)
        session.flush()
        return row


def get_session(db: Target, *, user_id: int, session_id: str) -> InterviewSession:
    """The user's session; another user's session id is NotFound."""
    with reading(db) as session:
        return owned(session, InterviewSession, user_id=user_id, object_id=session_id, label="interview session")


def list_sessions(
    db: Target, *, user_id: int, status: str | None = None, limit: int | None = None
) -> list[InterviewSession]:
    """Newest first."""
    stmt = select(InterviewSession).where(InterviewSession.user_id == user_id)
    if status is not None:
        stmt = stmt.where(InterviewSession.status == _checked_status(status))
    stmt = stmt.order_by(InterviewSession.created_at.desc(), InterviewSession.id).limit(limit)
    with reading(db) as session:
        return list(session.scalars(stmt))


def update_session_progress(
    db: Target,
    *,
    user_id: int,
    session_id: str,
    current_index: int,
    plan: Sequence[dict[str, Any]] | None = None,
) -> InterviewSession:
    """Move to question `current_index` (and replace the plan, e.g. after adding a follow-up)."""
    with writing(db) as session:
        row = owned(session, InterviewSession, user_id=user_id, object_id=session_id, label="interview session")
        if row.status != "active":
            raise InvalidInput(f"Interview session {session_id} is {row.status}; start a new session to go on.")
        new_plan = _checked_plan(plan) if plan is not None else row.plan
        if not 0 <= current_index <= len(new_plan):
            raise InvalidInput(f"Question index {current_index} is outside this session's {len(new_plan)} questions.")
        row.plan = new_plan
        row.current_index = current_index
        row.updated_at = utcnow()
        return row


def finish_session(db: Target, *, user_id: int, session_id: str, status: str = "finished") -> InterviewSession:
    """End a session as 'finished' or 'abandoned'; ending an ended session changes nothing."""
    if status not in ("finished", "abandoned"):
        raise InvalidInput(f"A session ends as 'finished' or 'abandoned', not {status!r}.")
    with writing(db) as session:
        row = owned(session, InterviewSession, user_id=user_id, object_id=session_id, label="interview session")
        if row.status == "active":
            row.status = status
            row.finished_at = row.updated_at = utcnow()
        return row


def _checked_status(status: str) -> str:
    if status not in SESSION_STATUSES:
        raise InvalidInput(f"Session status must be one of {', '.join(SESSION_STATUSES)}, not {status!r}.")
    return status


def _checked_plan(plan: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    checked = []
    for position, item in enumerate(plan):
        if not isinstance(item, dict) or not isinstance(item.get("question_id"), str) or not item["question_id"]:
            raise InvalidInput(f"Plan item {position} needs a question_id string, got {item!r}.")
        checked.append(dict(item))
    return checked

"""Unsent answers, saved as the user types so that a closed tab loses nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.errors import NotFound
from coach.storage.repository._base import Target, delete_rows, now_or, reading, upsert, writing
from coach.storage.tables import NO_SESSION, Draft


def save_draft(
    db: Target,
    *,
    user_id: int,
    question_id: str,
    text: str,
    session_id: str | None = None,
    now: datetime | None = None,
) -> Draft:
    """Create or replace the draft for this question (within `session_id`, or outside any session)."""
    sid = session_id or NO_SESSION
    with writing(db) as session:
        upsert(
            session,
            Draft,
            values={
                "user_id": user_id,
                "session_id": sid,
                "question_id": question_id,
                "text": text,
                "updated_at": now_or(now),
            },
            keys=["user_id", "session_id", "question_id"],
            update=["text", "updated_at"],
        )
        draft = _find(session, user_id, sid, question_id)
        assert draft is not None
        return draft


def find_draft(db: Target, *, user_id: int, question_id: str, session_id: str | None = None) -> Draft | None:
    with reading(db) as session:
        return _find(session, user_id, session_id or NO_SESSION, question_id)


def get_draft(db: Target, *, user_id: int, question_id: str, session_id: str | None = None) -> Draft:
    draft = find_draft(db, user_id=user_id, question_id=question_id, session_id=session_id)
    if draft is None:
        raise NotFound(f"No saved draft for question {question_id!r}.")
    return draft


def list_drafts(db: Target, *, user_id: int) -> list[Draft]:
    with reading(db) as session:
        return list(session.scalars(select(Draft).where(Draft.user_id == user_id).order_by(Draft.updated_at.desc())))


def delete_draft(db: Target, *, user_id: int, question_id: str, session_id: str | None = None) -> bool:
    """True if there was a draft to delete."""
    with writing(db) as session:
        return (
            delete_rows(session, Draft, user_id=user_id, session_id=session_id or NO_SESSION, question_id=question_id)
            > 0
        )


def _find(session: Session, user_id: int, session_id: str, question_id: str) -> Draft | None:
    stmt = select(Draft).where(
        Draft.user_id == user_id, Draft.session_id == session_id, Draft.question_id == question_id
    )
    return session.scalar(stmt.execution_options(populate_existing=True))

"""Spaced review: one fsrs card per user and question, and which cards are due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from coach.errors import NotFound
from coach.storage.repository._base import Target, now_or, reading, upsert, writing
from coach.storage.tables import Review


def find_review(db: Target, *, user_id: int, question_id: str) -> Review | None:
    with reading(db) as session:
        return session.get(Review, (user_id, question_id))


def get_review(db: Target, *, user_id: int, question_id: str) -> Review:
    review = find_review(db, user_id=user_id, question_id=question_id)
    if review is None:
        raise NotFound(f"Question {question_id!r} has no review schedule yet; answer it once to start one.")
    return review


def upsert_review(
    db: Target,
    *,
    user_id: int,
    question_id: str,
    card: dict[str, Any],
    due_at: datetime,
    last_rating: int,
    last_score: float | None = None,
    now: datetime | None = None,
) -> Review:
    """Create or replace the card (fsrs `Card.to_dict()`) of one question."""
    with writing(db) as session:
        upsert(
            session,
            Review,
            values={
                "user_id": user_id,
                "question_id": question_id,
                "card": card,
                "due_at": due_at,
                "last_rating": last_rating,
                "last_score": last_score,
                "updated_at": now_or(now),
            },
            keys=["user_id", "question_id"],
            update=["card", "due_at", "last_rating", "last_score", "updated_at"],
        )
        review = session.get(Review, (user_id, question_id), populate_existing=True)
        assert review is not None
        return review


def list_due_reviews(
    db: Target, *, user_id: int, now: datetime | None = None, limit: int | None = None
) -> list[Review]:
    """Cards due at `now`, most overdue first."""
    stmt = (
        select(Review)
        .where(Review.user_id == user_id, Review.due_at <= now_or(now))
        .order_by(Review.due_at, Review.question_id)
        .limit(limit)
    )
    with reading(db) as session:
        return list(session.scalars(stmt))


def list_reviews(db: Target, *, user_id: int) -> list[Review]:
    with reading(db) as session:
        return list(session.scalars(select(Review).where(Review.user_id == user_id).order_by(Review.question_id)))

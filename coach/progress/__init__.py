"""Progress over time: spaced review (scheduling), skill mastery, session history and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coach.bank.loader import Bank
from coach.progress.mastery import SkillMastery, counts, skill_mastery
from coach.progress.report import (
    SessionReport,
    build_report,
    find_session_id,
    render,
    render_html,
    render_markdown,
)
from coach.progress.scheduling import Scheduled, rating_for, schedule_review
from coach.storage import repository as repo
from coach.storage.db import Database


@dataclass(frozen=True)
class DueReview:
    question_id: str
    text: str
    due_at: datetime
    last_score: float | None


@dataclass(frozen=True)
class ProgressSummary:
    skills: tuple[SkillMastery, ...]  # weakest first
    due: tuple[DueReview, ...]  # most overdue first
    upcoming: tuple[DueReview, ...]  # next reviews not yet due, soonest first
    answers: int  # graded answers that count toward progress
    sessions: int


def load_progress(db: Database, *, bank: Bank, user_id: int, now: datetime) -> ProgressSummary:
    """Skill mastery, reviews due now and coming up, and counts, for `coach progress`."""
    attempts = repo.list_attempts(db, user_id=user_id)
    reviews = repo.list_reviews(db, user_id=user_id)

    def due_review(r: Any) -> DueReview:
        question = bank.find(r.question_id)
        return DueReview(r.question_id, question.text if question else r.question_id, r.due_at, r.last_score)

    ordered = sorted(reviews, key=lambda r: (r.due_at, r.question_id))
    return ProgressSummary(
        skills=tuple(skill_mastery(attempts, bank)),
        due=tuple(due_review(r) for r in ordered if r.due_at <= now),
        upcoming=tuple(due_review(r) for r in ordered if r.due_at > now)[:5],
        answers=sum(1 for a in attempts if counts(a)),
        sessions=len(repo.list_sessions(db, user_id=user_id)),
    )


def session_history(db: Database, *, user_id: int, limit: int | None = None) -> list[dict[str, Any]]:
    """Sessions, newest first, each with its attempts (oldest first) and average score, as JSON-ready data."""
    sessions = repo.list_sessions(db, user_id=user_id, limit=limit)
    attempts = repo.list_attempts(db, user_id=user_id)
    by_session: dict[str, list[Any]] = {}
    for a in attempts:
        if a.session_id:
            by_session.setdefault(a.session_id, []).append(a)
    history = []
    for s in sessions:
        rows = by_session.get(s.id, [])
        scores = [a.score for a in rows if counts(a)]
        history.append(
            {
                "id": s.id,
                "status": s.status,
                "started": s.created_at.isoformat(),
                "finished": s.finished_at.isoformat() if s.finished_at else None,
                "role": s.role,
                "level": s.level,
                "seniority": s.seniority,
                "questions": len(s.plan),
                "answered": sum(1 for a in rows if a.kind == "answer"),
                "average": round(sum(scores) / len(scores), 2) if scores else None,
                "attempts": [
                    {
                        "id": a.id,
                        "question_id": a.question_id,
                        "kind": a.kind,
                        "prompt": a.prompt,
                        "status": a.status,
                        "score": a.score,
                        "counts_toward_progress": a.counts_toward_progress,
                        "seconds": a.seconds,
                        "created": a.created_at.isoformat(),
                    }
                    for a in rows
                ],
            }
        )
    return history


__all__ = [
    "DueReview",
    "ProgressSummary",
    "Scheduled",
    "SessionReport",
    "SkillMastery",
    "build_report",
    "find_session_id",
    "load_progress",
    "rating_for",
    "render",
    "render_html",
    "render_markdown",
    "schedule_review",
    "session_history",
    "skill_mastery",
]

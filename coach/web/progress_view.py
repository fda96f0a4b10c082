"""What the dashboard shows: progress (from coach.progress), recent attempts, due reviews and presets.

This module only gathers figures the core computes; it does no scoring arithmetic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coach.bank.loader import Bank
from coach.bank.schema import Question
from coach.progress import DueReview, SkillMastery, load_progress
from coach.storage import repository
from coach.storage.tables import Attempt, InterviewSession, User, utcnow
from coach.web.deps import Services
from coach.web.render import PASS_MARK


@dataclass(frozen=True)
class Preset:
    title: str
    description: str
    href: str
    kind: str = "question"  # "question" (one question) or "interview" (a mock interview)


@dataclass
class Dashboard:
    attempts: int
    answers: int  # graded answers that count toward progress
    practised: int
    passing: int
    bank_size: int
    sessions: int
    skills: tuple[SkillMastery, ...] = ()
    recent: list[tuple[Attempt, Question | None]] = field(default_factory=list)
    due: tuple[DueReview, ...] = ()
    upcoming: tuple[DueReview, ...] = ()
    presets: list[Preset] = field(default_factory=list)
    drafts: list[tuple[str, Question]] = field(default_factory=list)
    active_session: InterviewSession | None = None

    @property
    def is_new(self) -> bool:
        return self.attempts == 0 and self.sessions == 0


def dashboard(services: Services, user: User) -> Dashboard:
    bank = services.bank
    progress = load_progress(services.db, bank=bank, user_id=user.id, now=utcnow())
    attempts = repository.list_attempts(services.db, user_id=user.id)
    latest: dict[str, Attempt] = {}
    for attempt in attempts:
        if attempt.status == "graded" and attempt.kind == "answer":
            latest[attempt.question_id] = attempt  # oldest first, so the newest one wins
    drafts = [
        (draft.question_id, question)
        for draft in repository.list_drafts(services.db, user_id=user.id)
        if not draft.session_id and (question := bank.find(draft.question_id)) is not None
    ][:3]
    active = repository.list_sessions(services.db, user_id=user.id, status="active", limit=1)
    return Dashboard(
        attempts=len(attempts),
        answers=progress.answers,
        practised=len(latest),
        passing=sum(1 for a in latest.values() if a.score is not None and a.score >= PASS_MARK),
        bank_size=len(bank),
        sessions=progress.sessions,
        skills=progress.skills[:6],
        recent=[(a, bank.find(a.question_id)) for a in attempts[::-1][:5]],
        due=progress.due[:6],
        upcoming=progress.upcoming[:3],
        presets=presets(bank, latest),
        drafts=drafts,
        active_session=active[0] if active else None,
    )


def presets(bank: Bank, latest: dict[str, Attempt]) -> list[Preset]:
    """Ready-made next steps: mock interviews per role, a warm-up question, and questions not passed yet."""
    items: list[Preset] = []
    roles = sorted({(q.role, q.role_title) for q in bank.questions})
    for role, title in roles:
        items.append(
            Preset(
                f"Mock interview: {title}",
                "Four intermediate questions with follow-ups, about 15 minutes.",
                f"/interviews/new?role={role}&level=intermediate&count=4",
                "interview",
            )
        )
    items.append(Preset("Warm-up question", "One beginner question to get going.", "/practice?level=beginner"))
    items.append(
        Preset("Stretch question", "One advanced question: scenario, leadership or depth.", "/practice?level=advanced")
    )
    weak = [qid for qid, a in latest.items() if a.score is not None and a.score < PASS_MARK]
    if weak:
        items.insert(0, Preset("Try again", "A question you have not passed yet.", f"/practice/{weak[-1]}"))
    return items

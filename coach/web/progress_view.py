"""What the dashboard shows: progress in numbers, recent attempts, due reviews and presets for a next session.

Figures come from the repository (and from coach.progress once it lands); this module only gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coach.bank.loader import Bank
from coach.bank.schema import Question
from coach.storage import repository
from coach.storage.tables import Attempt, Review, User
from coach.web.deps import Services
from coach.web.render import PASS_MARK


@dataclass(frozen=True)
class Preset:
    title: str
    description: str
    href: str


@dataclass
class Dashboard:
    attempts: int
    graded: int
    practised: int
    passing: int
    bank_size: int
    recent: list[tuple[Attempt, Question | None]] = field(default_factory=list)
    due: list[tuple[Review, Question]] = field(default_factory=list)
    presets: list[Preset] = field(default_factory=list)
    drafts: list[tuple[str, Question]] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        return self.attempts == 0


def dashboard(services: Services, user: User) -> Dashboard:
    bank = services.bank
    attempts = repository.list_attempts(services.db, user_id=user.id)
    graded = [a for a in attempts if a.status == "graded"]
    latest: dict[str, Attempt] = {}
    for attempt in graded:
        latest[attempt.question_id] = attempt  # oldest first, so the last one wins
    due = [
        (review, question)
        for review in repository.list_due_reviews(services.db, user_id=user.id, limit=6)
        if (question := bank.find(review.question_id)) is not None
    ]
    drafts = [
        (draft.question_id, question)
        for draft in repository.list_drafts(services.db, user_id=user.id)
        if not draft.session_id and (question := bank.find(draft.question_id)) is not None
    ][:3]
    return Dashboard(
        attempts=len(attempts),
        graded=len(graded),
        practised=len(latest),
        passing=sum(1 for a in latest.values() if a.score is not None and a.score >= PASS_MARK),
        bank_size=len(bank),
        recent=[(a, bank.find(a.question_id)) for a in attempts[::-1][:5]],
        due=due,
        presets=presets(bank, latest),
        drafts=drafts,
    )


def presets(bank: Bank, latest: dict[str, Attempt]) -> list[Preset]:
    """Ready-made choices for the next question: a warm-up, each role, and questions not answered well yet."""
    items = [Preset("Warm-up", "A beginner question to get going.", "/practice?level=beginner")]
    for role in sorted({q.role for q in bank.questions}):
        title = next(q.role_title for q in bank.questions if q.role == role)
        items.append(
            Preset(title, "An intermediate question for this role.", f"/practice?role={role}&level=intermediate")
        )
    items.append(
        Preset("Stretch", "An advanced question: scenario, leadership or technical depth.", "/practice?level=advanced")
    )
    weak = [qid for qid, a in latest.items() if a.score is not None and a.score < PASS_MARK]
    if weak:
        items.insert(0, Preset("Try again", "A question you have not passed yet.", f"/practice/{weak[0]}"))
    return items

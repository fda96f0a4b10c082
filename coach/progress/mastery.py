"""Per-skill mastery from graded answers: a recency-weighted mean of scores, with a trend.

Only main answers that count toward progress are used: gamed answers (copies, keyword lists, injections,
off-topic replies) never raise mastery, and follow-up replies are graded against a few points only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from coach.bank.schema import Question

Trend = Literal["new", "up", "down", "steady"]

DECAY = 0.7  # each older answer weighs 0.7 of the next newer one
TREND_WINDOW = 3
TREND_STEP = 0.5  # a change of half a point (one score step) counts as a trend
WEAK_BELOW = 0.6  # mastery under 60% (a recent average under about 3.4 / 5) is a weak skill


class GradedAttempt(Protocol):
    """What mastery reads from a stored attempt (storage rows satisfy it)."""

    question_id: str
    kind: str
    status: str
    score: float | None
    counts_toward_progress: bool
    created_at: datetime


class QuestionLookup(Protocol):
    def find(self, question_id: str) -> Question | None: ...


@dataclass(frozen=True)
class SkillMastery:
    skill: str
    mastery: float  # 0..1; 1 means recent answers scored 5 / 5
    attempts: int
    last_score: float
    recent: tuple[float, ...]  # scores, oldest first (at most the last 10)
    trend: Trend

    @property
    def weak(self) -> bool:
        return self.mastery < WEAK_BELOW


def counts(attempt: GradedAttempt) -> bool:
    """Whether an attempt feeds mastery and the review schedule."""
    return (
        attempt.kind == "answer"
        and attempt.status == "graded"
        and attempt.score is not None
        and bool(attempt.counts_toward_progress)
    )


def skill_mastery(attempts: Iterable[GradedAttempt], bank: QuestionLookup) -> list[SkillMastery]:
    """Mastery of every skill the user has answered questions on, weakest first."""
    scores: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for attempt in attempts:
        if not counts(attempt):
            continue
        question = bank.find(attempt.question_id)
        if question is None:  # a question since removed from the bank
            continue
        for skill in question.skills:
            scores[skill].append((attempt.created_at, float(attempt.score)))  # type: ignore[arg-type]
    result = [_summarise(skill, [s for _, s in sorted(items, key=lambda i: i[0])]) for skill, items in scores.items()]
    result.sort(key=lambda m: (m.mastery, -m.attempts, m.skill))
    return result


def _summarise(skill: str, ordered: list[float]) -> SkillMastery:
    weights = [DECAY ** (len(ordered) - 1 - i) for i in range(len(ordered))]
    mean = sum(w * s for w, s in zip(weights, ordered, strict=True)) / sum(weights)
    return SkillMastery(
        skill=skill,
        mastery=round((mean - 1.0) / 4.0, 4),
        attempts=len(ordered),
        last_score=ordered[-1],
        recent=tuple(ordered[-10:]),
        trend=trend(ordered),
    )


def trend(ordered: list[float]) -> Trend:
    """The newest score against the mean of the (up to three) before it."""
    if len(ordered) < 2:
        return "new"
    before = ordered[-1 - TREND_WINDOW : -1]
    change = ordered[-1] - sum(before) / len(before)
    if change >= TREND_STEP:
        return "up"
    if change <= -TREND_STEP:
        return "down"
    return "steady"

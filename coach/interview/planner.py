"""Which questions a session asks, in what order, and why. Pure: bank + history summary + now -> Plan.

Order of preference: reviews that are due (most overdue first), then questions on the weakest skills,
then questions the person has not seen, then extra practice on seen questions whose review is not due.
A job description lifts matching questions within those groups (and can put a matching new question
ahead of an unrelated weak-skill one). Each pick lowers the appeal of more questions of the same type
or skills, so a session mixes behavioural, situational and technical questions.
"""

from __future__ import annotations

import difflib
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from coach.bank.loader import Bank
from coach.bank.schema import CATEGORIES, LEVELS, SENIORITIES, Question
from coach.errors import InvalidInput
from coach.interview.jobs import JobMatch, JobProfile, match_question

Source = Literal["review", "weak-skill", "new", "practice"]

DEFAULT_COUNT = 5
MAX_COUNT = 30
MIN_MINUTES, MAX_MINUTES = 3, 240
FOLLOW_UP_SECONDS = 90
WEAK_BELOW = 0.6
# Group bases are far enough apart that only a job-description match (up to JOB_WEIGHT) crosses them.
BASE: dict[Source, float] = {"review": 10.0, "weak-skill": 2.0, "new": 1.0, "practice": 0.0}
JOB_WEIGHT = 1.5
SAME_TYPE_PENALTY = 0.6
SHARED_SKILL_PENALTY = 0.25


@dataclass(frozen=True)
class PlanRequest:
    role: str | None = None
    level: str | None = None
    seniority: str | None = None
    categories: tuple[str, ...] = ()
    count: int | None = None
    minutes: int | None = None
    follow_ups: bool = True
    job: JobProfile | None = None


@dataclass(frozen=True)
class QuestionHistory:
    """What the person has done with one question."""

    last_score: float | None = None
    last_answered: datetime | None = None
    due_at: datetime | None = None  # None: no review scheduled


@dataclass(frozen=True)
class History:
    """The summary of past practice the planner needs (built from storage by `interview.session`)."""

    questions: Mapping[str, QuestionHistory] = field(default_factory=dict)
    mastery: Mapping[str, float] = field(default_factory=dict)  # skill -> 0..1, only skills practised

    def seen(self, question_id: str) -> bool:
        return question_id in self.questions


@dataclass(frozen=True)
class PlanItem:
    question_id: str
    source: Source
    reason: str
    seconds: int  # time budget for the answer
    job_terms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "question_id": self.question_id,
            "source": self.source,
            "reason": self.reason,
            "seconds": self.seconds,
            "job_terms": list(self.job_terms),
        }


@dataclass(frozen=True)
class Plan:
    items: tuple[PlanItem, ...]
    request: PlanRequest
    notes: tuple[str, ...] = ()

    @property
    def seconds(self) -> int:
        return sum(i.seconds for i in self.items)


def answer_seconds(question: Question) -> int:
    """A spoken answer's time budget: longer for harder questions and for stories."""
    base = {"beginner": 180, "intermediate": 240, "advanced": 300}[question.level]
    if question.type in ("behavioral", "leadership"):
        base += 60
    return base


def check_request(bank: Bank, request: PlanRequest) -> None:
    """Raise InvalidInput naming the fix for a role, level, seniority, category, count or minutes that cannot work."""
    roles = sorted({q.role for q in bank.questions})
    if request.role is not None and request.role not in roles:
        close = difflib.get_close_matches(request.role, roles, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InvalidInput(f"Unknown role {request.role!r}.{hint} Choose one of: {', '.join(roles)}.")
    for value, allowed, name in (
        (request.level, LEVELS, "level"),
        (request.seniority, SENIORITIES, "seniority"),
        *((c, CATEGORIES, "category") for c in request.categories),
    ):
        if value is not None and value not in allowed:
            raise InvalidInput(f"Unknown {name} {value!r}; choose one of: {', '.join(allowed)}.")
    if request.count is not None and not 1 <= request.count <= MAX_COUNT:
        raise InvalidInput(f"--count must be between 1 and {MAX_COUNT}; got {request.count}.")
    if request.minutes is not None and not MIN_MINUTES <= request.minutes <= MAX_MINUTES:
        raise InvalidInput(f"--minutes must be between {MIN_MINUTES} and {MAX_MINUTES}; got {request.minutes}.")


def candidates(bank: Bank, request: PlanRequest) -> list[Question]:
    return [
        q
        for q in bank.questions
        if (request.role is None or q.role == request.role)
        and (request.level is None or q.level == request.level)
        and (request.seniority is None or q.seniority == request.seniority)
        and (not request.categories or q.category in request.categories)
    ]


def plan_session(bank: Bank, request: PlanRequest, history: History, now: datetime) -> Plan:
    """Choose and order the session's questions, each with the reason it was picked."""
    check_request(bank, request)
    pool = candidates(bank, request)
    if not pool:
        raise InvalidInput(
            f"No question matches {_describe(request)}. Try fewer filters; `coach bank stats` shows what exists."
        )
    notes: list[str] = []
    job_matches = {q.id: match_question(request.job, q) for q in pool} if request.job else {}
    if request.job is not None:
        if request.job.empty or not any(m.score for m in job_matches.values()):
            notes.append("Nothing in the job description matches these questions' topics; planned as usual.")
        else:
            shown = ", ".join([*request.job.skills[:6], *request.job.terms[: max(0, 6 - len(request.job.skills))]])
            notes.append(f"From the job description: {shown}.")

    seed = now.date().isoformat()
    scored = {q.id: _classify(q, history, now, job_matches.get(q.id), seed) for q in pool}
    by_id = {q.id: q for q in pool}
    count = request.count or (None if request.minutes else DEFAULT_COUNT)
    budget = request.minutes * 60 if request.minutes else None
    extra = FOLLOW_UP_SECONDS if request.follow_ups else 0

    chosen: list[Question] = []
    picked: set[str] = set()
    types: Counter[str] = Counter()
    skills: Counter[str] = Counter()
    used = 0
    while len(chosen) < len(pool) and (count is None or len(chosen) < count):
        best_id = max(
            (qid for qid in scored if qid not in picked),
            key=lambda qid: (_appeal(scored[qid], by_id[qid], types, skills), qid),
        )
        question = by_id[best_id]
        cost = answer_seconds(question) + extra
        if budget is not None and count is None and chosen and used + cost > budget:
            break
        chosen.append(question)
        picked.add(question.id)
        used += cost
        types[question.type] += 1
        skills.update(question.skills)

    if count is not None and len(chosen) < count:
        notes.append(f"Only {len(chosen)} question(s) match {_describe(request)}; the session has {len(chosen)}.")
    scale = 1.0
    if budget is not None and count is not None and used:
        scale = budget / used  # --count and --minutes together: share the minutes out by each question's weight
    items = tuple(
        PlanItem(
            question_id=q.id,
            source=scored[q.id].source,
            reason=scored[q.id].reason,
            seconds=max(60, int(round(answer_seconds(q) * scale / 10.0)) * 10),
            job_terms=scored[q.id].job_terms,
        )
        for q in chosen
    )
    return Plan(items=items, request=request, notes=tuple(notes))


@dataclass(frozen=True)
class _Scored:
    source: Source
    base: float
    reason: str
    job_terms: tuple[str, ...]
    skills_weak: tuple[str, ...]


def _classify(question: Question, history: History, now: datetime, job: JobMatch | None, seed: str) -> _Scored:
    past = history.questions.get(question.id)
    weak = sorted(
        (s for s in question.skills if s in history.mastery and history.mastery[s] < WEAK_BELOW),
        key=lambda s: (history.mastery[s], s),
    )
    jitter = int(hashlib.sha256(f"{seed}:{question.id}".encode()).hexdigest()[:6], 16) / 0xFFFFFF / 100
    job_bonus = JOB_WEIGHT * job.score if job else 0.0
    source: Source
    if past is not None and past.due_at is not None and past.due_at <= now:
        overdue = (now - past.due_at).total_seconds() / 86400
        source, base = "review", BASE["review"] + min(overdue, 60.0) / 60
        reason = f"Due for review since {_day(past.due_at)}" + (
            f": you scored {past.last_score:g}/5 on {_day(past.last_answered)}."
            if past.last_score is not None and past.last_answered
            else "."
        )
    elif weak and (past is None or past.due_at is None):
        lowest = weak[0]
        source, base = "weak-skill", BASE["weak-skill"] + (WEAK_BELOW - history.mastery[lowest])
        names = " and ".join(f"'{s}' (mastery {history.mastery[s]:.0%})" for s in weak[:2])
        reason = f"Practises {'weak skills' if len(weak) > 1 else 'a weak skill'}: {names}."
    elif past is None:
        source, base = "new", BASE["new"]
        reason = f"New to you: {', '.join(question.skills[:3])}."
    else:
        source = "practice"
        soon = (past.due_at - now).total_seconds() / 86400 if past.due_at else 365.0
        base = BASE["practice"] + max(0.0, 0.5 - soon / 60)
        last = f"last scored {past.last_score:g}/5" if past.last_score is not None else "answered before"
        when = f", next review {_day(past.due_at)}" if past.due_at else ""
        reason = f"Extra practice ({last}{when})."
    terms: tuple[str, ...] = ()
    if job and job.score > 0:
        terms = job.matched[:4]
        reason += f" Matches the job description: {', '.join(terms)}."
    return _Scored(source, base + job_bonus + jitter, reason, terms, tuple(weak))


def _appeal(scored: _Scored, question: Question, types: Counter[str], skills: Counter[str]) -> float:
    shared = sum(1 for s in question.skills if skills[s])
    penalty = SAME_TYPE_PENALTY * types[question.type] + SHARED_SKILL_PENALTY * min(shared, 2)
    if scored.source == "review":
        penalty = min(penalty, 1.0)  # variety reorders due reviews but never pushes them behind new questions
    return scored.base - penalty


def _day(moment: datetime | None) -> str:
    return f"{moment.day} {moment:%b %Y}" if moment else "an earlier session"


def _describe(request: PlanRequest) -> str:
    parts = [
        f"{name} {value!r}"
        for name, value in (("role", request.role), ("level", request.level), ("seniority", request.seniority))
        if value
    ]
    if request.categories:
        parts.append(f"category {' or '.join(request.categories)}")
    return ", ".join(parts) if parts else "the bank"


def plan_to_dicts(plan: Plan | Sequence[PlanItem]) -> list[dict[str, object]]:
    items = plan.items if isinstance(plan, Plan) else plan
    return [item.to_dict() for item in items]

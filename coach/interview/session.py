"""The interview as a small state machine over the repository: ask, store the answer, grade it, maybe
follow up, move on, finish. Every step is committed, so a session resumes from the database alone.

State lives in the session row: `current_index` points at the plan item being asked, and a plan item
gains a "follow_up" entry (a FollowUp dict, or None for "no follow-up") once its answer is graded.
An answer is stored (committed) before it is graded; if grading fails the attempt keeps its status
('stored' or 'failed') and `regrade_attempts` finishes it later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from coach.bank.loader import Bank
from coach.bank.schema import Question
from coach.errors import CoachError, InvalidInput, NotFound
from coach.grading.model import Grade
from coach.grading.text import check_answer
from coach.interview.followups import FollowUp, choose_follow_up, reduced_question
from coach.interview.planner import History, Plan, QuestionHistory, answer_seconds, plan_to_dicts
from coach.progress.mastery import counts, skill_mastery
from coach.progress.scheduling import schedule_review
from coach.storage import repository as repo
from coach.storage.db import Database
from coach.storage.tables import Attempt, InterviewSession, utcnow

log = logging.getLogger(__name__)

Kind = Literal["question", "follow_up"]
FOLLOW_UP_DRAFT = "#follow-up"


class Grades(Protocol):
    def grade(self, question: Question, answer: str, *, seconds: float | None = None) -> Grade: ...


@dataclass(frozen=True)
class Ask:
    """What to ask next."""

    kind: Kind
    number: int  # 1-based position in the plan
    total: int
    question: Question
    prompt: str  # the question's text, or the follow-up
    reason: str  # why the planner picked the question
    seconds: int  # time budget for the answer
    draft: str | None  # text saved while the person was typing, restored on resume
    follow_up: FollowUp | None = None

    @property
    def draft_key(self) -> str:
        return self.question.id + (FOLLOW_UP_DRAFT if self.kind == "follow_up" else "")


@dataclass(frozen=True)
class Outcome:
    """What happened to a submitted answer."""

    kind: Kind
    attempt_id: str
    question: Question
    grade: Grade | None  # None when grading failed (the answer is stored; `coach regrade` finishes it)
    error: str | None
    follow_up: FollowUp | None = None  # asked next
    review_due: datetime | None = None


@dataclass(frozen=True)
class RegradeSummary:
    graded: int
    failed: tuple[tuple[str, str], ...]  # (attempt id, why)


class Interview:
    """One interview session for one user; every method reads and commits through the repository."""

    def __init__(
        self,
        db: Database,
        *,
        bank: Bank,
        grader: Grades,
        user_id: int,
        session_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.bank, self.grader, self.user_id, self.session_id = db, bank, grader, user_id, session_id
        self.clock = clock

    @classmethod
    def start(
        cls,
        db: Database,
        *,
        bank: Bank,
        grader: Grades,
        user_id: int,
        plan: Plan,
        clock: Callable[[], datetime] = utcnow,
    ) -> Interview:
        if not plan.items:
            raise InvalidInput("The plan has no questions; choose other filters.")
        items = plan_to_dicts(plan)
        for item in items:
            item["follow_ups"] = plan.request.follow_ups
        request = plan.request
        row = repo.create_session(
            db,
            user_id=user_id,
            plan=items,
            role=request.role,
            level=request.level,
            seniority=request.seniority,
            minutes=request.minutes,
        )
        return cls(db, bank=bank, grader=grader, user_id=user_id, session_id=row.id, clock=clock)

    @classmethod
    def resume(
        cls,
        db: Database,
        *,
        bank: Bank,
        grader: Grades,
        user_id: int,
        session_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Interview:
        """The given session, or the newest unfinished one."""
        if session_id is None:
            active = repo.list_sessions(db, user_id=user_id, status="active", limit=1)
            if not active:
                raise NotFound("No unfinished interview session to resume; start one with `coach practice`.")
            session_id = active[0].id
        row = repo.get_session(db, user_id=user_id, session_id=session_id)
        if row.status != "active":
            raise InvalidInput(
                f"Interview session {session_id} is {row.status}; `coach report {session_id[:8]}` shows it, "
                "and `coach practice` starts a new one."
            )
        return cls(db, bank=bank, grader=grader, user_id=user_id, session_id=session_id, clock=clock)

    # --- reading the state ---------------------------------------------------------------------------

    def session(self) -> InterviewSession:
        return repo.get_session(self.db, user_id=self.user_id, session_id=self.session_id)

    def next_prompt(self) -> Ask | None:
        """What to ask now, or None when every question is done. Finishes work a crash interrupted (grades
        an answer that was stored but not graded) before answering."""
        for _ in range(4 * len(self.session().plan) + 4):  # each pass moves the state on, or returns
            row = self.session()
            if row.status != "active" or row.current_index >= len(row.plan):
                return None
            index, item = row.current_index, row.plan[row.current_index]
            question = self.bank.find(item["question_id"])
            if question is None:  # its pack was removed since the session started
                self._advance(row, index)
                continue
            answer = self._attempt(question.id, "answer")
            if answer is None:
                return self._ask("question", row, index, question)
            if "follow_up" not in item:
                self._after_answer(row, index, question, answer)
                continue
            follow_up = FollowUp.from_dict(item["follow_up"]) if item.get("follow_up") else None
            if follow_up is None or item.get("follow_up_skipped"):
                self._advance(row, index)
                continue
            reply = self._attempt(question.id, "follow_up")
            if reply is None:
                return self._ask("follow_up", row, index, question, follow_up)
            if reply.status == "stored":
                self._grade_and_save(reply, reduced_question(question, follow_up))
            self._advance(row, index)
        raise CoachError(f"Interview session {self.session_id} did not move on; its plan may be damaged.")

    # --- changing it -------------------------------------------------------------------------------

    def save_draft(self, ask: Ask, text: str) -> None:
        """Keep what the person has typed so far (autosaved every few seconds while they type)."""
        repo.save_draft(
            self.db,
            user_id=self.user_id,
            session_id=self.session_id,
            question_id=ask.draft_key,
            text=text,
            now=self.clock(),
        )

    def submit(self, text: str, *, seconds: float | None = None) -> Outcome:
        """Answer what `next_prompt()` asks: store it (committed), grade it, then follow up or move on.

        Raises InvalidInput, before storing anything, for an answer the grader cannot read (empty, binary,
        too long, not English); the draft is kept so the person can fix it."""
        ask = self.next_prompt()
        if ask is None:
            raise InvalidInput(
                "This interview session has no question left to answer; `coach practice` starts a new one."
            )
        check_answer(text)
        row = self.session()
        index = row.current_index
        kind = "answer" if ask.kind == "question" else "follow_up"
        parent = self._attempt(ask.question.id, "answer") if kind == "follow_up" else None
        attempt = repo.store_attempt(
            self.db,
            user_id=self.user_id,
            session_id=self.session_id,
            question_id=ask.question.id,
            answer=text,
            kind=kind,
            parent_id=parent.id if parent else None,
            prompt=ask.follow_up.prompt if ask.follow_up else None,
            target_key_points=ask.follow_up.target_key_points if ask.follow_up else None,
            seconds=seconds,
            idempotency_key=f"{self.session_id}:{index}:{kind}",
            now=self.clock(),
        )
        if kind == "follow_up":
            repo.delete_draft(self.db, user_id=self.user_id, session_id=self.session_id, question_id=ask.draft_key)
            assert ask.follow_up is not None
            grade, error = self._grade_and_save(attempt, reduced_question(ask.question, ask.follow_up))
            self._advance(row, index)
            return Outcome("follow_up", attempt.id, ask.question, grade, error)
        return self._after_answer(row, index, ask.question, attempt)

    def skip(self) -> None:
        """Skip what is being asked: the question (nothing is stored) or its follow-up."""
        ask = self.next_prompt()
        if ask is None:
            return
        row = self.session()
        repo.delete_draft(self.db, user_id=self.user_id, session_id=self.session_id, question_id=ask.draft_key)
        if ask.kind == "follow_up":
            plan = [dict(item) for item in row.plan]
            plan[row.current_index]["follow_up_skipped"] = True
            repo.update_session_progress(
                self.db,
                user_id=self.user_id,
                session_id=self.session_id,
                current_index=row.current_index + 1,
                plan=plan,
            )
        else:
            self._advance(row, row.current_index)

    def finish(self, *, abandoned: bool = False) -> InterviewSession:
        return repo.finish_session(
            self.db, user_id=self.user_id, session_id=self.session_id, status="abandoned" if abandoned else "finished"
        )

    # --- internals -----------------------------------------------------------------------------------

    def _ask(
        self, kind: Kind, row: InterviewSession, index: int, question: Question, follow_up: FollowUp | None = None
    ) -> Ask:
        item = row.plan[index]
        key = question.id + (FOLLOW_UP_DRAFT if kind == "follow_up" else "")
        draft = repo.find_draft(self.db, user_id=self.user_id, session_id=self.session_id, question_id=key)
        seconds = int(item.get("seconds") or answer_seconds(question))
        return Ask(
            kind=kind,
            number=index + 1,
            total=len(row.plan),
            question=question,
            prompt=follow_up.prompt if follow_up else question.text,
            reason=str(item.get("reason") or ""),
            seconds=max(60, round(seconds / 30) * 10) if follow_up else seconds,
            draft=draft.text if draft and draft.text.strip() else None,
            follow_up=follow_up,
        )

    def _attempt(self, question_id: str, kind: str) -> Attempt | None:
        rows = repo.list_attempts(self.db, user_id=self.user_id, session_id=self.session_id, question_id=question_id)
        return next((a for a in rows if a.kind == kind), None)

    def _after_answer(self, row: InterviewSession, index: int, question: Question, attempt: Attempt) -> Outcome:
        """Grade a stored answer (unless a crash left it graded), schedule its review, decide the follow-up."""
        grade: Grade | None = None
        error = attempt.error
        if attempt.status == "stored":
            grade, error = self._grade_and_save(attempt, question)
        elif attempt.status == "graded" and attempt.grade:
            grade = Grade.model_validate(attempt.grade)
        due = self._schedule(attempt, grade) if grade is not None else None
        item = dict(row.plan[index])
        follow_up = None
        if grade is not None and item.get("follow_ups", True):
            follow_up = choose_follow_up(question, grade, embedder=getattr(self.grader, "embedder", None))
        item["follow_up"] = follow_up.to_dict() if follow_up else None
        plan = [dict(p) for p in row.plan]
        plan[index] = item
        repo.update_session_progress(
            self.db,
            user_id=self.user_id,
            session_id=self.session_id,
            current_index=index if follow_up else index + 1,
            plan=plan,
        )
        return Outcome("question", attempt.id, question, grade, error, follow_up, due)

    def _grade_and_save(self, attempt: Attempt, question: Question) -> tuple[Grade | None, str | None]:
        try:
            grade = self.grader.grade(question, attempt.answer, seconds=attempt.seconds)
        except CoachError as exc:
            repo.mark_attempt_failed(self.db, attempt_id=attempt.id, error=exc.message)
            return None, exc.message
        except Exception as exc:  # the answer is safe in the database; `coach regrade` retries it
            log.exception("Grading attempt %s failed", attempt.id)
            message = f"{type(exc).__name__}: {exc}"
            repo.mark_attempt_failed(self.db, attempt_id=attempt.id, error=message)
            return None, message
        repo.save_grade(
            self.db,
            attempt_id=attempt.id,
            grade=grade.model_dump(mode="json"),
            score=grade.score,
            engine_version=grade.engine.version,
            counts_toward_progress=grade.counts_toward_progress,
            now=self.clock(),
        )
        return grade, None

    def _schedule(self, attempt: Attempt, grade: Grade) -> datetime | None:
        return schedule_attempt(self.db, user_id=self.user_id, attempt=attempt, score=grade.score, now=self.clock())

    def _advance(self, row: InterviewSession, index: int) -> None:
        repo.update_session_progress(
            self.db, user_id=self.user_id, session_id=self.session_id, current_index=min(index + 1, len(row.plan))
        )


def schedule_attempt(db: Database, *, user_id: int, attempt: Attempt, score: float, now: datetime) -> datetime:
    """Review the question's card with this answer's score, once: a card already updated since the answer
    was given (a crash after scheduling, or a regrade of an old answer) is left as it is."""
    review = repo.find_review(db, user_id=user_id, question_id=attempt.question_id)
    if review is not None and review.updated_at >= attempt.created_at:
        return review.due_at
    scheduled = schedule_review(review.card if review else None, question_id=attempt.question_id, score=score, now=now)
    repo.upsert_review(
        db,
        user_id=user_id,
        question_id=attempt.question_id,
        card=scheduled.card,
        due_at=scheduled.due_at,
        last_rating=scheduled.rating,
        last_score=score,
        now=now,
    )
    return scheduled.due_at


def load_history(db: Database, *, bank: Bank, user_id: int) -> History:
    """The planner's summary of the user's practice: per question its last score and review date, per skill mastery."""
    attempts = [a for a in repo.list_attempts(db, user_id=user_id) if a.kind == "answer"]
    questions: dict[str, QuestionHistory] = {}
    for attempt in attempts:  # oldest first, so the newest answer wins
        previous = questions.get(attempt.question_id, QuestionHistory())
        if counts(attempt):
            questions[attempt.question_id] = QuestionHistory(attempt.score, attempt.created_at, previous.due_at)
        elif attempt.question_id not in questions:
            questions[attempt.question_id] = previous
    for review in repo.list_reviews(db, user_id=user_id):
        previous = questions.get(review.question_id, QuestionHistory())
        questions[review.question_id] = QuestionHistory(
            previous.last_score if previous.last_score is not None else review.last_score,
            previous.last_answered or review.updated_at,
            review.due_at,
        )
    mastery = {m.skill: m.mastery for m in skill_mastery(attempts, bank)}
    return History(questions=questions, mastery=mastery)


def regrade_attempts(
    db: Database, *, bank: Bank, grader: Grades, user_id: int, clock: Callable[[], datetime] = utcnow
) -> RegradeSummary:
    """Grade every attempt left 'stored' or 'failed' (a crash, or a grader error), oldest first."""
    graded = 0
    failed: list[tuple[str, str]] = []
    for attempt in repo.list_ungraded_attempts(db, user_id=user_id):
        question = bank.find(attempt.question_id)
        if question is None:
            message = f"question {attempt.question_id!r} is no longer in the bank (add its pack with --packs)"
            repo.mark_attempt_failed(db, attempt_id=attempt.id, error=message)
            failed.append((attempt.id, message))
            continue
        target = question
        if attempt.kind == "follow_up":
            targets = tuple(attempt.target_key_points or ())
            target = reduced_question(question, FollowUp(attempt.prompt or "", "question", targets, ""))
        try:
            grade = grader.grade(target, attempt.answer, seconds=attempt.seconds)
        except Exception as exc:  # recorded on the attempt and reported; the next one is tried
            message = exc.message if isinstance(exc, CoachError) else f"{type(exc).__name__}: {exc}"
            repo.mark_attempt_failed(db, attempt_id=attempt.id, error=message)
            failed.append((attempt.id, message))
            continue
        repo.save_grade(
            db,
            attempt_id=attempt.id,
            grade=grade.model_dump(mode="json"),
            score=grade.score,
            engine_version=grade.engine.version,
            counts_toward_progress=grade.counts_toward_progress,
            now=clock(),
        )
        if attempt.kind == "answer":
            schedule_attempt(db, user_id=user_id, attempt=attempt, score=grade.score, now=clock())
        graded += 1
    return RegradeSummary(graded=graded, failed=tuple(failed))

"""The interview state machine over real storage: store before grading, follow-ups, failures and regrade,
resume from the database alone, drafts, review scheduling, and the report built from it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _grading_fixtures import grader  # noqa: F401 - the one session-wide default grader

from coach.api import shipped_bank
from coach.errors import InvalidInput, NotFound
from coach.interview import Interview, PlanRequest, load_history, plan_session, regrade_attempts
from coach.interview.planner import Plan, PlanItem
from coach.progress import build_report, render_html, render_markdown
from coach.storage import repository as repo

RETINA = "ethics-br-retinopathy-screening-review"
STORY = "ethics-br-spotted-issue-story"
WEAK = (
    "I would organise a careful pilot with the clinics. We would talk to the staff, see how the tool fits their "
    "daily routine, collect feedback from the nurses and the patients, and write a short report for the health "
    "secretary at the end of the pilot so they can decide whether to continue with the vendor or not."
)
VALIDATION_REPLY = (
    "I would not rely on the vendor's published accuracy. We would run a local retrospective validation on images "
    "from our own pilot units, graded by independent ophthalmologists as the reference standard, and look at "
    "sensitivity and specificity by clinic, camera model, age band and race/colour, including ungradable images."
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class FailingGrader:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def grade(self, question, answer, *, seconds=None):
        raise self.error


@pytest.fixture
def user(db):
    return repo.get_or_create_local_user(db)


def plan_of(*question_ids: str, follow_ups: bool = True) -> Plan:
    items = tuple(PlanItem(qid, "new", f"Reason for {qid}.", 240) for qid in question_ids)
    return Plan(items=items, request=PlanRequest(count=len(items), follow_ups=follow_ups))


def start(db, user, grader, *question_ids, clock=None, follow_ups=True):  # noqa: F811
    return Interview.start(
        db,
        bank=shipped_bank(),
        grader=grader,
        user_id=user.id,
        plan=plan_of(*question_ids, follow_ups=follow_ups),
        clock=clock or Clock(),
    )


def attempts(db, user, interview):
    return repo.list_attempts(db, user_id=user.id, session_id=interview.session_id)


def test_it_commits_the_answer_before_grading_it(db, user, grader):  # noqa: F811
    seen = []

    class Spy:
        embedder = grader.embedder

        def grade(self, question, answer, *, seconds=None):
            seen.extend(repo.list_attempts(db, user_id=user.id))  # a separate transaction: only committed rows
            return grader.grade(question, answer, seconds=seconds)

    interview = start(db, user, Spy(), STORY, follow_ups=False)
    interview.submit(WEAK, seconds=80)
    assert [(a.answer, a.status) for a in seen] == [(WEAK, "stored")]
    assert attempts(db, user, interview)[0].status == "graded"


def test_a_graded_answer_is_stored_with_its_grade_and_review(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA, follow_ups=False)
    outcome = interview.submit(WEAK, seconds=95)
    (attempt,) = attempts(db, user, interview)
    assert attempt.score == outcome.grade.score and attempt.seconds == 95
    assert attempt.grade["question_id"] == RETINA
    review = repo.get_review(db, user_id=user.id, question_id=RETINA)
    assert review.due_at == outcome.review_due and review.last_score == outcome.grade.score
    assert interview.next_prompt() is None


def test_a_missing_key_point_brings_a_follow_up_whose_reply_is_graded_against_it_only(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA)
    outcome = interview.submit(WEAK, seconds=95)
    assert outcome.follow_up is not None
    assert outcome.follow_up.target_key_points[0] == "local-validation"  # the heaviest key point (weight 2)
    ask = interview.next_prompt()
    assert ask.kind == "follow_up" and ask.prompt == outcome.follow_up.prompt and ask.number == 1

    reply = interview.submit(VALIDATION_REPLY, seconds=40)
    assert reply.kind == "follow_up"
    assert [kp.id for kp in reply.grade.key_points] == list(outcome.follow_up.target_key_points)
    assert reply.grade.key_points[0].status == "covered"
    answer, follow = attempts(db, user, interview)
    assert (follow.kind, follow.parent_id, follow.prompt) == ("follow_up", answer.id, outcome.follow_up.prompt)
    assert follow.target_key_points == list(outcome.follow_up.target_key_points)
    assert interview.next_prompt() is None


def test_follow_ups_can_be_turned_off(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA, STORY, follow_ups=False)
    assert interview.submit(WEAK).follow_up is None
    assert interview.next_prompt().question.id == STORY


def test_a_failed_grading_keeps_the_answer_and_regrade_finishes_it(db, user, grader):  # noqa: F811
    interview = start(db, user, FailingGrader(RuntimeError("model crashed")), RETINA, STORY)
    outcome = interview.submit(WEAK, seconds=60)
    assert outcome.grade is None and "model crashed" in outcome.error
    (stored,) = attempts(db, user, interview)
    assert (stored.status, stored.answer, stored.error) == ("failed", WEAK, "RuntimeError: model crashed")
    assert interview.next_prompt().question.id == STORY  # the interview goes on

    summary = regrade_attempts(db, bank=shipped_bank(), grader=grader, user_id=user.id)
    assert (summary.graded, summary.failed) == (1, ())
    regraded = repo.get_attempt(db, user_id=user.id, attempt_id=stored.id)
    assert regraded.status == "graded" and regraded.score is not None
    assert repo.find_review(db, user_id=user.id, question_id=RETINA) is not None


def test_regrade_reports_what_it_still_cannot_grade(db, user, grader):  # noqa: F811
    repo.store_attempt(db, user_id=user.id, question_id="removed-question", answer=WEAK)
    summary = regrade_attempts(db, bank=shipped_bank(), grader=grader, user_id=user.id)
    assert summary.graded == 0 and "no longer in the bank" in summary.failed[0][1]


def test_an_unreadable_answer_is_refused_before_anything_is_stored(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA)
    for bad in ("", "   \n ", "a\x00b"):
        with pytest.raises(InvalidInput):
            interview.submit(bad)
    assert attempts(db, user, interview) == []
    assert interview.next_prompt().kind == "question"


def test_it_resumes_a_pending_follow_up_from_the_database_alone(db, user, grader):  # noqa: F811
    first = start(db, user, grader, RETINA, STORY)
    follow_up = first.submit(WEAK).follow_up
    resumed = Interview.resume(db, bank=shipped_bank(), grader=grader, user_id=user.id)
    assert resumed.session_id == first.session_id
    ask = resumed.next_prompt()
    assert (ask.kind, ask.prompt) == ("follow_up", follow_up.prompt)


def test_an_answer_a_crash_left_ungraded_is_graded_on_resume(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, STORY, RETINA, follow_ups=False)
    # The process died right after the answer was committed: stored, not graded, index not moved.
    repo.store_attempt(
        db,
        user_id=user.id,
        session_id=interview.session_id,
        question_id=STORY,
        answer=WEAK,
        idempotency_key=f"{interview.session_id}:0:answer",
    )
    resumed = Interview.resume(db, bank=shipped_bank(), grader=grader, user_id=user.id)
    assert resumed.next_prompt().question.id == RETINA
    (attempt,) = attempts(db, user, interview)
    assert attempt.status == "graded"


def test_the_draft_is_restored_on_resume_and_cleared_once_answered(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, STORY, follow_ups=False)
    interview.save_draft(interview.next_prompt(), "In my first job I noticed")
    resumed = Interview.resume(db, bank=shipped_bank(), grader=grader, user_id=user.id)
    assert resumed.next_prompt().draft == "In my first job I noticed"
    resumed.submit(WEAK)
    assert repo.list_drafts(db, user_id=user.id) == []


def test_skipping_stores_nothing_and_moves_on(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA, STORY)
    interview.skip()
    assert interview.next_prompt().question.id == STORY
    assert attempts(db, user, interview) == []


def test_skipping_a_follow_up_moves_to_the_next_question(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA, STORY)
    assert interview.submit(WEAK).follow_up is not None
    interview.skip()
    assert interview.next_prompt().question.id == STORY


def test_resume_needs_an_unfinished_session(db, user, grader):  # noqa: F811
    with pytest.raises(NotFound, match="coach practice"):
        Interview.resume(db, bank=shipped_bank(), grader=grader, user_id=user.id)
    interview = start(db, user, grader, STORY)
    interview.finish()
    with pytest.raises(InvalidInput, match="finished"):
        Interview.resume(db, bank=shipped_bank(), grader=grader, user_id=user.id, session_id=interview.session_id)


def test_a_weak_answer_is_planned_again_once_its_review_is_due(db, user, grader):  # noqa: F811
    clock = Clock()
    interview = start(db, user, grader, RETINA, clock=clock, follow_ups=False)
    due = interview.submit(WEAK).review_due
    interview.finish()
    bank = shipped_bank()
    history = load_history(db, bank=bank, user_id=user.id)
    before = plan_session(bank, PlanRequest(count=3), history, due - timedelta(hours=1))
    after = plan_session(bank, PlanRequest(count=3), history, due + timedelta(hours=1))
    assert RETINA not in [i.question_id for i in before.items[:1]]
    assert after.items[0].question_id == RETINA and after.items[0].source == "review"


def test_weak_skills_from_stored_answers_steer_the_next_plan(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA, follow_ups=False)
    interview.submit(WEAK)
    history = load_history(db, bank=shipped_bank(), user_id=user.id)
    weak_skills = {s for s, m in history.mastery.items() if m < 0.6}
    assert "subgroup evaluation" in weak_skills
    far_future = datetime(2026, 3, 2, tzinfo=UTC)  # before the review is due
    plan = plan_session(shipped_bank(), PlanRequest(count=2), history, far_future)
    first = shipped_bank().get(plan.items[0].question_id)
    assert plan.items[0].source == "weak-skill" and weak_skills & set(first.skills)


def test_the_report_shows_scores_follow_ups_and_escapes_user_text(db, user, grader):  # noqa: F811
    interview = start(db, user, grader, RETINA, STORY)
    interview.submit(WEAK + " <script>alert('x')</script>")
    interview.submit(VALIDATION_REPLY)
    interview.skip()
    interview.finish()
    report = build_report(db, bank=shipped_bank(), user_id=user.id, session_id=interview.session_id)
    first, second = report.questions
    assert first.score is not None and first.follow_up_score is not None and first.follow_up
    assert second.status == "skipped"
    html = render_html(report)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<svg") >= 2
    markdown = render_markdown(report)
    assert "&lt;script&gt;" in markdown and "## Next steps" in markdown

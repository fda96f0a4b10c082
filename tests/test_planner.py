"""The planner's choices: due reviews first, then weak skills, then unseen questions; a varied mix; job
descriptions; and clear errors for filters and inputs that cannot work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coach.bank.loader import Bank, Entry
from coach.bank.schema import KeyPoint, Question
from coach.errors import InvalidInput
from coach.interview.jobs import extract_job_profile, match_question
from coach.interview.planner import History, PlanRequest, QuestionHistory, answer_seconds, plan_session

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_question(
    qid: str,
    *,
    type: str = "technical",
    skills=("governance",),
    role="responsible-ai-pm",
    level="intermediate",
    category="concepts",
    text=None,
    cues=(),
) -> Question:
    return Question(
        id=qid,
        text=text or f"Question {qid}: how would you handle {', '.join(skills)}?",
        role=role,
        level=level,
        category=category,
        type=type,
        skills=tuple(skills),
        why_asked="Checks the candidate's judgement on this topic.",
        key_points=(KeyPoint(id="main-point", text=f"Explains {skills[0]} with a concrete example", cues=tuple(cues)),),
        structure="none",
        example_answer="An example answer that covers the main point with a concrete example.",
    )


def make_bank(*questions: Question) -> Bank:
    return Bank(entries=[Entry(question=q, pack="test", source=Path("test.yaml")) for q in questions])


def seen(score: float, due_in_days: float | None, answered_days_ago: float = 10) -> QuestionHistory:
    due = NOW + timedelta(days=due_in_days) if due_in_days is not None else None
    return QuestionHistory(last_score=score, last_answered=NOW - timedelta(days=answered_days_ago), due_at=due)


def ids(plan) -> list[str]:
    return [item.question_id for item in plan.items]


def test_it_puts_due_reviews_first_most_overdue_first():
    bank = make_bank(
        *(
            make_question(f"q{i}", type=t)
            for i, t in enumerate(["technical", "behavioral", "situational", "leadership"])
        )
    )
    history = History(questions={"q2": seen(2.0, -1), "q3": seen(3.0, -5)})
    plan = plan_session(bank, PlanRequest(count=4), history, NOW)
    assert ids(plan)[:2] == ["q3", "q2"]
    assert [i.source for i in plan.items[:2]] == ["review", "review"]
    assert "Due for review" in plan.items[0].reason and "3/5" in plan.items[0].reason


def test_a_review_that_is_not_due_yet_comes_after_unseen_questions():
    bank = make_bank(make_question("q1"), make_question("q2", type="behavioral"))
    plan = plan_session(bank, PlanRequest(count=2), History(questions={"q1": seen(4.0, 20)}), NOW)
    assert ids(plan) == ["q2", "q1"]
    assert plan.items[1].source == "practice" and "Extra practice" in plan.items[1].reason


def test_after_reviews_it_picks_questions_on_the_weakest_skill():
    bank = make_bank(
        make_question("privacy-q", skills=("privacy",)),
        make_question("fairness-q", skills=("fairness metrics",)),
        make_question("docs-q", skills=("documentation",)),
        make_question("reviewed", skills=("governance",)),
    )
    history = History(
        questions={"reviewed": seen(2.0, -1)},
        mastery={"fairness metrics": 0.2, "privacy": 0.5, "documentation": 0.9, "governance": 0.25},
    )
    plan = plan_session(bank, PlanRequest(count=3), history, NOW)
    assert ids(plan) == ["reviewed", "fairness-q", "privacy-q"]
    assert plan.items[1].source == "weak-skill"
    assert "'fairness metrics' (mastery 20%)" in plan.items[1].reason


def test_it_prefers_unseen_questions_to_ones_already_answered():
    bank = make_bank(make_question("old", type="behavioral"), make_question("new", type="technical"))
    plan = plan_session(bank, PlanRequest(count=1), History(questions={"old": seen(4.0, 30)}), NOW)
    assert ids(plan) == ["new"]
    assert plan.items[0].reason.startswith("New to you")


def test_it_never_asks_one_question_twice_and_says_when_the_pool_is_short():
    bank = make_bank(*(make_question(f"q{i}") for i in range(3)))
    history = History(questions={"q0": seen(1.0, -2)}, mastery={"governance": 0.1})
    plan = plan_session(bank, PlanRequest(count=10), history, NOW)
    assert sorted(ids(plan)) == ["q0", "q1", "q2"]
    assert any("Only 3 question(s)" in note for note in plan.notes)


def test_it_mixes_question_types_even_when_one_type_dominates_the_bank():
    technical = [make_question(f"t{i}", type="technical", skills=(f"skill {i}",)) for i in range(6)]
    others = [
        make_question("b1", type="behavioral", skills=("story",)),
        make_question("s1", type="situational", skills=("case",)),
    ]
    plan = plan_session(make_bank(*technical, *others), PlanRequest(count=3), History(), NOW)
    assert {bank_type(q) for q in ids(plan)} == {"technical", "behavioral", "situational"}


def bank_type(qid: str) -> str:
    return {"b": "behavioral", "s": "situational", "t": "technical"}[qid[0]]


def test_the_same_inputs_give_the_same_plan():
    bank = make_bank(*(make_question(f"q{i}", skills=(f"s{i}",)) for i in range(8)))
    assert plan_session(bank, PlanRequest(), History(), NOW) == plan_session(bank, PlanRequest(), History(), NOW)


def test_every_item_has_a_reason_and_a_time_budget():
    bank = make_bank(make_question("q1", level="beginner"), make_question("q2", type="behavioral", level="advanced"))
    plan = plan_session(bank, PlanRequest(count=2), History(), NOW)
    assert all(item.reason and item.seconds >= 60 for item in plan.items)
    assert {i.question_id: i.seconds for i in plan.items} == {"q1": 180, "q2": 360}


def test_minutes_alone_decide_how_many_questions_fit():
    bank = make_bank(*(make_question(f"q{i}", skills=(f"s{i}",)) for i in range(10)))  # 240 s each + 90 s follow-up
    plan = plan_session(bank, PlanRequest(minutes=12), History(), NOW)
    assert len(plan.items) == 2
    assert len(plan_session(bank, PlanRequest(minutes=12, follow_ups=False), History(), NOW).items) == 3


def test_count_and_minutes_together_share_the_minutes_out():
    bank = make_bank(*(make_question(f"q{i}", skills=(f"s{i}",)) for i in range(10)))
    plan = plan_session(bank, PlanRequest(count=4, minutes=10, follow_ups=False), History(), NOW)
    assert len(plan.items) == 4
    assert sum(item.seconds for item in plan.items) == pytest.approx(600, abs=40)


def test_filters_choose_role_level_and_categories():
    bank = make_bank(
        make_question("pm-1", role="responsible-ai-pm", category="scenario"),
        make_question("pm-2", role="responsible-ai-pm", category="behavioral", type="behavioral"),
        make_question("eth-1", role="ai-ethics-specialist", category="scenario"),
        make_question("pm-adv", role="responsible-ai-pm", category="scenario", level="advanced"),
    )
    request = PlanRequest(
        role="responsible-ai-pm", level="intermediate", categories=("scenario", "behavioral"), count=5
    )
    assert sorted(ids(plan_session(bank, request, History(), NOW))) == ["pm-1", "pm-2"]


def test_it_rejects_an_unknown_role_and_lists_the_roles():
    bank = make_bank(make_question("q1", role="responsible-ai-pm"), make_question("q2", role="ai-ethics-specialist"))
    with pytest.raises(InvalidInput) as error:
        plan_session(bank, PlanRequest(role="responsible-ai-pmm"), History(), NOW)
    assert "Unknown role 'responsible-ai-pmm'" in error.value.message
    assert "Did you mean 'responsible-ai-pm'?" in error.value.message
    assert "ai-ethics-specialist, responsible-ai-pm" in error.value.message


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PlanRequest(level="expert"), "Unknown level 'expert'; choose one of: beginner"),
        (PlanRequest(seniority="intern"), "Unknown seniority 'intern'"),
        (PlanRequest(categories=("concepts", "trivia")), "Unknown category 'trivia'"),
        (PlanRequest(count=0), "--count must be between 1 and 30"),
        (PlanRequest(minutes=1), "--minutes must be between"),
    ],
)
def test_it_rejects_filters_that_cannot_work(request_, message):
    with pytest.raises(InvalidInput, match=message):
        plan_session(make_bank(make_question("q1")), request_, History(), NOW)


def test_it_says_how_to_widen_filters_that_match_nothing():
    with pytest.raises(InvalidInput, match="No question matches level 'advanced'.*fewer filters"):
        plan_session(make_bank(make_question("q1")), PlanRequest(level="advanced"), History(), NOW)


# --- job descriptions ------------------------------------------------------------------------------------

JOB = """Senior Responsible AI Product Manager. You will own fairness metrics for our credit models, run
algorithmic impact assessments, and prepare EU AI Act documentation. Experience with red teaming is a plus.
We offer a competitive salary and a great team culture."""


def job_bank() -> Bank:
    return make_bank(
        make_question("fairness", skills=("fairness metrics", "credit scoring"), type="technical"),
        make_question("aia", skills=("algorithmic impact assessment",), type="situational"),
        make_question("story", skills=("conflict resolution",), type="behavioral"),
        make_question("vendor", skills=("vendor management",), type="leadership"),
        make_question("redteam", skills=("red teaming",), type="competency"),
    )


def test_it_extracts_the_bank_skills_a_job_description_names():
    profile = extract_job_profile(JOB, job_bank().questions)
    assert {"fairness metrics", "algorithmic impact assessment", "red teaming"} <= set(profile.skills)
    assert "conflict resolution" not in profile.skills
    assert not {"salary", "team", "culture", "competitive"} & set(profile.terms)


def test_a_job_description_puts_matching_questions_first_and_says_why():
    bank = job_bank()
    request = PlanRequest(count=3, job=extract_job_profile(JOB, bank.questions))
    plan = plan_session(bank, request, History(), NOW)
    assert set(ids(plan)) == {"fairness", "aia", "redteam"}
    fairness = next(i for i in plan.items if i.question_id == "fairness")
    assert "Matches the job description: fairness metrics" in fairness.reason
    assert "fairness metrics" in fairness.job_terms
    assert any(note.startswith("From the job description:") for note in plan.notes)


def test_a_due_review_still_comes_before_a_job_match():
    bank = job_bank()
    history = History(questions={"story": seen(2.0, -1)})
    plan = plan_session(bank, PlanRequest(count=2, job=extract_job_profile(JOB, bank.questions)), history, NOW)
    assert ids(plan)[0] == "story"


def test_a_job_description_with_nothing_in_common_plans_as_usual_with_a_note():
    bank = job_bank()
    profile = extract_job_profile("Pastry chef wanted: croissants, sourdough, laminated doughs.", bank.questions)
    plan = plan_session(bank, PlanRequest(count=2, job=profile), History(), NOW)
    assert len(plan.items) == 2
    assert any("Nothing in the job description matches" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   \n\t ", "empty"), ("...!!! ---", "no words"), ("a\x00b", "binary"), ("x " * 150_000, "limit")],
)
def test_it_rejects_a_job_description_it_cannot_use(text, message):
    with pytest.raises(InvalidInput, match=message):
        extract_job_profile(text, job_bank().questions)


def test_a_question_about_a_named_skill_matches_more_than_one_that_only_mentions_its_words():
    bank = job_bank()
    profile = extract_job_profile(JOB, bank.questions)
    named = match_question(profile, bank.get("fairness"))
    other = match_question(profile, bank.get("vendor"))
    assert named.score > 0.4 > other.score


def test_the_shipped_bank_plans_a_session_for_each_role():
    from coach.api import shipped_bank

    bank = shipped_bank()
    for role in sorted({q.role for q in bank.questions}):
        plan = plan_session(bank, PlanRequest(role=role, count=5), History(), NOW)
        questions = [bank.get(i) for i in ids(plan)]
        assert len(set(ids(plan))) == 5
        assert {q.role for q in questions} == {role}
        assert len({q.type for q in questions}) >= 3
        assert all(i.seconds == answer_seconds(q) for i, q in zip(plan.items, questions, strict=True))

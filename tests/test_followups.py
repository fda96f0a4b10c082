"""Follow-up selection: the question's follow-up for the heaviest missing key point, else a probe that
names the gap without the answer; replies graded against the targeted key points only."""

from __future__ import annotations

import re

import pytest
from _grading_fixtures import grader  # noqa: F401 - the one session-wide default grader

from coach.bank.schema import KeyPoint, Question
from coach.interview.followups import (
    FollowUp,
    choose_follow_up,
    grade_reply,
    missing_key_points,
    probe_for,
    reduced_question,
)

QUESTION = Question(
    id="retina-vendor",
    text=(
        "A vendor offers an AI tool that reads retinal photos in primary care and flags diabetic patients for "
        "referral to an eye specialist. How would you assess it before a pilot starts?"
    ),
    role="ai-ethics-specialist",
    level="intermediate",
    category="technical",
    type="technical",
    skills=("external validation", "health data privacy", "clinical oversight"),
    why_asked="Checks that the candidate questions vendor claims and protects patients.",
    key_points=(
        KeyPoint(
            id="local-validation",
            text=(
                "Validates the vendor's accuracy claims locally, on images from the pilot clinics graded by "
                "independent specialists"
            ),
            weight=2.0,
            cues=("local validation", "validate", "own images", "independent"),
        ),
        KeyPoint(
            id="privacy-basis",
            text=(
                "Treats retinal images as sensitive health data: checks the legal basis, the processor contract "
                "and where the data is stored"
            ),
            weight=1.5,
            cues=("health data", "processor", "legal basis", "stored"),
        ),
        KeyPoint(
            id="human-oversight",
            text="Keeps specialists in the loop to confirm referrals and to audit a sample of negative results",
            weight=1.0,
            cues=("in the loop", "confirm referrals", "sample of negatives"),
        ),
    ),
    structure="none",
    example_answer=(
        "First I would validate the vendor's accuracy on our own images, graded by independent ophthalmologists. "
        "The photos are sensitive health data, so I would check the legal basis, the processor contract and where "
        "the data is stored. Specialists would confirm each referral and audit a sample of negatives."
    ),
    follow_ups=(
        "The vendor refuses to share its validation data. "
        "How do you check its accuracy claims on your own patients' images?",
        "The vendor stores the images on servers abroad. What does that mean for the patients' health data?",
    ),
)


@pytest.fixture(scope="module")
def base_grade(grader):  # noqa: F811
    return grader.grade(QUESTION, "We would run a careful pilot and watch how it goes with the clinics and the staff.")


def with_missing(grade, *missing: str):
    """The grade with exactly these key points missing (the others covered)."""
    points = tuple(
        kp.model_copy(update={"status": "missing" if kp.id in missing else "covered"}) for kp in grade.key_points
    )
    return grade.model_copy(update={"key_points": points})


def test_missing_key_points_are_ordered_heaviest_first(base_grade):
    gaps = missing_key_points(
        QUESTION, with_missing(base_grade, "human-oversight", "local-validation", "privacy-basis")
    )
    assert [kp.id for kp in gaps] == ["local-validation", "privacy-basis", "human-oversight"]


def test_it_asks_the_follow_up_that_targets_the_heaviest_missing_key_point(grader, base_grade):  # noqa: F811
    follow_up = choose_follow_up(
        QUESTION, with_missing(base_grade, "privacy-basis", "local-validation"), embedder=grader.embedder
    )
    assert follow_up is not None and follow_up.kind == "question"
    assert follow_up.prompt == QUESTION.follow_ups[0]
    assert follow_up.target_key_points[0] == "local-validation"


def test_it_moves_to_the_follow_up_for_the_next_gap_when_the_heaviest_point_is_covered(grader, base_grade):  # noqa: F811
    follow_up = choose_follow_up(QUESTION, with_missing(base_grade, "privacy-basis"), embedder=grader.embedder)
    assert follow_up is not None
    assert follow_up.prompt == QUESTION.follow_ups[1]
    assert follow_up.target_key_points == ("privacy-basis",)


def test_without_an_embedder_it_matches_follow_ups_by_cue_words(base_grade):
    follow_up = choose_follow_up(QUESTION, with_missing(base_grade, "privacy-basis"))
    assert follow_up is not None and follow_up.prompt == QUESTION.follow_ups[1]


def test_when_no_follow_up_fits_it_probes_the_gap_without_giving_the_answer_away(grader, base_grade):  # noqa: F811
    follow_up = choose_follow_up(QUESTION, with_missing(base_grade, "human-oversight"), embedder=grader.embedder)
    assert follow_up is not None and follow_up.kind == "probe"
    assert follow_up.target_key_points == ("human-oversight",)
    assert "clinical oversight" in follow_up.prompt
    for giveaway in ("confirm referrals", "sample of negatives", "in the loop", "audit"):
        assert giveaway not in follow_up.prompt.lower()


def test_it_asks_nothing_when_no_key_point_is_missing(grader, base_grade):  # noqa: F811
    assert choose_follow_up(QUESTION, with_missing(base_grade), embedder=grader.embedder) is None


def test_partial_key_points_are_not_gaps(base_grade):
    points = tuple(kp.model_copy(update={"status": "partial"}) for kp in base_grade.key_points)
    assert choose_follow_up(QUESTION, base_grade.model_copy(update={"key_points": points})) is None


def test_the_reduced_question_keeps_only_the_targeted_key_points():
    follow_up = FollowUp(QUESTION.follow_ups[0], "question", ("local-validation",), "external validation")
    reduced = reduced_question(QUESTION, follow_up)
    assert [kp.id for kp in reduced.key_points] == ["local-validation"]
    assert reduced.id == QUESTION.id and reduced.structure == "none"
    assert QUESTION.follow_ups[0] in reduced.text


def test_a_reply_is_graded_against_the_targeted_key_points_only(grader):  # noqa: F811
    follow_up = FollowUp(QUESTION.follow_ups[0], "question", ("local-validation",), "external validation")
    reply = (
        "I would not rely on the vendor's published numbers. We would run a local validation on a few thousand "
        "retinal images from our own pilot clinics, each graded by two independent ophthalmologists as the "
        "reference standard, and compare the tool's sensitivity and specificity against them before any pilot."
    )
    grade = grade_reply(grader, QUESTION, follow_up, reply, seconds=45)
    assert [kp.id for kp in grade.key_points] == ["local-validation"]
    assert grade.key_points[0].status == "covered"
    assert grade.score >= 4


def test_a_reply_that_dodges_the_gap_scores_low(grader):  # noqa: F811
    follow_up = FollowUp(QUESTION.follow_ups[0], "question", ("local-validation",), "external validation")
    reply = "I would trust the vendor and launch quickly, then see how patients react to the new referral letters."
    grade = grade_reply(grader, QUESTION, follow_up, reply)
    assert grade.key_points[0].status != "covered" and grade.score <= 2


def test_a_follow_up_survives_storage_in_the_session_plan():
    follow_up = FollowUp("What about it?", "probe", ("a", "b"), "topic")
    assert FollowUp.from_dict(follow_up.to_dict()) == follow_up


def test_a_probe_for_any_shipped_key_point_names_a_short_topic_and_nothing_more():
    from coach.api import shipped_bank
    from coach.interview.followups import _PROBES, topic_of

    template_words = set(re.findall(r"[a-z]{4,}", " ".join(_PROBES.values()).lower()))
    for question in shipped_bank().questions:
        for kp in question.key_points:
            probe, topic = probe_for(question, kp).lower(), topic_of(question, kp).lower()
            assert topic in probe and len(topic.split()) <= 6, (question.id, kp.id, topic)
            rest = set(re.findall(r"[a-z]{4,}", probe.replace(topic, " "))) - template_words
            assert not rest & set(re.findall(r"[a-z]{4,}", kp.text.lower())), (question.id, kp.id, probe)

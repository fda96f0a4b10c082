"""Spaced review (FSRS cards rated from scores) and per-skill mastery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fsrs import Rating

from coach.errors import InvalidInput
from coach.progress.mastery import skill_mastery, trend
from coach.progress.scheduling import new_card, rating_for, schedule_review

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (1.0, Rating.Again),
        (1.5, Rating.Again),
        (2.0, Rating.Again),
        (2.5, Rating.Hard),
        (3.0, Rating.Hard),
        (3.5, Rating.Good),
        (4.0, Rating.Good),
        (4.5, Rating.Easy),
        (5.0, Rating.Easy),
    ],
)
def test_the_rating_follows_the_score_bands(score, rating):
    assert rating_for(score) == rating


@pytest.mark.parametrize("score", [0.5, 5.5, -1])
def test_it_rejects_a_score_outside_one_to_five(score):
    with pytest.raises(InvalidInput, match="between 1 and 5"):
        rating_for(score)


def test_a_first_good_answer_is_due_again_in_days_not_minutes():
    scheduled = schedule_review(None, question_id="q1", score=4.0, now=NOW)
    assert scheduled.due_at - NOW >= timedelta(days=1)
    assert scheduled.rating == int(Rating.Good)


def test_a_weak_answer_comes_back_sooner_than_a_strong_one():
    weak = schedule_review(None, question_id="q1", score=1.5, now=NOW)
    strong = schedule_review(None, question_id="q1", score=5.0, now=NOW)
    assert weak.due_at < strong.due_at


def test_the_interval_grows_with_each_good_review_through_a_stored_card():
    card, now, intervals = None, NOW, []
    for _ in range(3):
        scheduled = schedule_review(card, question_id="q1", score=4.0, now=now)
        intervals.append(scheduled.due_at - now)
        card = json.loads(json.dumps(scheduled.card))  # stored as JSON in the reviews table
        now = scheduled.due_at
    assert intervals[0] < intervals[1] < intervals[2]


def test_a_lapse_after_good_reviews_shortens_the_interval():
    first = schedule_review(None, question_id="q1", score=4.5, now=NOW)
    lapse = schedule_review(first.card, question_id="q1", score=1.0, now=first.due_at)
    assert lapse.due_at - first.due_at < first.due_at - NOW


def test_scheduling_is_deterministic():
    a = schedule_review(None, question_id="q1", score=3.0, now=NOW)
    b = schedule_review(None, question_id="q1", score=3.0, now=NOW)
    assert a == b


def test_a_card_id_comes_from_the_question_id():
    assert new_card("q1", NOW).card_id == new_card("q1", NOW + timedelta(days=3)).card_id
    assert new_card("q1", NOW).card_id != new_card("q2", NOW).card_id


def test_a_malformed_stored_card_is_reported_with_the_fix():
    with pytest.raises(InvalidInput, match="forget --all"):
        schedule_review({"state": "bogus"}, question_id="q1", score=3.0, now=NOW)


# --- mastery ------------------------------------------------------------------------------------------


@dataclass
class _Attempt:
    question_id: str
    score: float | None
    created_at: datetime
    kind: str = "answer"
    status: str = "graded"
    counts_toward_progress: bool = True


class _Bank:
    def __init__(self, skills: dict[str, tuple[str, ...]]) -> None:
        self.skills = skills

    def find(self, question_id):
        if question_id not in self.skills:
            return None

        @dataclass
        class Q:
            skills: tuple[str, ...]

        return Q(self.skills[question_id])


def _at(days: int) -> datetime:
    return NOW + timedelta(days=days)


def test_mastery_weighs_recent_answers_more():
    bank = _Bank({"q1": ("fairness",), "q2": ("privacy",)})
    improving = [_Attempt("q1", 1.0, _at(0)), _Attempt("q1", 5.0, _at(1))]
    declining = [_Attempt("q2", 5.0, _at(0)), _Attempt("q2", 1.0, _at(1))]
    mastery = {m.skill: m for m in skill_mastery(improving + declining, bank)}
    assert mastery["fairness"].mastery > 0.5 > mastery["privacy"].mastery
    assert mastery["fairness"].trend == "up" and mastery["privacy"].trend == "down"


def test_mastery_lists_the_weakest_skill_first():
    bank = _Bank({"q1": ("fairness",), "q2": ("privacy",)})
    result = skill_mastery([_Attempt("q1", 4.5, _at(0)), _Attempt("q2", 2.0, _at(0))], bank)
    assert [m.skill for m in result] == ["privacy", "fairness"]
    assert result[0].weak and not result[1].weak


def test_mastery_ignores_gamed_answers_follow_ups_and_ungraded_attempts():
    bank = _Bank({"q1": ("fairness",)})
    attempts = [
        _Attempt("q1", 2.0, _at(0)),
        _Attempt("q1", 5.0, _at(1), counts_toward_progress=False),
        _Attempt("q1", 5.0, _at(2), kind="follow_up"),
        _Attempt("q1", None, _at(3), status="failed"),
    ]
    (m,) = skill_mastery(attempts, bank)
    assert m.attempts == 1 and m.last_score == 2.0


def test_mastery_skips_questions_no_longer_in_the_bank():
    assert skill_mastery([_Attempt("gone", 3.0, _at(0))], _Bank({})) == []


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([3.0], "new"),
        ([2.0, 3.0], "up"),
        ([4.0, 3.0], "down"),
        ([3.0, 3.0, 3.0], "steady"),
        ([5, 1, 1, 1, 1], "steady"),
    ],
)
def test_the_trend_compares_the_newest_score_with_the_ones_before(scores, expected):
    assert trend(scores) == expected

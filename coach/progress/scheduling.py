"""Spaced review with FSRS: one card per question, rated from the grade's score.

Cards skip FSRS's minute-long learning steps: an interview question is practised once per session, so
the first review already schedules in days. Fuzzing is off, so the same history always gives the same
due date (tests and the planner rely on that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fsrs import Card, Rating, Scheduler

from coach.errors import InvalidInput

MAX_INTERVAL_DAYS = 365

_SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False, maximum_interval=MAX_INTERVAL_DAYS)


@dataclass(frozen=True)
class Scheduled:
    """A card after one review: what to store (`card`, JSON-ready) and when it is due next."""

    card: dict[str, Any]
    due_at: datetime
    rating: int


def rating_for(score: float) -> Rating:
    """A grade's score (1-5 in half steps) as an FSRS rating: <=2 Again, 2.5-3 Hard, 3.5-4 Good, >=4.5 Easy."""
    if not 1.0 <= score <= 5.0:
        raise InvalidInput(f"A score is between 1 and 5; got {score!r}.")
    if score <= 2.0:
        return Rating.Again
    if score <= 3.0:
        return Rating.Hard
    if score <= 4.0:
        return Rating.Good
    return Rating.Easy


def new_card(question_id: str, now: datetime) -> Card:
    """A fresh card; its id comes from the question id, so it is the same on every machine."""
    card_id = int(hashlib.sha256(question_id.encode("utf-8")).hexdigest()[:12], 16)
    return Card(card_id=card_id, due=_aware(now))


def card_from_dict(data: dict[str, Any]) -> Card:
    """A card stored as `Card.to_dict()`; a malformed one is an InvalidInput naming the problem."""
    try:
        return Card.from_dict(data)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"A stored review card is malformed ({exc}); `coach forget --all` clears the schedule."
        ) from exc


def schedule_review(card: dict[str, Any] | None, *, question_id: str, score: float, now: datetime) -> Scheduled:
    """Review `card` (None for a question never reviewed) with the rating its score earns, at `now`."""
    now = _aware(now)
    current = card_from_dict(card) if card is not None else new_card(question_id, now)
    rating = rating_for(score)
    reviewed, _log = _SCHEDULER.review_card(current, rating, review_datetime=now)
    return Scheduled(card=dict(reviewed.to_dict()), due_at=reviewed.due, rating=int(rating))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the scheduler; use datetime.now(UTC)")
    return moment.astimezone(UTC)

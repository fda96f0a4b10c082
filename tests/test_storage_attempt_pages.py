"""A page of attempts is read in SQL (offset, limit, newest first), and a summary leaves the large columns out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import DetachedInstanceError

from coach.storage import repository
from coach.storage.tables import utcnow


def test_pages_of_attempts_newest_first_and_their_count(db):
    user = repository.create_user(db, email="a@example.org", display_name="A")
    start = utcnow()
    ids = [
        repository.store_attempt(
            db, user_id=user.id, question_id=f"q{i}", answer=f"answer {i}", now=start + timedelta(seconds=i)
        ).id
        for i in range(7)
    ]
    assert repository.count_attempts(db, user_id=user.id) == 7
    first = repository.list_attempts(db, user_id=user.id, newest_first=True, limit=3)
    second = repository.list_attempts(db, user_id=user.id, newest_first=True, offset=3, limit=3)
    last = repository.list_attempts(db, user_id=user.id, newest_first=True, offset=6, limit=3)
    assert [a.id for a in first + second + last] == ids[::-1]


def test_a_summary_holds_scores_and_dates_but_never_the_answer(db):
    user = repository.create_user(db, email="a@example.org", display_name="A")
    repository.store_attempt(db, user_id=user.id, question_id="q", answer="a private answer")
    (row,) = repository.list_attempts(db, user_id=user.id, summary=True)
    assert row.question_id == "q" and row.status == "stored" and row.created_at is not None
    with pytest.raises((InvalidRequestError, DetachedInstanceError)):
        _ = row.answer  # not loaded, and never loaded behind the caller's back
    (full,) = repository.list_attempts(db, user_id=user.id)
    assert full.answer == "a private answer"

"""LLM notes: one per (attempt, kind), claimed as 'pending' before the call and filled in after it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coach.errors import InvalidInput, NotFound
from coach.storage.repository._base import Target, insert_or_find, owned, reading, writing
from coach.storage.tables import LLM_NOTE_KINDS, LLM_NOTE_STATUSES, Attempt, LlmNote, utcnow


def _find(session: Session, attempt_id: str, kind: str) -> LlmNote | None:
    return session.scalar(select(LlmNote).where(LlmNote.attempt_id == attempt_id, LlmNote.kind == kind))


def claim_llm_note(db: Target, *, user_id: int, attempt_id: str, kind: str) -> tuple[LlmNote, bool]:
    """The note for this attempt and kind, created 'pending' if there is none; True when this call created it
    (and so should run the LLM call: concurrent pollers never start two)."""
    if kind not in LLM_NOTE_KINDS:
        raise InvalidInput(f"LLM note kind must be one of {', '.join(LLM_NOTE_KINDS)}, not {kind!r}.")
    with writing(db) as session:
        owned(session, Attempt, user_id=user_id, object_id=attempt_id, label="attempt")
        existing = _find(session, attempt_id, kind)
        if existing is not None:
            return existing, False
        note = LlmNote(user_id=user_id, attempt_id=attempt_id, kind=kind, status="pending")
        stored = insert_or_find(session, note, lambda: _find(session, attempt_id, kind))
        return stored, stored is note


def save_llm_note(
    db: Target, *, note_id: str, status: str, content: dict[str, Any] | None = None, error: str | None = None
) -> LlmNote:
    if status not in LLM_NOTE_STATUSES:
        raise InvalidInput(f"LLM note status must be one of {', '.join(LLM_NOTE_STATUSES)}, not {status!r}.")
    with writing(db) as session:
        note = session.get(LlmNote, note_id)
        if note is None:
            raise NotFound(f"No LLM note {note_id!r} (its answer may have been deleted).")
        note.status, note.content, note.error, note.updated_at = status, content, error, utcnow()
        return note


def find_llm_note(db: Target, *, user_id: int, attempt_id: str, kind: str) -> LlmNote | None:
    with reading(db) as session:
        note = _find(session, attempt_id, kind)
        return note if note is not None and note.user_id == user_id else None


def delete_llm_note(db: Target, *, user_id: int, note_id: str) -> None:
    """Forget a note (e.g. to ask again after a failure)."""
    with writing(db) as session:
        note = owned(session, LlmNote, user_id=user_id, object_id=note_id, label="LLM note")
        session.delete(note)

"""The user's rights over their data: export it, import it elsewhere, and erase it for good.

Export format (version 1), one JSON object:
    {"format": "interview-coach-export", "version": 1,
     "user": {...}, "sessions": [...], "attempts": [...], "drafts": [...], "reviews": [...]}
Every column of those tables is included except internal keys (user_id, draft ids) and secrets (the
password hash); sign-in sessions and API tokens are never exported. Datetimes are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, delete, exc, select
from sqlalchemy.orm import Session

from coach.errors import InvalidInput
from coach.storage.repository._base import Target, count_rows, delete_rows, owned, purge_deleted_bytes, reading, writing
from coach.storage.repository.users import get_user
from coach.storage.tables import NO_SESSION, Attempt, Base, Draft, InterviewSession, Review, UTCDateTime, new_id

EXPORT_FORMAT = "interview-coach-export"
EXPORT_VERSION = 1

# section -> (model, columns left out). Tables that hold a user's data but are absent here are
# deliberately not exported (tests check that this list and the schema agree).
EXPORTED: dict[str, tuple[type[Base], frozenset[str]]] = {
    "sessions": (InterviewSession, frozenset({"user_id"})),
    "attempts": (Attempt, frozenset({"user_id"})),
    "drafts": (Draft, frozenset({"user_id", "id"})),
    "reviews": (Review, frozenset({"user_id"})),
}
USER_EXCLUDED = frozenset({"id", "password_hash"})
_Merged = TypeVar("_Merged", Draft, Review)
# auth_sessions, api_tokens: secrets, meaningless on another instance. llm_notes: the optional LLM's
# commentary on exported answers, not the record (the grades are exported); deleted with its answers.
NOT_EXPORTED = frozenset({"auth_sessions", "api_tokens", "llm_notes"})


def export_user(db: Target, *, user_id: int) -> dict[str, Any]:
    """Everything the user provided or the grader produced for them, as JSON-ready data."""
    with reading(db) as session:
        user = get_user(session, user_id=user_id)
        data: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "user": _record(user, USER_EXCLUDED),
        }
        for section, (model, excluded) in EXPORTED.items():
            order = [getattr(model, name) for name in _order(model)]
            rows = session.scalars(select(model).where(model.user_id == user_id).order_by(*order))  # type: ignore[attr-defined]
            data[section] = [_record(row, excluded) for row in rows]
        for draft in data["drafts"]:
            draft["session_id"] = draft["session_id"] or None
        return data


def import_user(db: Target, *, data: dict[str, Any], into_user_id: int) -> dict[str, int]:
    """Add an export's sessions, attempts, drafts and reviews to an existing account; returns counts.

    Ids are kept where they are free (so an export, imported into an empty instance, exports again
    identically) and replaced where taken. The account's own fields (email, admin, LLM consent) are not
    changed. Drafts and review cards replace existing ones only when newer.
    """
    _check_header(data)
    try:
        with writing(db) as session:
            get_user(session, user_id=into_user_id)
            return _import(session, data, into_user_id)
    except (KeyError, TypeError, ValueError, AttributeError, exc.IntegrityError, exc.DataError) as error:
        # The driver's message only: SQLAlchemy's would repeat the SQL parameters, i.e. the answers.
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise InvalidInput(f"The export could not be imported ({detail}); nothing was imported.") from error


def forget_session(db: Target, *, user_id: int, session_id: str) -> None:
    """Delete an interview session with its answers and drafts, for good."""
    with writing(db) as session:
        owned(session, InterviewSession, user_id=user_id, object_id=session_id, label="interview session")
        delete_rows(session, Draft, user_id=user_id, session_id=session_id)
        delete_rows(session, InterviewSession, id=session_id)  # attempts and their follow-ups cascade
    purge_deleted_bytes(db)


def forget_all(db: Target, *, user_id: int) -> dict[str, int]:
    """Delete all the user's practice data (keeping the account), for good; returns counts."""
    with writing(db) as session:
        get_user(session, user_id=user_id)
        models = {"attempts": Attempt, "sessions": InterviewSession, "drafts": Draft, "reviews": Review}
        # Counted first: cascades (follow-ups of a deleted answer) do not show in a DELETE's row count.
        counts = {name: count_rows(session, model, user_id=user_id) for name, model in models.items()}
        for model in models.values():
            delete_rows(session, model, user_id=user_id)
    purge_deleted_bytes(db)
    return counts


def purge_attempts_before(db: Target, *, before: datetime) -> int:
    """Retention: delete every user's attempts created before `before` (and follow-ups of them), for good;
    returns how many matched."""
    with writing(db) as session:
        result: Any = session.execute(delete(Attempt).where(Attempt.created_at < before))
        count = int(result.rowcount or 0)
    purge_deleted_bytes(db)
    return count


def purge_drafts_before(db: Target, *, before: datetime) -> int:
    """Retention: delete every user's drafts last saved before `before`, for good; returns how many."""
    with writing(db) as session:
        result: Any = session.execute(delete(Draft).where(Draft.updated_at < before))
        count = int(result.rowcount or 0)
    purge_deleted_bytes(db)
    return count


def _check_header(data: Any) -> None:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise InvalidInput(f'This is not an interview-coach export (expected "format": "{EXPORT_FORMAT}").')
    if data.get("version") != EXPORT_VERSION:
        raise InvalidInput(
            f"Export version {data.get('version')!r} is not supported; this version of interview-coach reads "
            f"version {EXPORT_VERSION}. Import it with the version that wrote it, or a newer one."
        )
    for section in EXPORTED:
        if not isinstance(data.get(section, []), list):
            raise InvalidInput(f"The export's {section!r} must be a list.")


def _import(session: Session, data: dict[str, Any], user_id: int) -> dict[str, int]:
    sessions = [_fields(InterviewSession, item) for item in data.get("sessions", [])]
    attempts = [_fields(Attempt, item) for item in data.get("attempts", [])]
    session_ids = _id_map(session, InterviewSession, [s["id"] for s in sessions])
    attempt_ids = _id_map(session, Attempt, [a["id"] for a in attempts])
    taken_keys = set(session.scalars(select(Attempt.idempotency_key).where(Attempt.user_id == user_id)))

    for values in sessions:
        session.add(InterviewSession(**{**values, "id": session_ids[values["id"]], "user_id": user_id}))
    session.flush()
    for values in _parents_first(attempts):
        for ref, known in (("session_id", session_ids), ("parent_id", attempt_ids)):
            if values.get(ref) is not None and values[ref] not in known:
                raise ValueError(f"attempt {values['id']} refers to {ref} {values[ref]}, which is not in the export")
        key = values.get("idempotency_key")
        values = {
            **values,
            "id": attempt_ids[values["id"]],
            "user_id": user_id,
            "session_id": session_ids.get(values.get("session_id") or ""),
            "parent_id": attempt_ids.get(values.get("parent_id") or ""),
            "idempotency_key": None if key in taken_keys else key,
        }
        # Added parents first; the unit of work inserts rows of one table in the order they were added.
        session.add(Attempt(**values))
    session.flush()
    drafts = [_fields(Draft, item) for item in data.get("drafts", [])]
    for values in drafts:
        values["session_id"] = session_ids.get(values.get("session_id") or "", NO_SESSION)
        _merge_newer(session, Draft, values, user_id, ("session_id", "question_id"))
    reviews = [_fields(Review, item) for item in data.get("reviews", [])]
    for values in reviews:
        _merge_newer(session, Review, values, user_id, ("question_id",))
    session.flush()
    return {"sessions": len(sessions), "attempts": len(attempts), "drafts": len(drafts), "reviews": len(reviews)}


def _columns(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _order(model: type[Base]) -> list[str]:
    names = [c.name for c in _columns(model).columns]
    first = [name for name in ("created_at", "updated_at") if name in names][:1]
    return first + [c.name for c in _columns(model).primary_key.columns]


def _record(row: Base, excluded: Iterable[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column in _columns(type(row)).columns:
        if column.name in excluded:
            continue
        value = getattr(row, column.name)
        record[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return record


def _fields(model: type[Base], item: Any) -> dict[str, Any]:
    """The columns of one exported record, with datetimes parsed; unknown keys are ignored."""
    if not isinstance(item, dict):
        raise TypeError(f"{model.__tablename__} entries must be objects, got {item!r}")
    values: dict[str, Any] = {}
    for column in _columns(model).columns:
        if column.name not in item or column.name == "user_id":
            continue
        value = item[column.name]
        if isinstance(column.type, UTCDateTime) and value is not None:
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError(f"{column.name} {item[column.name]!r} has no time zone")
        values[column.name] = value
    return values


def _id_map(session: Session, model: type[Base], ids: list[str]) -> dict[str, str]:
    """Exported id -> id to use: the same one unless it is taken in this database."""
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate ids in the export's {model.__tablename__}")
    taken: set[str] = set()
    key = model.id  # type: ignore[attr-defined]
    for start in range(0, len(ids), 500):
        taken.update(session.scalars(select(key).where(key.in_(ids[start : start + 500]))))
    return {old: (new_id() if old in taken else old) for old in ids}


def _parents_first(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {a["id"]: a for a in attempts}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()

    def place(attempt: dict[str, Any], depth: int = 0) -> None:
        if attempt["id"] in placed:
            return
        if depth > len(attempts):
            raise ValueError("attempts refer to each other in a cycle")
        parent = by_id.get(attempt.get("parent_id") or "")
        if parent is not None:
            place(parent, depth + 1)
        placed.add(attempt["id"])
        ordered.append(attempt)

    for attempt in attempts:
        place(attempt)
    return ordered


def _merge_newer(
    session: Session, model: type[_Merged], values: dict[str, Any], user_id: int, keys: tuple[str, ...]
) -> None:
    values = {name: value for name, value in values.items() if name != "id"}
    where = [getattr(model, name) == values[name] for name in keys]
    current = session.scalar(select(model).where(model.user_id == user_id, *where))
    if current is None:
        session.add(model(**values, user_id=user_id))
    elif current.updated_at < values["updated_at"]:
        for name, value in values.items():
            setattr(current, name, value)

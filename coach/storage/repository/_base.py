"""What every repository module shares: Database-or-Session targets, upserts and owner-checked lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, delete, exc, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from coach.errors import NotFound
from coach.storage.db import Database
from coach.storage.tables import Base, utcnow

# A Database (each call is its own transaction, committed before it returns) or a Session from
# `db.write()` / `db.read()` (the call joins that transaction; the `with` block commits it).
Target = Database | Session

M = TypeVar("M", bound=Base)


@contextmanager
def writing(target: Target) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
        target.flush()
    else:
        with target.write() as session:
            yield session


@contextmanager
def reading(target: Target) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
    else:
        with target.read() as session:
            yield session


def now_or(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


def upsert(
    session: Session,
    model: type[Base],
    *,
    values: dict[str, Any],
    keys: Sequence[str],
    update: Sequence[str] = (),
    set_: dict[str, Any] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE: one atomic statement on SQLite and PostgreSQL alike.

    `update` names columns that take the new row's value; `set_` gives other expressions.
    """
    table = model.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    assignments: dict[str, Any] = {name: stmt.excluded[name] for name in update}
    assignments.update(set_ or {})
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=assignments))


def insert_or_find(session: Session, row: M, find: Callable[[], M | None]) -> M:
    """Insert `row`; if a unique constraint says a concurrent transaction inserted its twin first, return
    that one (from `find`). On SQLite, BEGIN IMMEDIATE already serialised the caller's earlier lookup with
    every other writer, so a plain insert suffices (and a savepoint would hide SQLITE_FULL: SQLite rolls
    the transaction back and the savepoint release fails instead)."""
    if session.get_bind().dialect.name == "sqlite":
        session.add(row)
        session.flush()
        return row
    try:
        with session.begin_nested():
            session.add(row)
    except exc.IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing
    return row


def owned(session: Session, model: type[M], *, user_id: int, object_id: object, label: str) -> M:
    """Load a row that belongs to `user_id`; another user's row is reported exactly like a missing one."""
    row = session.get(model, object_id)
    if row is None or getattr(row, "user_id", None) != user_id:
        raise NotFound(f"No {label} {object_id!r} for this account.")
    return row


def count_rows(session: Session, model: type[Base], **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return int(session.scalar(stmt) or 0)


def delete_rows(session: Session, model: type[Base], **where: Any) -> int:
    stmt = delete(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    result: Any = session.execute(stmt)
    return int(result.rowcount or 0)


def purge_deleted_bytes(target: Target) -> bool:
    """After a delete has committed: fold the SQLite WAL in and truncate it, so that with secure_delete=ON
    the deleted text is gone from the -wal and .db bytes. With a Session target the caller commits first
    and then calls `db.checkpoint()` itself."""
    if isinstance(target, Database):
        return target.checkpoint()
    return False

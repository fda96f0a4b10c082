"""Accounts: the CLI's local user, web users, admin switches and account deletion."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coach.errors import InvalidInput, NotFound
from coach.storage.repository._base import (
    Target,
    delete_rows,
    insert_or_find,
    purge_deleted_bytes,
    reading,
    writing,
)
from coach.storage.tables import AuthSession, User, utcnow

LOCAL_USER_NAME = "Local user"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_or_create_local_user(db: Target, *, display_name: str = LOCAL_USER_NAME) -> User:
    """The single user of the command line (no email, no password), created on first use."""

    def find(session: Session) -> User | None:
        return session.scalar(select(User).where(User.is_local.is_(True)))

    with writing(db) as session:
        return find(session) or insert_or_find(
            session, User(display_name=display_name, is_local=True), lambda: find(session)
        )


def create_user(
    db: Target,
    *,
    email: str,
    display_name: str,
    password_hash: str | None = None,
    is_admin: bool = False,
    llm_opt_in: bool = False,
) -> User:
    """Create a web account; the email is stored trimmed and lower-cased."""
    address = normalize_email(email)
    if not address or "@" not in address:
        raise InvalidInput(f"{email!r} is not an email address; give one like name@example.org.")
    taken = InvalidInput(f"An account for {address} already exists; sign in or reset its password.")
    with writing(db) as session:
        if session.scalar(select(User.id).where(User.email == address)) is not None:
            raise taken
        user = User(
            email=address,
            display_name=display_name.strip() or address,
            password_hash=password_hash,
            is_admin=is_admin,
            llm_opt_in=llm_opt_in,
        )
        # On PostgreSQL a concurrent sign-up with the same address can win between the check and the insert.
        if insert_or_find(session, user, lambda: session.scalar(select(User).where(User.email == address))) is not user:
            raise taken
        return user


def find_user_by_email(db: Target, *, email: str) -> User | None:
    with reading(db) as session:
        return session.scalar(select(User).where(User.email == normalize_email(email)))


def find_user(db: Target, *, user_id: int) -> User | None:
    with reading(db) as session:
        return session.get(User, user_id)


def get_user(db: Target, *, user_id: int) -> User:
    user = find_user(db, user_id=user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def list_users(db: Target) -> list[User]:
    with reading(db) as session:
        return list(session.scalars(select(User).order_by(User.id)))


def count_admins(db: Target) -> int:
    """Enabled admins (callers refuse to demote or disable the last one)."""
    with reading(db) as session:
        stmt = select(func.count()).select_from(User).where(User.is_admin.is_(True), User.disabled_at.is_(None))
        return int(session.scalar(stmt) or 0)


def set_user_admin(db: Target, *, user_id: int, is_admin: bool) -> User:
    return _set(db, user_id, is_admin=is_admin)


def set_user_disabled(db: Target, *, user_id: int, disabled: bool) -> User:
    """Disable (or re-enable) an account; disabling also ends all its web sign-ins."""
    with writing(db) as session:
        user = _load(session, user_id)
        if disabled and user.disabled_at is None:
            user.disabled_at = utcnow()
        elif not disabled:
            user.disabled_at = None
        if disabled:
            delete_rows(session, AuthSession, user_id=user_id)
        return user


def set_user_password(db: Target, *, user_id: int, password_hash: str) -> User:
    return _set(db, user_id, password_hash=password_hash)


def set_user_llm_opt_in(db: Target, *, user_id: int, opt_in: bool) -> User:
    return _set(db, user_id, llm_opt_in=opt_in)


def set_user_display_name(db: Target, *, user_id: int, display_name: str) -> User:
    name = display_name.strip()
    if not name:
        raise InvalidInput("A display name cannot be empty.")
    return _set(db, user_id, display_name=name)


def delete_user(db: Target, *, user_id: int) -> None:
    """Delete an account and everything it owns, for good; on SQLite the deleted bytes are purged too."""
    with writing(db) as session:
        _load(session, user_id)
        # ON DELETE CASCADE removes sessions, attempts, drafts, reviews, sign-ins and tokens.
        delete_rows(session, User, id=user_id)
    purge_deleted_bytes(db)


def _load(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def _set(db: Target, user_id: int, **values: object) -> User:
    with writing(db) as session:
        user = _load(session, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        return user

"""Sign-in state: web sessions, API tokens, rate-limit counters and run-time app settings.

Only SHA-256 hashes of session cookies and API tokens are stored; `hash_token` makes them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, literal, select

from coach.errors import NotFound
from coach.storage.repository._base import Target, delete_rows, now_or, owned, reading, upsert, writing
from coach.storage.tables import ApiToken, AppSetting, AuthSession, RateLimit, User, UTCDateTime


def hash_token(token: str) -> str:
    """The stored form of a session cookie or API token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- web sign-in sessions ---------------------------------------------------------------------------


def create_auth_session(
    db: Target,
    *,
    user_id: int,
    token_hash: str,
    expires_at: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> AuthSession:
    with writing(db) as session:
        when = now_or(now)
        row = AuthSession(
            user_id=user_id,
            token_hash=token_hash,
            created_at=when,
            last_seen_at=when,
            expires_at=expires_at,
            ip=ip,
            user_agent=user_agent[:500] if user_agent else None,
        )
        session.add(row)
        session.flush()
        return row


def find_auth_session(db: Target, *, token_hash: str, now: datetime | None = None) -> tuple[AuthSession, User] | None:
    """The live sign-in with this token and its user; None when unknown, expired or the user is disabled."""
    with reading(db) as session:
        found = session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == token_hash, AuthSession.expires_at > now_or(now))
            .where(User.disabled_at.is_(None))
        ).first()
        return (found[0], found[1]) if found else None


def touch_auth_session(
    db: Target, *, session_id: int, now: datetime | None = None, expires_at: datetime | None = None
) -> None:
    """Record activity (for the idle timeout) and optionally move the expiry."""
    with writing(db) as session:
        row = session.get(AuthSession, session_id)
        if row is None:
            raise NotFound(f"No sign-in session {session_id}.")
        row.last_seen_at = now_or(now)
        if expires_at is not None:
            row.expires_at = expires_at


def list_auth_sessions(db: Target, *, user_id: int) -> list[AuthSession]:
    with reading(db) as session:
        stmt = select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.last_seen_at.desc())
        return list(session.scalars(stmt))


def delete_auth_session(db: Target, *, token_hash: str) -> bool:
    """Sign out: True if a session was deleted."""
    with writing(db) as session:
        return delete_rows(session, AuthSession, token_hash=token_hash) > 0


def end_auth_session(db: Target, *, user_id: int, session_id: int) -> None:
    """End one of the user's own sessions (the "your sessions" page); another user's id is NotFound."""
    with writing(db) as session:
        owned(session, AuthSession, user_id=user_id, object_id=session_id, label="sign-in session")
        delete_rows(session, AuthSession, id=session_id)


def delete_auth_sessions(db: Target, *, user_id: int, keep_session_id: int | None = None) -> int:
    """End every session of a user (after a password change, keep the current one)."""
    with writing(db) as session:
        stmt = delete(AuthSession).where(AuthSession.user_id == user_id)
        if keep_session_id is not None:
            stmt = stmt.where(AuthSession.id != keep_session_id)
        result: Any = session.execute(stmt)
        return int(result.rowcount or 0)


def delete_expired_auth_sessions(db: Target, *, now: datetime | None = None) -> int:
    with writing(db) as session:
        result: Any = session.execute(delete(AuthSession).where(AuthSession.expires_at <= now_or(now)))
        return int(result.rowcount or 0)


# --- API tokens -------------------------------------------------------------------------------------


def create_api_token(db: Target, *, user_id: int, name: str, token_hash: str) -> ApiToken:
    with writing(db) as session:
        row = ApiToken(user_id=user_id, name=name.strip() or "token", token_hash=token_hash)
        session.add(row)
        session.flush()
        return row


def find_api_token(db: Target, *, token_hash: str) -> tuple[ApiToken, User] | None:
    """The token and its user; None when unknown or the user is disabled."""
    with reading(db) as session:
        found = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash, User.disabled_at.is_(None))
        ).first()
        return (found[0], found[1]) if found else None


def record_api_token_use(db: Target, *, token_id: int, now: datetime | None = None) -> None:
    with writing(db) as session:
        row = session.get(ApiToken, token_id)
        if row is not None:
            row.last_used_at = now_or(now)


def list_api_tokens(db: Target, *, user_id: int) -> list[ApiToken]:
    with reading(db) as session:
        return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def delete_api_token(db: Target, *, user_id: int, token_id: int) -> None:
    with writing(db) as session:
        owned(session, ApiToken, user_id=user_id, object_id=token_id, label="API token")
        delete_rows(session, ApiToken, id=token_id)


# --- rate limits (fixed windows) --------------------------------------------------------------------


def hit_rate_limit(db: Target, *, key: str, window: timedelta, now: datetime | None = None) -> int:
    """Count one event for `key` and return how many fall in the current window (a new window starts at 1).

    One atomic upsert, so concurrent requests cannot both read the old count.
    """
    when = now_or(now)
    expired = RateLimit.window_start <= when - window
    with writing(db) as session:
        upsert(
            session,
            RateLimit,
            values={"key": key, "window_start": when, "count": 1},
            keys=["key"],
            set_={
                "window_start": case((expired, literal(when, UTCDateTime())), else_=RateLimit.window_start),
                "count": case((expired, 1), else_=RateLimit.count + 1),
            },
        )
        count = session.scalar(select(RateLimit.count).where(RateLimit.key == key))
        return int(count or 0)


def find_rate_limit(db: Target, *, key: str) -> RateLimit | None:
    with reading(db) as session:
        return session.get(RateLimit, key)


def clear_rate_limit(db: Target, *, key: str) -> None:
    """Forget the counter (e.g. after a successful sign-in)."""
    with writing(db) as session:
        delete_rows(session, RateLimit, key=key)


def delete_stale_rate_limits(db: Target, *, before: datetime) -> int:
    """Drop counters whose window started before `before` (housekeeping)."""
    with writing(db) as session:
        result: Any = session.execute(delete(RateLimit).where(RateLimit.window_start < before))
        return int(result.rowcount or 0)


# --- app settings -----------------------------------------------------------------------------------


def find_app_setting(db: Target, *, key: str) -> Any | None:
    with reading(db) as session:
        row = session.get(AppSetting, key)
        return None if row is None else json.loads(row.value)


def get_app_setting(db: Target, *, key: str) -> Any:
    with reading(db) as session:
        row = session.get(AppSetting, key)
        if row is None:
            raise NotFound(f"No app setting {key!r}.")
        return json.loads(row.value)


def set_app_setting(db: Target, *, key: str, value: Any) -> None:
    """Store any JSON-serialisable value."""
    with writing(db) as session:
        upsert(session, AppSetting, values={"key": key, "value": json.dumps(value)}, keys=["key"], update=["value"])


def delete_app_setting(db: Target, *, key: str) -> bool:
    with writing(db) as session:
        return delete_rows(session, AppSetting, key=key) > 0


def list_app_settings(db: Target) -> dict[str, Any]:
    with reading(db) as session:
        return {row.key: json.loads(row.value) for row in session.scalars(select(AppSetting).order_by(AppSetting.key))}

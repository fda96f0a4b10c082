"""Passwords, sign-in sessions and sign-in throttling for the web app.

- Passwords: argon2id (m=19 MiB, t=2, p=1, the ASVS 5.0 / OWASP row), 8 to 128 characters, checked
  exactly as typed, no composition rules, common passwords refused (coach/web/common_passwords.py).
- Sessions: a 256-bit random token in an HttpOnly, SameSite=Lax cookie (`__Host-` and Secure over HTTPS);
  only its SHA-256 is stored. A new token at every sign-in; sign-out deletes the server row. Sessions end
  after 30 minutes without a request or 12 hours after sign-in (ASVS 4.0.3 3.3.2), whichever comes first.
- Throttling: sign-in attempts are counted per account (20 a day) and per client address (300 an hour)
  before the password is checked, so a throttled attempt never reaches the KDF. The per-address budget is
  large on purpose: a classroom behind one NAT must be able to sign in; the per-account budget does the
  real work, and a successful sign-in resets it (an attacker without the password cannot).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from coach.errors import CoachError, InvalidInput
from coach.storage import Database, repository
from coach.storage.tables import AuthSession, User, utcnow
from coach.web.common_passwords import common_passwords

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 128
MAX_PASSWORD_BYTES = 1024  # longer input is refused before any hashing
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_TOUCH_EVERY = timedelta(seconds=60)  # at most one write per minute per session

# argon2id cost rows. Production: ASVS 5.0 Appendix C / OWASP (t=2 needs m >= 19 MiB). Test: the library's
# cheapest parameters, so a test suite that signs in hundreds of times stays fast.
HASH_COSTS = {  # (time_cost, memory_cost in KiB, parallelism)
    "production": (2, 19 * 1024, 1),
    "test": (1, 8, 1),
}


def password_hasher(cost: str) -> PasswordHasher:
    time_cost, memory_cost, parallelism = HASH_COSTS[cost]
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID
    )


T = TypeVar("T")
KDF_SLOTS = 2  # argon2 hashes running at once per process: one per core of the reference 2-core machine
# Sign-ins allowed to wait for a slot. Each waits in one of the request thread pool's 40 threads, so without
# a bound a login storm would take every thread and stall the other pages; beyond it, 503 + Retry-After.
KDF_MAX_WAITING = 16


class KdfBusy(CoachError):
    """Too many sign-ins are already waiting for the password hash (the app answers 503 with Retry-After)."""


class Passwords:
    """Hash and verify passwords; an unknown account is verified against a dummy hash (same time, same answer)."""

    def __init__(self, hasher: PasswordHasher, *, max_concurrent: int = KDF_SLOTS) -> None:
        self.hasher = hasher
        self._dummy = hasher.hash(secrets.token_urlsafe(16))
        self.verify_calls = 0  # read by tests: a throttled attempt must not reach the KDF
        # At most `max_concurrent` hashes at once per process (ASVS 15.2.2), on threads of their own: a storm
        # of sign-ins queues for the KDF instead of taking every CPU, and only these threads ever allocate
        # argon2's 19 MiB, so the memory the C library keeps for later is bounded too (hashing on the 40 request
        # threads, a 60 s login storm grew the process by 540 MB).
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="coach-kdf")
        self._count_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # read by tests and benches: never above max_concurrent
        self.max_waiting = KDF_MAX_WAITING
        self.waiting = 0
        self.refused = 0  # calls turned away because max_waiting were already waiting

    def _run(self, work: Callable[[], T]) -> T:
        """Run `work` on a KDF thread and wait for it; KdfBusy at once when max_waiting already wait."""
        with self._count_lock:
            if self.waiting >= self.max_waiting:
                self.refused += 1
                raise KdfBusy(
                    "Many people are signing in at this moment, so nothing was checked or changed. "
                    "Try again in a few seconds."
                )
            self.waiting += 1

        def counted() -> T:
            with self._count_lock:
                self.waiting -= 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return work()
            finally:
                with self._count_lock:
                    self.in_flight -= 1

        return self._pool.submit(counted).result()

    def hash(self, password: str) -> str:
        return self._run(lambda: self.hasher.hash(password))

    def verify(self, stored: str | None, password: str) -> bool:
        self.verify_calls += 1
        try:
            return self._run(lambda: self.hasher.verify(stored or self._dummy, password)) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return False


def check_new_password(password: str, *, email: str = "") -> None:
    """Raise InvalidInput saying what to change; no composition rules (ASVS 6.2.5)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"Use at least {MIN_PASSWORD_CHARS} characters; a short sentence works well.")
    if len(password) > MAX_PASSWORD_CHARS or len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"Use at most {MAX_PASSWORD_CHARS} characters.")
    lowered = password.lower()
    local = email.strip().lower().split("@", 1)[0]
    if lowered in common_passwords() or lowered == email.strip().lower() or (len(local) >= 4 and lowered == local):
        raise InvalidInput("That password is one of the most common ones (or your email); choose one that is not.")


def acceptable_sign_in_input(password: str) -> bool:
    """Input that cannot be anyone's password is refused without hashing it (a 1 MiB 'password' costs nothing)."""
    return 0 < len(password) <= MAX_PASSWORD_CHARS and len(password.encode()) <= MAX_PASSWORD_BYTES


# --- sessions --------------------------------------------------------------------------------------


def new_session_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG


def start_session(
    db: Database, *, user: User, ip: str | None, user_agent: str | None, now: datetime | None = None
) -> str:
    """Create a server-side session and return the cookie value (a fresh token at every sign-in)."""
    token = new_session_token()
    now = now or utcnow()
    repository.create_auth_session(
        db,
        user_id=user.id,
        token_hash=repository.hash_token(token),
        expires_at=now + SESSION_IDLE,
        ip=ip,
        user_agent=user_agent,
        now=now,
    )
    return token


def resume_session(db: Database, token: str, *, now: datetime | None = None) -> tuple[AuthSession, User] | None:
    """The live session for a cookie value, with its idle expiry moved forward; None when it ended.

    `now` is the app's clock (Services.clock), which tests move forward to check both timeouts.
    """
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    found = repository.find_auth_session(db, token_hash=repository.hash_token(token), now=now)
    if found is None:
        return None
    session, user = found
    if now - session.created_at >= SESSION_ABSOLUTE:
        return None
    if now - session.last_seen_at >= SESSION_TOUCH_EVERY:
        expires = min(now + SESSION_IDLE, session.created_at + SESSION_ABSOLUTE)
        repository.touch_auth_session(db, session_id=session.id, now=now, expires_at=expires)
    return session, user


def end_session(db: Database, token: str) -> None:
    if token:
        repository.delete_auth_session(db, token_hash=repository.hash_token(token))


# --- throttling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: timedelta

    def key(self, subject: str) -> str:
        # Hashed: the table then holds no email addresses of people who have no account here.
        return f"{self.name}:{repository.hash_token(subject.strip().lower())[:40]}"


SIGN_IN_PER_ACCOUNT = Limit("sign-in:account", 20, timedelta(days=1))
SIGN_IN_PER_ADDRESS = Limit("sign-in:address", 300, timedelta(hours=1))
SIGN_UP_PER_ADDRESS = Limit("sign-up:address", 100, timedelta(hours=1))
REAUTH_PER_ACCOUNT = Limit("reauth:account", 20, timedelta(days=1))


class Throttled(Exception):
    """Too many attempts; `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after} seconds.")
        self.retry_after = retry_after


def count_attempt(db: Database, limit: Limit, subject: str, *, now: datetime | None = None) -> None:
    """Count one attempt; raise Throttled when it is over the budget for the current window."""
    when = now or utcnow()
    key = limit.key(subject)
    count = repository.hit_rate_limit(db, key=key, window=limit.window, now=when)
    if count > limit.count:
        row = repository.find_rate_limit(db, key=key)
        start = row.window_start if row is not None else when
        raise Throttled(max(1, int((start + limit.window - when).total_seconds()) + 1))


def forget_attempts(db: Database, limit: Limit, subject: str) -> None:
    repository.clear_rate_limit(db, key=limit.key(subject))

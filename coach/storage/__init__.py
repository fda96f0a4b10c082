"""Storage: SQLite by default (WAL, upgrades itself on open), PostgreSQL optional (`coach db upgrade`).

Open with `db = open_database(settings)`, then call `repository` functions: `repository.store_attempt(db, ...)`.
"""

from coach.storage import repository
from coach.storage.backup import backup, integrity_check, restore
from coach.storage.db import Database, open_database, upgrade
from coach.storage.migrate import head_revision
from coach.storage.tables import (
    ApiToken,
    AppSetting,
    Attempt,
    AuthSession,
    Draft,
    InterviewSession,
    RateLimit,
    Review,
    User,
)

__all__ = [
    "ApiToken",
    "AppSetting",
    "Attempt",
    "AuthSession",
    "Database",
    "Draft",
    "InterviewSession",
    "RateLimit",
    "Review",
    "User",
    "backup",
    "head_revision",
    "integrity_check",
    "open_database",
    "repository",
    "restore",
    "upgrade",
]

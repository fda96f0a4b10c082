"""Retention (COACH_RETENTION_DAYS): answers and drafts older than N days are deleted for good.

`purge_expired` does one pass; `RetentionPurger` runs it in a background thread when the server starts and
then every hour. Each pass is idempotent (a second run finds nothing) and logs counts only, never content.
With SQLite's secure_delete and a WAL checkpoint after the delete, the text is gone from the files too.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from coach.errors import CoachError, InvalidInput
from coach.storage.db import Database
from coach.storage.repository import purge_attempts_before, purge_drafts_before
from coach.storage.tables import utcnow

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    attempts: int
    drafts: int


def purge_expired(db: Database, *, days: int, now: datetime | None = None) -> PurgeResult:
    """Delete every user's answers created, and drafts last saved, more than `days` days before `now`."""
    if days < 1:
        raise InvalidInput(f"Retention must be at least 1 day, not {days}; leave it empty to keep answers.")
    cutoff = (now or utcnow()) - timedelta(days=days)
    attempts = purge_attempts_before(db, before=cutoff)
    drafts = purge_drafts_before(db, before=cutoff)
    log.info(
        "retention purge: deleted %d answers and %d drafts older than %d days (before %s)",
        attempts,
        drafts,
        days,
        cutoff.isoformat(timespec="seconds"),
    )
    return PurgeResult(cutoff=cutoff, attempts=attempts, drafts=drafts)


class RetentionPurger:
    """Runs `purge_expired` at start and then every `every` seconds, in a daemon thread, until stopped."""

    def __init__(self, db: Database, *, days: int, every: float = PURGE_EVERY_SECONDS) -> None:
        if days < 1:
            raise InvalidInput(f"COACH_RETENTION_DAYS must be at least 1, not {days}.")
        self._db, self._days, self._every = db, days, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="coach-retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                purge_expired(self._db, days=self._days)
            except CoachError:
                log.exception("The retention purge failed; it runs again in %.0f s", self._every)
            self.passes += 1
            self._stop.wait(self._every)

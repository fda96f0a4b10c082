"""Domain errors. Shells translate them: the CLI prints the message, the web app renders a page."""

from __future__ import annotations


class CoachError(Exception):
    """Base class for every error the product reports to a person."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(CoachError):
    """A named thing (question, session, attempt) does not exist."""


class InvalidInput(CoachError):
    """Input that cannot be processed: empty, binary, too long, not English, malformed."""

    exit_code = 2


class PackError(CoachError):
    """A question pack that does not follow the format."""

    exit_code = 2


class StorageError(CoachError):
    """The database refused or failed a write; the message says what was kept."""


class StorageFull(StorageError):
    """The disk, or the database's size limit, is full: nothing from the request was saved."""


class ProviderError(CoachError):
    """The optional LLM endpoint failed; callers record it and carry on without it.

    `kind` says how, for the record and the message shown: timeout, unavailable (refused, 5xx, circuit
    open), rate_limited (429 after retries), busy (too many calls in flight), quota (this user's hourly
    calls used up), bad_output (not the JSON asked for, too large, failed a safety check), leak (the
    output echoed the per-request canary), disabled (no endpoint, or the user has not opted in).
    """

    def __init__(self, message: str, *, kind: str = "unavailable") -> None:
        super().__init__(message)
        self.kind = kind

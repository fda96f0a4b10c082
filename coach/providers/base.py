"""The provider interface: send chat messages, get text back, or a ProviderError that says why not."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    model: str


class ChatProvider(Protocol):
    """What the LLM features need from an endpoint. `host` is shown to users before they opt in."""

    host: str
    model: str

    def complete(
        self,
        messages: list[Message],
        *,
        user_key: str,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One chat completion; raises coach.errors.ProviderError (never anything else) on failure.

        `user_key` only selects the caller's quota; it is never sent to the endpoint."""
        ...


@dataclass(frozen=True)
class ProviderLimits:
    timeout: float = 30.0  # seconds for one call (connect, send, wait, read)
    max_tokens: int = 600  # cap on what one call may generate
    max_concurrency: int = 2  # calls in flight at once, across all users of this process
    quota_per_hour: int = 60  # calls per user per rolling hour (0 = no limit)
    retries: int = 1  # extra attempts, for transient errors only (connection refused, 429, 5xx)
    backoff: float = 0.5  # seconds before the first retry, doubled for each further one
    max_response_bytes: int = 256_000  # a larger body is refused as bad output
    breaker_failures: int = 5  # consecutive failures that open the circuit breaker ...
    breaker_seconds: float = 30.0  # ... for this long (calls fail fast meanwhile)


class UsageQuota:
    """Per-user call counts over a rolling hour, kept in this process's memory.

    In memory on purpose: the quota protects the endpoint from one user's bursts and costs no database
    write per call; a restart (or a second server process) starts its own count, which at worst lets a
    user make the hourly number of calls once more."""

    def __init__(self, per_hour: int, *, clock: Any = time.monotonic) -> None:
        self.per_hour = per_hour
        self._clock = clock
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, user_key: str) -> bool:
        """Count one call for the user; False (and nothing counted) when the hour's quota is used up."""
        if self.per_hour <= 0:
            return True
        now = self._clock()
        with self._lock:
            calls = self._calls[user_key]
            while calls and calls[0] <= now - 3600:
                calls.popleft()
            if len(calls) >= self.per_hour:
                return False
            calls.append(now)
            return True

    def remaining(self, user_key: str) -> int:
        if self.per_hour <= 0:
            return 1_000_000
        now = self._clock()
        with self._lock:
            return self.per_hour - sum(1 for t in self._calls.get(user_key, ()) if t > now - 3600)

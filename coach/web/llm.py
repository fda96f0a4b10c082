"""The optional LLM coach in the web app: LLM calls run on their own small thread pool, never in a request
and never before the answer is stored and graded. Each result is an `llm_notes` row ('pending', then
'done' or 'failed'), which the pages poll with htmx. Without an endpoint, or for users who have not opted
in, nothing here runs and nothing leaves the machine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any

import numpy as np

from coach.bank.loader import Bank
from coach.errors import CoachError
from coach.grading.model import Grade
from coach.interview.followups import FollowUp
from coach.llm import coach_feedback, rephrase_follow_up
from coach.llm.feedback import Similarity
from coach.providers.openai_compat import OpenAICompatProvider
from coach.storage import Database, repository
from coach.storage.tables import Attempt, LlmNote, User, utcnow

log = logging.getLogger(__name__)


class LlmCoach:
    def __init__(
        self,
        provider: OpenAICompatProvider,
        db: Database,
        bank: Callable[[], Bank],
        similarity: Callable[[], Similarity | None],
        *,
        max_tokens: int,
    ) -> None:
        self.provider = provider
        self._db = db
        self._bank = bank
        self._similarity = similarity
        self._max_tokens = max_tokens
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        # Two timeouts per call (one retry of bad output) plus slack: older 'pending' notes were orphaned.
        self._stale_after = timedelta(seconds=4 * provider.limits.timeout + 30)
        self._executor = ThreadPoolExecutor(max_workers=provider.limits.max_concurrency, thread_name_prefix="coach-llm")

    @property
    def host(self) -> str:
        return self.provider.host

    def active_for(self, user: User | None) -> bool:
        return user is not None and user.llm_opt_in

    def request(self, user: User, attempt: Attempt, kind: str, follow_up: FollowUp | None = None) -> LlmNote:
        """The note for this graded attempt; the first request for it queues the LLM call. A note left
        'pending' by a server that stopped mid-call is started again once it is clearly stale."""
        note, created = repository.claim_llm_note(self._db, user_id=user.id, attempt_id=attempt.id, kind=kind)
        if not created and note.status == "pending" and utcnow() - note.updated_at > self._stale_after:
            repository.delete_llm_note(self._db, user_id=user.id, note_id=note.id)
            note, created = repository.claim_llm_note(self._db, user_id=user.id, attempt_id=attempt.id, kind=kind)
        if created:
            future = self._executor.submit(self._run, note.id, user.id, attempt.id, kind, follow_up)
            with self._lock:
                self._pending.add(future)
            future.add_done_callback(self._done)
        return note

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def retry(self, user: User, note: LlmNote) -> None:
        if note.status == "failed":
            repository.delete_llm_note(self._db, user_id=user.id, note_id=note.id)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until the calls queued so far have finished (tests use it)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.provider.close()

    def _run(self, note_id: str, user_id: int, attempt_id: str, kind: str, follow_up: FollowUp | None) -> None:
        try:
            attempt = repository.get_attempt(self._db, user_id=user_id, attempt_id=attempt_id)
            question = self._bank().get(attempt.question_id)
            key = f"user:{user_id}"  # selects the quota; never sent
            content: dict[str, Any]
            if kind == "feedback":
                grade = Grade.model_validate(attempt.grade)
                result = coach_feedback(
                    self.provider,
                    question,
                    attempt.answer,
                    grade,
                    user_key=key,
                    similarity=self._similarity(),
                    max_tokens=self._max_tokens,
                )
                content, failed = result.model_dump(mode="json"), result.status != "ok"
                error = result.error
            else:
                assert follow_up is not None
                rephrased = rephrase_follow_up(self.provider, question, follow_up, attempt.answer, user_key=key)
                content, failed, error = rephrased.model_dump(mode="json"), rephrased.source != "llm", rephrased.error
            repository.save_llm_note(
                self._db, note_id=note_id, status="failed" if failed else "done", content=content, error=error
            )
        except CoachError as error:
            self._fail(note_id, error.message)
        except Exception as error:
            log.exception("LLM note %s failed", note_id)
            self._fail(note_id, f"The AI coach failed ({type(error).__name__}); your grade is unaffected.")

    def _fail(self, note_id: str, message: str) -> None:
        try:
            repository.save_llm_note(self._db, note_id=note_id, status="failed", error=message)
        except CoachError:
            log.warning("Could not record the failure of LLM note %s (its answer was deleted?)", note_id)


def embedding_similarity(embed: Callable[[list[str]], np.ndarray]) -> Similarity:
    def similarity(a: str, b: str) -> float:
        vectors = embed([a, b])
        return float(np.dot(vectors[0], vectors[1]))

    return similarity


def make_llm_coach(
    settings: Any, db: Database, bank: Callable[[], Bank], embedder: Callable[[], Any]
) -> LlmCoach | None:
    """The LLM coach when the operator configured an endpoint (COACH_LLM_BASE_URL), else None."""
    from coach.providers import provider_from_settings

    provider = provider_from_settings(settings)
    if provider is None:
        return None

    def similarity() -> Similarity | None:
        model = embedder()
        return embedding_similarity(model.embed_batch) if model is not None else None

    return LlmCoach(provider, db, bank, similarity, max_tokens=settings.llm_max_tokens)

"""Grading off the event loop: one worker thread that loads the grader once and grades stored answers.

While an answer is being written, its autosaved drafts are handed to `prepare_draft`: a second thread embeds
their finished sentences when no answer is waiting (in memory only), so the submitted answer costs only the
sentences written since the last autosave. Nothing depends on it: a cold answer is graded the same way.

An answer is committed first (repository.store_attempt); only its id travels through the queue, so a
restart loses nothing: attempts still 'stored' are queued again when the worker starts. Grading is
CPU-bound (50-200 ms), so one thread per process is enough and keeps the model's threads uncontended;
with several server processes each has its own worker (see the module docstring of coach/cli/serve.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from anyio import to_thread

from coach.bank.loader import Bank
from coach.errors import CoachError
from coach.grading.embedders import Embedder, shared_vectors
from coach.grading.engine import Grader
from coach.interview.session import schedule_attempt
from coach.storage import Database, repository
from coach.storage.tables import Attempt, utcnow

log = logging.getLogger(__name__)


BLAS_THREADS = 1
DRAFTS_KEPT = 256  # the newest draft per (user, question); older writers' drafts are dropped past this


def _limit_blas_threads() -> None:
    """One BLAS thread per process for the NumPy model. Measured on the shared 2-core machine: OpenBLAS's
    default (a thread per core) spent 2.2-2.5 s of CPU per answer against 0.45-0.55 s with one thread, and was
    slower in wall time too, because its spinning threads fight the request threads for the same cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; without it the library's default stays
        return
    threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def _wake(loop: asyncio.AbstractEventLoop, event: asyncio.Event, _job: Future[None]) -> None:
    """Set `event` on its loop from the grading thread; nothing to do once that loop has closed."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(event.set)


class _Stopped(Exception):
    """The worker is stopping: the warm-up thread ends early."""


class GraderUnavailable(CoachError):
    """The grader is not loaded yet (the app answers 503: nothing was stored, and the request can be repeated)."""


class GradingWorker:
    def __init__(
        self,
        db: Database,
        bank: Callable[[], Bank],
        load_grader: Callable[[], Grader],
        *,
        resume: bool = True,
        warm_rubrics: bool = True,
    ) -> None:
        self._db = db
        self._bank = bank
        self._load_grader = load_grader
        self._resume = resume
        self._warm_rubrics = warm_rubrics
        self._stopping = threading.Event()
        self._grader: Grader | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.search_ready = threading.Event()
        self.warm = threading.Event()  # every question's rubric is embedded (first answers are not slower)
        self.load_error: str | None = None
        self._pending = 0  # answers queued or being graded in this process
        self._pending_lock = threading.Lock()
        self._queued: dict[str, Future[None]] = {}  # attempt id -> its job, while queued or being graded here
        self._seconds_per_answer = 0.3  # a moving average of the time one answer takes to grade (expected_wait)
        self._drafts: OrderedDict[Hashable, str] = OrderedDict()  # newest text per writer, oldest first
        self._drafts_changed = threading.Condition()
        self._drafts_busy = False  # a draft is being embedded now
        self._drafts_thread: threading.Thread | None = None

    def start(self) -> None:
        """Start loading the grader (idempotent); queued answers wait for it."""
        with self._lock:
            if self._executor is not None:
                return
            self._stopping.clear()
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coach-grading")
            self._executor.submit(self._load)
        if self._resume:
            for attempt in repository.list_ungraded_attempts(self._db):
                if attempt.status == "stored":
                    self.submit(attempt)

    def _load(self) -> None:
        _limit_blas_threads()
        try:
            self._grader = self._load_grader()
        except Exception as error:  # reported by /readyz; grading jobs mark their attempts failed
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("The grader could not be loaded")
            return
        self.ready.set()
        # Embed every question's rubric, then the questions for search by meaning, once (cached on disk), so
        # neither the first answer to a question nor the first search pays for it: without this, an answer
        # to a question nobody has answered since the start took 3-5x longer to grade. A thread of its own,
        # one question at a time, and it waits while answers are queued: grading goes first.
        threading.Thread(target=self._warm_up, name="coach-warm-up", daemon=True).start()

    @property
    def pending(self) -> int:
        """Answers queued or being graded by this process."""
        return self._pending

    def _wait_for_idle_grader(self) -> None:
        while self._pending > 0 and not self._stopping.is_set():
            time.sleep(0.05)
        if self._stopping.is_set():
            raise _Stopped()

    def _warm_up(self) -> None:
        assert self._grader is not None
        questions = list(self._bank().questions)
        try:
            for question in questions if self._warm_rubrics else []:
                self._wait_for_idle_grader()
                self._grader.prepare(question)
            self.warm.set()
        except _Stopped:
            return
        except Exception:
            log.exception("Could not embed the rubrics in advance; each is embedded at its first answer")
        texts = [q.text for q in questions]
        try:
            for start in range(0, len(texts), 8):
                self._wait_for_idle_grader()
                shared_vectors(self._grader.embedder, texts[start : start + 8])
        except _Stopped:
            return
        except Exception:
            log.exception("Could not prepare search by meaning; searches use words only")
            return
        self.search_ready.set()

    def prepare_draft(self, key: Hashable, text: str) -> bool:
        """Queue an autosaved draft (`key`: whose draft, e.g. (user id, question id)) to have its finished
        sentences embedded in the background, after any answer waiting for its grade. Only the newest draft
        per key is kept, and at most DRAFTS_KEPT keys. Returns False when the grader is not ready (nothing to
        do: the answer is simply embedded at submit)."""
        if not self.ready.is_set() or self._stopping.is_set() or self._grader is None:
            return False
        with self._drafts_changed:
            self._drafts[key] = text
            self._drafts.move_to_end(key)
            while len(self._drafts) > DRAFTS_KEPT:
                self._drafts.popitem(last=False)
            if self._drafts_thread is None or not self._drafts_thread.is_alive():
                self._drafts_thread = threading.Thread(target=self._prepare_drafts, name="coach-drafts", daemon=True)
                self._drafts_thread.start()
            self._drafts_changed.notify_all()
        return True

    def drafts_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued draft is embedded (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._drafts_changed:
            while self._drafts or self._drafts_busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._drafts_changed.wait(remaining)
        return True

    def _prepare_drafts(self) -> None:
        grader = self._grader
        assert grader is not None

        def answers_waiting() -> bool:
            return self._pending > 0 or self._stopping.is_set()

        while not self._stopping.is_set():
            with self._drafts_changed:
                while not self._drafts and not self._stopping.is_set():
                    self._drafts_changed.wait(1.0)
                if self._stopping.is_set():
                    return
                _key, text = self._drafts.popitem(last=False)
                self._drafts_busy = True
            try:
                self._wait_for_idle_grader()  # answers waiting for their grade go first
                # A few sentences at a time; an answer submitted meanwhile pauses the rest (the draft's newer
                # version, or the submitted answer itself, embeds what is left).
                grader.prepare_draft(text, keep_going=lambda: not answers_waiting())
            except _Stopped:
                return
            except Exception:
                log.exception("Could not embed a draft in advance; its answer is embedded when submitted")
            finally:
                with self._drafts_changed:
                    self._drafts_busy = False
                    self._drafts_changed.notify_all()

    def grader(self) -> Grader:
        """The loaded grader (for mock interviews, which grade each answer before choosing a follow-up)."""
        if not self.ready.is_set() or self._grader is None:
            raise GraderUnavailable(
                "The grader is still loading (this takes up to a minute after the server starts). "
                + ("It failed to load: " + self.load_error if self.load_error else "Try again in a moment.")
            )
        return self._grader

    def embedder(self) -> Embedder | None:
        """The loaded grader's embedder (for search by meaning), or None while it loads."""
        return self._grader.embedder if self.search_ready.is_set() and self._grader is not None else None

    def submit(self, attempt: Attempt) -> Future[None]:
        """Queue an attempt (already committed) for grading.

        While the server shuts down the queue is closed: the attempt stays 'stored' and is graded at the next
        start, so the request that stored it still succeeds (it used to fail with a 500 after the commit)."""
        if self._stopping.is_set():
            return self._deferred()
        executor = self._executor
        if executor is None:
            self.start()
            executor = self._executor
        if executor is None:
            return self._deferred()
        with self._pending_lock:
            self._pending += 1
        try:
            job = executor.submit(self._counted_grade, attempt.id, attempt.user_id, time.perf_counter())
        except RuntimeError:  # shut down between the check and the submit
            with self._pending_lock:
                self._pending -= 1
            return self._deferred()
        except BaseException:
            with self._pending_lock:
                self._pending -= 1
            raise
        self._queued[attempt.id] = job
        job.add_done_callback(functools.partial(self._forget, attempt.id))
        return job

    def _forget(self, attempt_id: str, job: Future[None]) -> None:
        if self._queued.get(attempt_id) is job:
            del self._queued[attempt_id]

    def expected_wait(self) -> float:
        """Roughly how many seconds until every answer queued in this process so far is graded."""
        return self._pending * self._seconds_per_answer

    async def wait_for_grade(self, attempt_id: str, *, user_id: int, timeout: float, recheck: float = 0.15) -> Attempt:
        """Wait, without holding a thread, until the attempt is no longer 'stored' or `timeout` seconds pass;
        return it as stored now.

        An attempt queued in this process wakes the waiter the moment its grading job ends. Any other (queued in
        another server process, or not queued yet) is looked up again every `recheck` seconds, a cheap read."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            job = self._queued.get(attempt_id)  # looked up before the read, so a grade saved in between is seen
            attempt = await to_thread.run_sync(
                lambda: repository.get_attempt(self._db, user_id=user_id, attempt_id=attempt_id)
            )
            remaining = deadline - loop.time()
            if attempt.status != "stored" or remaining <= 0:
                return attempt
            if job is None:
                await asyncio.sleep(min(recheck, remaining))
                continue
            # An event rather than awaiting the job: a timeout must never cancel the job (a cancelled job leaves
            # the answer ungraded until the next start), and a job cancelled at shutdown must not cancel us.
            done = asyncio.Event()
            job.add_done_callback(functools.partial(_wake, loop, done))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), remaining)

    @staticmethod
    def _deferred() -> Future[None]:
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def _counted_grade(self, attempt_id: str, user_id: int, queued_at: float) -> None:
        started = time.perf_counter()
        try:
            self._grade(attempt_id, user_id, queued_at)
        finally:
            with self._pending_lock:
                self._pending -= 1
            self._seconds_per_answer = 0.8 * self._seconds_per_answer + 0.2 * (time.perf_counter() - started)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until everything queued so far has been graded (tests and shutdown use it)."""
        if self._executor is None:
            return
        self._executor.submit(lambda: None).result(timeout=timeout)

    def stop(self) -> None:
        self._stopping.set()
        with self._drafts_changed:
            self._drafts.clear()
            self._drafts_changed.notify_all()
        with self._lock:
            if self._executor is not None:
                # Unfinished attempts stay 'stored' in the database and are queued again at the next start.
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None

    def _grade(self, attempt_id: str, user_id: int, queued_at: float) -> None:
        started = time.perf_counter()
        try:
            attempt = repository.get_attempt(self._db, user_id=user_id, attempt_id=attempt_id)
        except CoachError:
            return  # deleted while it waited
        if attempt.status == "graded":
            return
        try:
            if self._grader is None:
                raise RuntimeError(f"the grader is not available ({self.load_error or 'still loading'})")
            question = self._bank().find(attempt.question_id)
            if question is None:
                raise CoachError(f"Question {attempt.question_id!r} is no longer in the bank, so it cannot be graded.")
            # attempt.seconds is the time spent writing, not speaking: the grader's pace figures would be wrong,
            # so the delivery section estimates spoken time from the words instead.
            graded_from, cpu_from = time.perf_counter(), time.thread_time()
            grade = self._grader.grade(question, attempt.answer)
            graded_at, cpu = time.perf_counter(), time.thread_time() - cpu_from
            repository.save_grade(
                self._db,
                attempt_id=attempt_id,
                grade=grade.model_dump(mode="json"),
                score=grade.score,
                engine_version=grade.engine.version,
                counts_toward_progress=grade.counts_toward_progress,
            )
            if attempt.kind == "answer":
                # The question comes back for review when its card says so (the same rule as `coach regrade`).
                schedule_attempt(self._db, user_id=user_id, attempt=attempt, score=grade.score, now=utcnow())
            # One line per answer (no answer text): where its wait went. Grading wall time far above the grading
            # thread's CPU time means it waited for a core or the GIL (the model's second thread is not counted);
            # a long queue time means answers came in faster than they are graded. bench/load_users.py
            # summarises these lines.
            log.info(
                "graded attempt %s: queued %.0f ms, loading %.0f ms, grading %.0f ms (cpu %.0f ms), "
                "saving %.0f ms, %d waiting",
                attempt_id,
                1000 * (started - queued_at),
                1000 * (graded_from - started),
                1000 * (graded_at - graded_from),
                1000 * cpu,
                1000 * (time.perf_counter() - graded_at),
                self._pending - 1,
            )
        except CoachError as error:
            self._fail(attempt_id, error.message)
        except Exception as error:
            log.exception("Grading attempt %s failed", attempt_id)
            self._fail(attempt_id, f"The grader failed ({type(error).__name__}). Your answer is saved; try again.")

    def _fail(self, attempt_id: str, message: str) -> None:
        try:
            repository.mark_attempt_failed(self._db, attempt_id=attempt_id, error=message)
        except CoachError:
            log.exception("Could not record the grading failure of attempt %s", attempt_id)

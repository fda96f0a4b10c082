"""One question at a time: the practice page (timer, autosaved draft), submitting, and the feedback page."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from coach.errors import InvalidInput, NotFound, StorageError, StorageFull
from coach.grading.text import MAX_ANSWER_CHARS, check_answer
from coach.storage import repository
from coach.storage.tables import Attempt, User
from coach.web.deps import MaybeUserDep, ServicesDep, UserDep
from coach.web.render import answer_segments, draft_not_saved_signed_out, parse_grade, render
from coach.web.routes.auth import sign_in_context

router = APIRouter(include_in_schema=False)

# Above the grader's cap, so an over-long answer reaches check_answer and comes back with the text kept.
FORM_ANSWER_MAX = MAX_ANSWER_CHARS * 2
# How long submitting waits for the grade before redirecting, when the grader's queue is short enough for it to
# come in time (one answer takes 0.1-0.5 s here); past it, the feedback page shows the spinner and waits itself.
SUBMIT_WAIT_SECONDS = 1.5
# How long a status request is held while the answer is being graded (well below proxies' read timeouts).
STATUS_HOLD_SECONDS = 5.0


def practice_context(
    services: ServicesDep, user: User, question_id: str, *, previous_id: str | None, text: str | None = None
) -> dict[str, object]:
    question = services.bank.get(question_id)
    previous = None
    if previous_id:
        previous = repository.get_attempt(services.db, user_id=user.id, attempt_id=previous_id)
        if previous.question_id != question_id:
            raise NotFound(f"No attempt {previous_id!r} at this question.")
    draft = repository.find_draft(services.db, user_id=user.id, question_id=question_id)
    return {
        "question": question,
        "entry": services.bank.entry(question_id),
        "previous": previous,
        "previous_grade": parse_grade(previous.grade) if previous else None,
        "text": text if text is not None else (draft.text if draft else ""),
        "draft_saved_at": draft.updated_at if draft and text is None else None,
        "idempotency_key": uuid.uuid4().hex,
        "max_chars": MAX_ANSWER_CHARS,
        "error": None,
        "draft": None,  # drafting from notes: filled in when the form is posted without JavaScript
        "notes": "",
    }


@router.get("/practice/{question_id}")
def practice_page(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    question_id: str,
    previous: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    context = practice_context(services, user, question_id, previous_id=previous or None)
    context["restored"] = bool(request.query_params.get("restored"))
    return render(request, "practice.html", context)


@router.post("/practice/{question_id}/draft")
def save_draft(
    request: Request,
    services: ServicesDep,
    user: MaybeUserDep,
    question_id: str,
    answer: Annotated[str, Form(max_length=FORM_ANSWER_MAX)] = "",
) -> Response:
    """Autosave (htmx, a few seconds after typing stops); answers with a one-line status for the page."""
    if user is None:
        return draft_not_saved_signed_out(request)
    services.bank.get(question_id)
    draft = repository.save_draft(services.db, user_id=user.id, question_id=question_id, text=answer)
    services.worker.prepare_draft((user.id, question_id), answer)  # so the submitted answer grades faster
    return render(request, "_draft_status.html", {"saved_at": draft.updated_at, "error": None})


@router.post("/practice/{question_id}")
async def submit_answer(
    request: Request,
    services: ServicesDep,
    user: MaybeUserDep,
    question_id: str,
    answer: Annotated[str, Form(max_length=FORM_ANSWER_MAX)],
    idempotency_key: Annotated[str, Form(min_length=8, max_length=64)],
    seconds: Annotated[str, Form(max_length=20)] = "",
    previous: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Store the answer (committed), queue it for grading, and go to its feedback page.

    When the grader is free enough to finish within SUBMIT_WAIT_SECONDS, the redirect waits for the grade (on the
    event loop, not in a pool thread), so the feedback page opens graded instead of showing the spinner."""
    stored = await run_in_threadpool(
        _store_answer, request, services, user, question_id, answer, idempotency_key, seconds, previous
    )
    if isinstance(stored, Response):
        return stored
    attempt, queued = stored
    if user is not None and queued and services.worker.expected_wait() <= SUBMIT_WAIT_SECONDS:
        await services.worker.wait_for_grade(attempt.id, user_id=user.id, timeout=SUBMIT_WAIT_SECONDS)
    suffix = f"?previous={previous}" if previous else ""
    return RedirectResponse(f"/attempts/{attempt.id}{suffix}", status_code=303)


def _store_answer(
    request: Request,
    services: ServicesDep,
    user: User | None,
    question_id: str,
    answer: str,
    idempotency_key: str,
    seconds: str,
    previous: str,
) -> Response | tuple[Attempt, bool]:
    """The answer committed and queued (with whether it went to this process's grader), or the page to show."""
    if user is None:
        # The session ended while the answer was being written: ask for the password again and keep the
        # text in the sign-in form, which saves it as the draft once signed in (nothing is stored before).
        notice = "Your session ended while you were writing. Sign in again: your answer is kept and reopened."
        context = sign_in_context(
            next=f"/practice/{question_id}", pending_question=question_id, pending_answer=answer, notice=notice
        )
        return render(request, "sign_in.html", context, status_code=401)
    try:
        check_answer(answer)
    except InvalidInput as error:
        context = practice_context(services, user, question_id, previous_id=previous or None, text=answer)
        context.update(error=error.message, restored=False)
        return render(request, "practice.html", context, status_code=422)
    services.bank.get(question_id)
    try:
        attempt = repository.store_attempt(
            services.db,
            user_id=user.id,
            question_id=question_id,
            answer=answer,
            seconds=_seconds(seconds),
            idempotency_key=idempotency_key,
        )
    except StorageError as error:
        # Nothing was saved: the same page again, with the text in the box and the same key, so a
        # resubmission once space is freed stores the answer once.
        context = practice_context(services, user, question_id, previous_id=previous or None, text=answer)
        full = isinstance(error, StorageFull)
        summary = "Storage is full: your answer was not saved." if full else "Your answer was not saved."
        context.update(
            error=f"{summary} It is still in the box below; copy it somewhere safe or submit again later. "
            f"({error.message})",
            restored=False,
            idempotency_key=idempotency_key,
        )
        return render(request, "practice.html", context, status_code=507 if full else 503)
    queued = attempt.status == "stored" and not services.worker.submit(attempt).done()
    return attempt, queued


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds < 24 * 3600 else None


def _attempt_context(services: ServicesDep, user: User, attempt: Attempt, previous_id: str | None) -> dict[str, object]:
    grade = parse_grade(attempt.grade)
    previous = None
    if previous_id:
        try:
            previous = repository.get_attempt(services.db, user_id=user.id, attempt_id=previous_id)
        except NotFound:
            previous = None
    return {
        "attempt": attempt,
        "question": services.bank.find(attempt.question_id),
        "grade": grade,
        "segments": answer_segments(attempt.answer, grade),
        "previous": previous,
    }


@router.get("/attempts/{attempt_id}")
def attempt_page(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    attempt_id: str,
    previous: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    attempt = repository.get_attempt(services.db, user_id=user.id, attempt_id=attempt_id)
    return render(request, "attempt.html", _attempt_context(services, user, attempt, previous or None))


@router.get("/attempts/{attempt_id}/status")
async def attempt_status(request: Request, services: ServicesDep, user: UserDep, attempt_id: str) -> Response:
    """Asked by the feedback page while grading runs. Held open (without a thread) until the grade is saved or
    STATUS_HOLD_SECONDS pass: 204 + HX-Refresh once graded (htmx reloads the page), else the panel again, whose
    `load` trigger asks at once. The page so shows the grade as soon as it exists, not at the next poll."""
    attempt = await services.worker.wait_for_grade(attempt_id, user_id=user.id, timeout=STATUS_HOLD_SECONDS)
    if attempt.status == "stored":
        return await run_in_threadpool(render, request, "_grading.html", {"attempt": attempt})
    return Response(status_code=204, headers={"hx-refresh": "true"})


@router.post("/attempts/{attempt_id}/retry")
def retry_grading(services: ServicesDep, user: UserDep, attempt_id: str) -> Response:
    """Grade a failed attempt again (the answer was stored; only the grading failed)."""
    attempt = repository.get_attempt(services.db, user_id=user.id, attempt_id=attempt_id)
    if attempt.status == "failed":
        services.worker.submit(attempt)
    return RedirectResponse(f"/attempts/{attempt.id}", status_code=303)


@router.post("/attempts/{attempt_id}/flag")
def flag_grade(
    services: ServicesDep,
    user: UserDep,
    attempt_id: str,
    comment: Annotated[str, Form(max_length=2000)] = "",
    wrong: Annotated[str, Form(max_length=5)] = "1",
) -> Response:
    """The user says the grade is wrong (kept for the operator to review), or takes it back."""
    repository.flag_grade(services.db, user_id=user.id, attempt_id=attempt_id, wrong=wrong == "1", comment=comment)
    return RedirectResponse(f"/attempts/{attempt_id}#flag", status_code=303)

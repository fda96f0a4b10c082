"""The JSON API under /api/v1, authenticated with personal access tokens (`Authorization: Bearer ...`).

Tokens are created on the account page. Cookies are never read here, which is why these routes need no
CSRF token: another site cannot make a browser send the Authorization header without a CORS preflight.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from coach.bank import search as bank_search
from coach.grading.text import MAX_ANSWER_CHARS, check_answer
from coach.storage import repository
from coach.storage.tables import Attempt
from coach.web.deps import ApiUserDep, ServicesDep


class ApiError(BaseModel):
    """Every error: `detail` says what went wrong (a list of field problems when the request did not parse)."""

    detail: str | list[dict[str, Any]]


# The errors any operation can answer with, documented so that clients (and S15's schema checks) expect them.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ApiError, "description": text}
    for code, text in {
        400: "The body is not valid JSON",
        401: "No or unknown personal access token",
        404: "No such question or attempt (another user's attempt is also 404)",
        413: "The request body is larger than the limit",
        422: "The request or the answer is not usable; `detail` says why",
        429: "Too many requests; retry after the `Retry-After` seconds",
        503: "The grader or the database is not available yet",
    }.items()
}
router = APIRouter(tags=["api"], responses=ERRORS)

GRADE_WAIT_SECONDS = 60


class QuestionSummary(BaseModel):
    id: str
    text: str
    role: str
    level: str
    category: str
    type: str
    pack: str
    skills: list[str]


class GradeRequest(BaseModel):
    question_id: str = Field(max_length=200)
    answer: str = Field(
        max_length=MAX_ANSWER_CHARS * 2, description="The answer text (graded up to 20,000 characters)."
    )
    seconds: float | None = Field(
        default=None,
        gt=0,
        lt=86400,
        description="Time spent on the answer, stored with it (the grade estimates spoken time from the words).",
    )
    idempotency_key: str | None = Field(
        default=None, min_length=8, max_length=64, description="Repeat it on a retry: the answer is stored once."
    )


class AttemptOut(BaseModel):
    id: str
    question_id: str
    status: str = Field(description="stored (waiting for the grader), graded or failed")
    answer: str
    seconds: float | None
    score: float | None
    grade: dict[str, Any] | None = Field(description="The grade as documented in docs/grading.md")
    error: str | None
    created_at: datetime
    graded_at: datetime | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptOut:
        return cls(
            id=attempt.id,
            question_id=attempt.question_id,
            status=attempt.status,
            answer=attempt.answer,
            seconds=attempt.seconds,
            score=attempt.score,
            grade=attempt.grade,
            error=attempt.error,
            created_at=attempt.created_at,
            graded_at=attempt.graded_at,
        )


class AttemptSummary(BaseModel):
    id: str
    question_id: str
    status: str
    score: float | None
    created_at: datetime


@router.get("/bank", response_model=list[QuestionSummary])
def list_questions(
    services: ServicesDep,
    _user: ApiUserDep,
    q: Annotated[str, Query(max_length=200)] = "",
    role: Annotated[str | None, Query(max_length=60)] = None,
    level: Annotated[str | None, Query(max_length=40)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    type: Annotated[str | None, Query(max_length=40)] = None,  # noqa: A002
    pack: Annotated[str | None, Query(max_length=80)] = None,
) -> list[QuestionSummary]:
    filters = bank_search.Filters(role=role, level=level, category=category, type=type, pack=pack)
    if q.strip():
        entries = [
            hit.entry
            for hit in bank_search.search(
                services.bank, q, embedder=services.worker.embedder(), filters=filters, limit=50
            )
        ]
    else:
        entries = bank_search.filter_entries(services.bank, filters)
    return [
        QuestionSummary(
            id=e.question.id,
            text=e.question.text,
            role=e.question.role,
            level=e.question.level,
            category=e.question.category,
            type=e.question.type,
            pack=e.pack,
            skills=list(e.question.skills),
        )
        for e in entries
    ]


@router.get("/bank/{question_id}")
def get_question(services: ServicesDep, _user: ApiUserDep, question_id: str) -> dict[str, Any]:
    """The full question: guidance, key points, pitfalls and the example answer."""
    entry = services.bank.entry(question_id)
    return {**entry.question.model_dump(mode="json"), "pack": entry.pack}


@router.post("/grade", response_model=AttemptOut, responses={202: {"description": "Stored; still being graded"}})
async def grade(request: Request, services: ServicesDep, user: ApiUserDep, body: GradeRequest) -> JSONResponse:
    """Store the answer, grade it, and return the attempt (202 with status 'stored' if grading takes too long)."""
    services.bank.get(body.question_id)
    check_answer(body.answer)
    attempt = await run_in_threadpool(
        repository.store_attempt,
        services.db,
        user_id=user.id,
        question_id=body.question_id,
        answer=body.answer,
        seconds=body.seconds,
        idempotency_key=body.idempotency_key,
    )
    if attempt.status == "stored":
        queued = await run_in_threadpool(services.worker.submit, attempt)
        # Still 'stored' after the wait: 202, and the client polls /attempts/{id}. (This used to await the job
        # itself, and the timeout cancelled a job still in the queue: that answer stayed ungraded until a restart.)
        wait = 0 if queued.done() else GRADE_WAIT_SECONDS
        attempt = await services.worker.wait_for_grade(attempt.id, user_id=user.id, timeout=wait)
    code = status.HTTP_202_ACCEPTED if attempt.status == "stored" else status.HTTP_200_OK
    headers = {"location": str(request.url_for("get_attempt", attempt_id=attempt.id))}
    return JSONResponse(AttemptOut.of(attempt).model_dump(mode="json"), status_code=code, headers=headers)


@router.get("/attempts", response_model=list[AttemptSummary])
def list_attempts(
    services: ServicesDep,
    user: ApiUserDep,
    question_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AttemptSummary]:
    """The most recent attempts first."""
    attempts = repository.list_attempts(services.db, user_id=user.id, question_id=question_id)[::-1][:limit]
    return [
        AttemptSummary(id=a.id, question_id=a.question_id, status=a.status, score=a.score, created_at=a.created_at)
        for a in attempts
    ]


@router.get("/attempts/{attempt_id}", response_model=AttemptOut)
def get_attempt(services: ServicesDep, user: ApiUserDep, attempt_id: str) -> AttemptOut:
    return AttemptOut.of(repository.get_attempt(services.db, user_id=user.id, attempt_id=attempt_id))


@router.get("/export")
def export(services: ServicesDep, user: ApiUserDep) -> dict[str, Any]:
    """Everything stored about the token's owner (the same file as the account page's export)."""
    return repository.export_user(services.db, user_id=user.id)

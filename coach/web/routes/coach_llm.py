"""The optional AI coach: the opt-in page, coach feedback and the interviewer's rephrasing (polled by htmx),
and drafting from notes. Every fragment says it comes from an LLM and is not the score of record.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from coach.errors import NotFound
from coach.interview.followups import FollowUp
from coach.llm import draft_answer
from coach.llm.drafting import MAX_NOTES_CHARS
from coach.storage import repository
from coach.storage.tables import Attempt, User
from coach.web.deps import ServicesDep, UserDep
from coach.web.render import render
from coach.web.routes.practice import practice_context

router = APIRouter(include_in_schema=False)

SENT = (
    "the question's text",
    "its rubric (the key points a strong answer covers)",
    "the one answer being coached, or your notes when you ask for a draft",
)
NOT_SENT = "your email, name, account id, other answers, IP address or anything about your sessions"


def _state(services: ServicesDep, user: User) -> dict[str, object]:
    llm = services.llm
    return {
        "llm_configured": llm is not None,
        "llm_host": llm.host if llm is not None else None,
        "llm_model": llm.provider.model if llm is not None else None,
        "opted_in": user.llm_opt_in,
        "sent": SENT,
        "not_sent": NOT_SENT,
    }


@router.get("/settings/ai")
def ai_settings(request: Request, services: ServicesDep, user: UserDep) -> Response:
    context = _state(services, user) | {"done": request.query_params.get("done", "")}
    return render(request, "ai_settings.html", context)


@router.post("/settings/ai")
def save_ai_settings(services: ServicesDep, user: UserDep, opt_in: Annotated[str, Form(max_length=5)] = "") -> Response:
    wanted = opt_in == "1" and services.llm is not None
    repository.set_user_llm_opt_in(services.db, user_id=user.id, opt_in=wanted)
    return RedirectResponse("/settings/ai?done=" + ("on" if wanted else "off"), status_code=303)


def _graded(services: ServicesDep, user: User, attempt_id: str) -> Attempt:
    attempt = repository.get_attempt(services.db, user_id=user.id, attempt_id=attempt_id)
    return attempt


@router.get("/attempts/{attempt_id}/coach/status")
def coach_fragment(request: Request, services: ServicesDep, user: UserDep, attempt_id: str) -> Response:
    """AI coach feedback for one answer: starts the call on first request, then reports its progress."""
    attempt = _graded(services, user, attempt_id)
    context: dict[str, object] = {"attempt": attempt, "note": None} | _state(services, user)
    if services.llm is not None and user.llm_opt_in and attempt.status == "graded":
        context["note"] = services.llm.request(user, attempt, "feedback")
    return render(request, "_coach_feedback.html", context)


@router.post("/attempts/{attempt_id}/coach/retry")
def retry_coach(services: ServicesDep, user: UserDep, attempt_id: str) -> Response:
    attempt = _graded(services, user, attempt_id)
    note = repository.find_llm_note(services.db, user_id=user.id, attempt_id=attempt.id, kind="feedback")
    if note is not None and services.llm is not None:
        services.llm.retry(user, note)
    return RedirectResponse(f"/attempts/{attempt.id}#ai-coach", status_code=303)


@router.get("/attempts/{attempt_id}/interviewer/status")
def interviewer_fragment(request: Request, services: ServicesDep, user: UserDep, attempt_id: str) -> Response:
    """The AI interviewer's wording of the follow-up the planner chose after this answer."""
    attempt = _graded(services, user, attempt_id)
    follow_up = _planned_follow_up(services, user, attempt)
    context: dict[str, object] = {"attempt": attempt, "note": None, "follow_up": follow_up} | _state(services, user)
    if services.llm is not None and user.llm_opt_in and follow_up is not None and attempt.status == "graded":
        context["note"] = services.llm.request(user, attempt, "follow_up", follow_up)
    return render(request, "_coach_interviewer.html", context)


def _planned_follow_up(services: ServicesDep, user: User, attempt: Attempt) -> FollowUp | None:
    if attempt.session_id is None or attempt.kind != "answer":
        return None
    session = repository.get_session(services.db, user_id=user.id, session_id=attempt.session_id)
    for item in session.plan:
        if item.get("question_id") == attempt.question_id and isinstance(item.get("follow_up"), dict):
            return FollowUp.from_dict(item["follow_up"])
    return None


@router.post("/practice/{question_id}/draft-help")
def draft_help(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    question_id: str,
    notes: Annotated[str, Form(max_length=MAX_NOTES_CHARS * 2)] = "",
) -> Response:
    """A draft from the user's notes (LLM, when on and opted in) or a structured outline (always available)."""
    question = services.bank.find(question_id)
    if question is None:
        raise NotFound(f"No question {question_id!r}.")
    provider = services.llm.provider if services.llm is not None and user.llm_opt_in else None
    draft = draft_answer(provider, question, notes, user_key=f"user:{user.id}")
    if request.headers.get("hx-request"):
        return render(request, "_draft_help.html", {"draft": draft, "question": question} | _state(services, user))
    # A plain form POST (no JavaScript): the whole practice page again, with the draft and the notes in place.
    context = practice_context(services, user, question_id, previous_id=None)
    context.update(draft=draft, notes=notes, restored=False)
    return render(request, "practice.html", context)

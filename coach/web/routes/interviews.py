"""Mock interviews in the browser: plan a session, answer each question (and its follow-up), see the report.

The interview logic is coach.interview.Interview; these routes parse forms, call it and render. Its
`submit` grades the answer before choosing a follow-up, so it runs in the request's worker thread (these
are sync routes, served from the thread pool, never on the event loop).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from coach.bank.schema import KNOWN_ROLES, LEVELS
from coach.errors import InvalidInput
from coach.grading.text import MAX_ANSWER_CHARS
from coach.interview import Interview, PlanRequest, check_job_description, extract_job_profile, load_history
from coach.interview.planner import MAX_COUNT, plan_session
from coach.progress import build_report, session_history
from coach.progress.report import score_chart, skills_chart, trend_chart
from coach.storage import repository
from coach.storage.tables import User, utcnow
from coach.web.deps import MaybeUserDep, Services, ServicesDep, UserDep
from coach.web.render import draft_not_saved_signed_out, render
from coach.web.routes.auth import sign_in_context

router = APIRouter(include_in_schema=False)

FORM_ANSWER_MAX = MAX_ANSWER_CHARS * 2


def _interview(services: Services, user: User, session_id: str) -> Interview:
    repository.get_session(services.db, user_id=user.id, session_id=session_id)  # another user's id: 404
    return Interview(
        services.db, bank=services.bank, grader=services.worker.grader(), user_id=user.id, session_id=session_id
    )


def _new_context(services: Services, **values: object) -> dict[str, object]:
    roles = sorted({(q.role, KNOWN_ROLES.get(q.role, q.role_title)) for q in services.bank.questions})
    defaults: dict[str, object] = {"role": "", "level": "", "count": "5", "follow_ups": True, "job": ""}
    return {
        "roles": roles,
        "levels": LEVELS,
        "max_count": MAX_COUNT,
        "values": {**defaults, **values},
        "error": None,
    }


@router.get("/interviews")
def interviews(request: Request, services: ServicesDep, user: UserDep) -> Response:
    history = session_history(services.db, user_id=user.id, limit=50)
    return render(request, "interviews.html", {"sessions": history})


@router.get("/interviews/new")
def new_interview(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    role: Annotated[str, Query(max_length=60)] = "",
    level: Annotated[str, Query(max_length=40)] = "",
    count: Annotated[int, Query(ge=1, le=MAX_COUNT)] = 5,
) -> Response:
    return render(request, "interview_new.html", _new_context(services, role=role, level=level, count=str(count)))


@router.post("/interviews")
def start_interview(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    role: Annotated[str, Form(max_length=60)] = "",
    level: Annotated[str, Form(max_length=40)] = "",
    count: Annotated[int, Form(ge=1, le=MAX_COUNT)] = 5,
    follow_ups: Annotated[str, Form(max_length=5)] = "",
    job: Annotated[str, Form(max_length=60_000)] = "",
) -> Response:
    """Plan the session (which questions, in what order, and why) and start it."""
    try:
        profile = extract_job_profile(check_job_description(job), services.bank.questions) if job.strip() else None
        plan_request = PlanRequest(
            role=role or None, level=level or None, count=count, follow_ups=bool(follow_ups), job=profile
        )
        history = load_history(services.db, bank=services.bank, user_id=user.id)
        plan = plan_session(services.bank, plan_request, history, utcnow())
        interview = Interview.start(
            services.db, bank=services.bank, grader=services.worker.grader(), user_id=user.id, plan=plan
        )
    except InvalidInput as error:
        values = {"role": role, "level": level, "count": str(count), "follow_ups": bool(follow_ups), "job": job}
        context = _new_context(services, **values)
        context["error"] = error.message
        return render(request, "interview_new.html", context, status_code=422)
    return RedirectResponse(f"/interviews/{interview.session_id}", status_code=303)


@router.get("/interviews/{session_id}")
def interview_page(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    session_id: str,
    last: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    row = repository.get_session(services.db, user_id=user.id, session_id=session_id)
    if row.status != "active":
        return RedirectResponse(f"/interviews/{session_id}/report", status_code=303)
    interview = _interview(services, user, session_id)
    ask = interview.next_prompt()
    if ask is None:
        interview.finish()
        return RedirectResponse(f"/interviews/{session_id}/report", status_code=303)
    return render(request, "interview.html", _ask_context(services, user, session_id, ask, last=last))


def _ask_context(
    services: Services, user: User, session_id: str, ask: object, *, last: str = "", text: str | None = None
) -> dict[str, object]:
    previous = None
    if last:
        found = [
            a for a in repository.list_attempts(services.db, user_id=user.id, session_id=session_id) if a.id == last
        ]
        previous = found[0] if found else None
    return {
        "session_id": session_id,
        "ask": ask,
        "text": text if text is not None else (ask.draft or ""),  # type: ignore[attr-defined]
        "last": previous,
        "max_chars": MAX_ANSWER_CHARS,
        "error": None,
    }


@router.post("/interviews/{session_id}/draft")
def save_interview_draft(
    request: Request,
    services: ServicesDep,
    user: MaybeUserDep,
    session_id: str,
    answer: Annotated[str, Form(max_length=FORM_ANSWER_MAX)] = "",
) -> Response:
    if user is None:
        return draft_not_saved_signed_out(request)
    interview = _interview(services, user, session_id)
    ask = interview.next_prompt()
    if ask is None:
        return render(request, "_draft_status.html", {"saved_at": None, "error": "This interview is over."})
    interview.save_draft(ask, answer)
    services.worker.prepare_draft((user.id, f"interview:{session_id}"), answer)
    return render(request, "_draft_status.html", {"saved_at": utcnow(), "error": None})


@router.post("/interviews/{session_id}/answer")
def answer_interview(
    request: Request,
    services: ServicesDep,
    user: MaybeUserDep,
    session_id: str,
    answer: Annotated[str, Form(max_length=FORM_ANSWER_MAX)],
    seconds: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Store the answer (committed), grade it, and move on to its follow-up or the next question."""
    if user is None:
        # The session ended while the answer was being written: the sign-in form keeps the text and, once
        # signed in, saves it as this interview's draft (nothing is stored before the password is checked).
        notice = "Your session ended while you were writing. Sign in again: your answer is kept and reopened."
        context = sign_in_context(
            next=f"/interviews/{session_id}",
            pending_question=f"interview:{session_id}",
            pending_answer=answer,
            notice=notice,
        )
        return render(request, "sign_in.html", context, status_code=401)
    interview = _interview(services, user, session_id)
    try:
        outcome = interview.submit(answer)  # typing time is not speaking time: the grade estimates it
    except InvalidInput as error:
        ask = interview.next_prompt()
        if ask is None:
            raise
        context = _ask_context(services, user, session_id, ask, text=answer)
        context["error"] = error.message
        return render(request, "interview.html", context, status_code=422)
    return RedirectResponse(f"/interviews/{session_id}?last={outcome.attempt_id}", status_code=303)


@router.post("/interviews/{session_id}/skip")
def skip_question(services: ServicesDep, user: UserDep, session_id: str) -> Response:
    _interview(services, user, session_id).skip()
    return RedirectResponse(f"/interviews/{session_id}", status_code=303)


@router.post("/interviews/{session_id}/finish")
def finish_interview(services: ServicesDep, user: UserDep, session_id: str) -> Response:
    _interview(services, user, session_id).finish()
    return RedirectResponse(f"/interviews/{session_id}/report", status_code=303)


@router.get("/interviews/{session_id}/report")
def interview_report(request: Request, services: ServicesDep, user: UserDep, session_id: str) -> Response:
    report = build_report(services.db, bank=services.bank, user_id=user.id, session_id=session_id)
    # The charts are SVG built by coach.progress.report, which escapes every text it puts in them.
    charts = {
        "scores": Markup(score_chart(report)),  # noqa: S704 - SVG built and escaped by coach.progress.report
        "skills": Markup(skills_chart(report)) if report.skills else None,  # noqa: S704 - SVG built and escaped by coach.progress.report
        "trend": Markup(trend_chart(report)) if report.trend else None,  # noqa: S704 - SVG built and escaped by coach.progress.report
    }
    return render(request, "interview_report.html", {"report": report, "charts": charts})

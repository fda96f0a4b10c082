"""The dashboard, the question bank and the history of attempts."""

from __future__ import annotations

import random
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from coach.bank import search as bank_search
from coach.bank.schema import CATEGORIES, KNOWN_ROLES, LEVELS, TYPES
from coach.errors import NotFound
from coach.storage import repository
from coach.web import progress_view
from coach.web.deps import MaybeUserDep, ServicesDep, UserDep
from coach.web.render import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/")
def home(request: Request, services: ServicesDep, user: MaybeUserDep) -> Response:
    if user is None:
        return render(request, "welcome.html", {"questions": len(services.bank), "packs": len(services.bank.packs)})
    summary = progress_view.dashboard(services, user)
    return render(request, "dashboard.html", {"summary": summary, "welcome": request.query_params.get("welcome")})


def _filters(role: str, level: str, category: str, type_: str, pack: str) -> bank_search.Filters:
    return bank_search.Filters(
        role=role or None, level=level or None, category=category or None, type=type_ or None, pack=pack or None
    )


@router.get("/bank")
def bank(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=200)] = "",
    role: Annotated[str, Query(max_length=60)] = "",
    level: Annotated[str, Query(max_length=40)] = "",
    category: Annotated[str, Query(max_length=40)] = "",
    type: Annotated[str, Query(max_length=40)] = "",  # noqa: A002 - the filter's public name
    pack: Annotated[str, Query(max_length=80)] = "",
) -> Response:
    current = services.bank
    filters = _filters(role, level, category, type, pack)
    if q.strip():
        embedder = services.worker.embedder()
        hits = bank_search.search(current, q, embedder=embedder, filters=filters, limit=PAGE_SIZE)
        entries = [hit.entry for hit in hits]
    else:
        entries = bank_search.filter_entries(current, filters)
    graded = repository.list_attempts(services.db, user_id=user.id, status="graded", summary=True)
    practised = {a.question_id: a for a in graded}
    return render(
        request,
        "bank.html",
        {
            "entries": entries,
            "total": len(current),
            "practised": practised,
            "q": q,
            "selected": {"role": role, "level": level, "category": category, "type": type, "pack": pack},
            "options": {
                "role": [(r, KNOWN_ROLES.get(r, r)) for r in sorted({e.question.role for e in current.entries})],
                "level": [(x, x.capitalize()) for x in LEVELS],
                "category": [(x, x.replace("-", " ").capitalize()) for x in CATEGORIES],
                "type": [(x, x.capitalize()) for x in TYPES],
                "pack": [(p.id, p.title or p.id) for p in current.packs],
            },
        },
    )


@router.get("/bank/{question_id}")
def question_page(request: Request, services: ServicesDep, user: UserDep, question_id: str) -> Response:
    entry = services.bank.entry(question_id)
    attempts = repository.list_attempts(services.db, user_id=user.id, question_id=question_id)
    return render(request, "question.html", {"entry": entry, "question": entry.question, "attempts": attempts[::-1]})


@router.get("/practice")
def practice_pick(
    services: ServicesDep,
    user: UserDep,
    role: Annotated[str, Query(max_length=60)] = "",
    level: Annotated[str, Query(max_length=40)] = "",
    category: Annotated[str, Query(max_length=40)] = "",
    type: Annotated[str, Query(max_length=40)] = "",  # noqa: A002
    pack: Annotated[str, Query(max_length=80)] = "",
) -> Response:
    """Open a question matching the filters, preferring ones not yet practised."""
    entries = bank_search.filter_entries(services.bank, _filters(role, level, category, type, pack))
    if not entries:
        raise NotFound("No question matches those filters; widen them on the question bank page.")
    seen = {a.question_id for a in repository.list_attempts(services.db, user_id=user.id)}
    fresh = [e for e in entries if e.question.id not in seen] or entries
    choice = random.choice(fresh)  # not security-sensitive
    return RedirectResponse(f"/practice/{choice.question.id}", status_code=303)


@router.get("/history")
def history(
    request: Request, services: ServicesDep, user: UserDep, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    total = repository.count_attempts(services.db, user_id=user.id)
    start = (page - 1) * PAGE_SIZE
    shown = repository.list_attempts(
        services.db, user_id=user.id, newest_first=True, offset=start, limit=PAGE_SIZE, summary=True
    )
    return render(
        request,
        "history.html",
        {
            "attempts": shown,
            "questions": {a.question_id: services.bank.find(a.question_id) for a in shown},
            "page": page,
            "has_next": start + PAGE_SIZE < total,
            "total": total,
        },
    )

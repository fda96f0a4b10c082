"""Sign-up (the first account becomes the admin), sign-in (throttled) and sign-out."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from coach.errors import InvalidInput, NotFound
from coach.storage import repository
from coach.storage.tables import User
from coach.web import auth
from coach.web.deps import ServicesDep, client_ip, current_session
from coach.web.render import render

router = APIRouter(include_in_schema=False)
# Auth events (ASVS 16.3.1): user ids and addresses, never emails, passwords or answers. %r escapes CR/LF.
log = logging.getLogger("coach.web.auth")

SIGN_IN_FAILED = "That email and password do not match an account. Check both and try again."


def safe_next(target: str | None) -> str:
    """Only paths on this site: never another host (`//evil`, `/\\evil`) or a scheme."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return "/"
    return target


def set_session_cookie(response: Response, services: ServicesDep, token: str) -> None:
    response.set_cookie(
        services.session_cookie,
        token,
        httponly=True,
        samesite="lax",
        secure=services.settings.https,
        path="/",
    )


@router.get("/sign-up")
def sign_up_form(request: Request, services: ServicesDep) -> Response:
    if current_session(request):
        return RedirectResponse("/", status_code=303)
    first = repository.count_admins(services.db) == 0
    return render(
        request,
        "sign_up.html",
        {"open": first or services.signup_open(), "first": first, "error": None, "email": "", "display_name": ""},
    )


@router.post("/sign-up")
def sign_up(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form()],
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    auth.count_attempt(services.db, auth.SIGN_UP_PER_ADDRESS, client_ip(request), now=services.clock())
    first = repository.count_admins(services.db) == 0
    if not first and not services.signup_open():
        return render(
            request,
            "sign_up.html",
            {"open": False, "first": False, "error": None, "email": email, "display_name": display_name},
            status_code=403,
        )
    try:
        auth.check_new_password(password, email=email)
        if "@" not in email or len(email.strip()) < 3:
            raise InvalidInput("Enter an email address such as name@example.org.")
        if repository.find_user_by_email(services.db, email=email) is not None:
            raise InvalidInput("An account with this email already exists. Sign in instead.")
        user = repository.create_user(
            services.db,
            email=email,
            display_name=display_name.strip() or email.split("@", 1)[0],
            password_hash=services.passwords.hash(password),
            is_admin=first,
        )
    except InvalidInput as error:
        context = {"open": True, "first": first, "error": error.message, "email": email, "display_name": display_name}
        return render(request, "sign_up.html", context, status_code=422)
    token = auth.start_session(
        services.db,
        user=user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=services.clock(),
    )
    log.info("sign-up: user %s from %r%s", user.id, client_ip(request), " (admin)" if user.is_admin else "")
    response = RedirectResponse("/?welcome=1", status_code=303)
    set_session_cookie(response, services, token)
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    if current_session(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "sign_in.html", sign_in_context(next=safe_next(next)))


def sign_in_context(*, next: str = "/", email: str = "", error: str | None = None, **pending: str) -> dict[str, object]:  # noqa: A002
    return {
        "next": next,
        "email": email,
        "error": error,
        "pending_question": pending.get("pending_question", ""),
        "pending_answer": pending.get("pending_answer", ""),
        "notice": pending.get("notice", ""),
    }


@router.post("/sign-in")
def sign_in(
    request: Request,
    services: ServicesDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",  # noqa: A002
    pending_question: Annotated[str, Form(max_length=200)] = "",
    pending_answer: Annotated[str, Form()] = "",
) -> Response:
    ip = client_ip(request)
    # Counted before anything else: a throttled attempt never reaches the password hash.
    now = services.clock()
    auth.count_attempt(services.db, auth.SIGN_IN_PER_ADDRESS, ip, now=now)
    auth.count_attempt(services.db, auth.SIGN_IN_PER_ACCOUNT, email, now=now)
    user = repository.find_user_by_email(services.db, email=email) if email.strip() else None
    ok = False
    if auth.acceptable_sign_in_input(password):
        # Unknown accounts are checked against a dummy hash: same work, same answer (no enumeration).
        ok = services.passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled_at is not None:
        log.info("sign-in failed from %r (account %s)", ip, auth.SIGN_IN_PER_ACCOUNT.key(email).split(":")[-1][:12])
        context = sign_in_context(
            next=safe_next(next),
            email=email,
            error=SIGN_IN_FAILED,
            pending_question=pending_question,
            pending_answer=pending_answer,
        )
        return render(request, "sign_in.html", context, status_code=401)
    auth.forget_attempts(services.db, auth.SIGN_IN_PER_ACCOUNT, email)
    if user.password_hash and services.passwords.needs_rehash(user.password_hash):
        repository.set_user_password(services.db, user_id=user.id, password_hash=services.passwords.hash(password))
    auth.end_session(services.db, request.cookies.get(services.session_cookie, ""))
    token = auth.start_session(services.db, user=user, ip=ip, user_agent=request.headers.get("user-agent"), now=now)
    log.info("sign-in: user %s from %r", user.id, ip)
    target = safe_next(next)
    if pending_question and pending_answer.strip():
        target = restore_pending_answer(services, user, pending_question, pending_answer) or target
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, services, token)
    return response


def restore_pending_answer(services: ServicesDep, user: User, where: str, text: str) -> str | None:
    """The session ended while this answer was being written: keep it as the draft and say where to reopen it.

    `where` is a question id (practice) or `interview:<session id>`; another user's or a finished interview
    keeps nothing and returns None (the answer is still on the page the person came from).
    """
    if where.startswith("interview:"):
        from coach.web.routes.interviews import _interview

        session_id = where.split(":", 1)[1]
        try:
            interview = _interview(services, user, session_id)
        except NotFound:
            return None
        ask = interview.next_prompt()
        if ask is None:
            return None
        interview.save_draft(ask, text)
        return f"/interviews/{session_id}?restored=1"
    if where in services.bank:
        repository.save_draft(services.db, user_id=user.id, question_id=where, text=text)
        return f"/practice/{where}?restored=1"
    return None


@router.post("/sign-out")
def sign_out(request: Request, services: ServicesDep) -> Response:
    found = current_session(request)
    auth.end_session(services.db, request.cookies.get(services.session_cookie, ""))
    if found:
        log.info("sign-out: user %s", found[1].id)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(services.session_cookie, path="/", secure=services.settings.https, httponly=True)
    # Clears this site's cookies, storage and cache in the browser (ASVS 14.3.1).
    response.headers["clear-site-data"] = '"cache", "cookies", "storage"'
    return response

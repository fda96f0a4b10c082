"""The account page: export, delete (after re-entering the password), password, sessions and API tokens."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from coach.errors import InvalidInput, NotFound
from coach.storage import repository
from coach.storage.tables import User, utcnow
from coach.web import auth
from coach.web.deps import ServicesDep, UserDep, current_session
from coach.web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("coach.web.auth")

API_TOKEN_PREFIX = "coach_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot


def _account_context(request: Request, services: ServicesDep, user: User, **extra: object) -> dict[str, object]:
    found = current_session(request)
    context: dict[str, object] = {
        "tokens": repository.list_api_tokens(services.db, user_id=user.id),
        "sessions": repository.list_auth_sessions(services.db, user_id=user.id),
        "this_session_id": found[0].id if found else None,
        "attempt_count": len(repository.list_attempts(services.db, user_id=user.id)),
        "new_token": None,
        "message": request.query_params.get("done", ""),
        "errors": {},
    }
    context.update(extra)
    return context


def _reauthenticate(services: ServicesDep, user: User, password: str) -> bool:
    """Check the password again before a destructive change; throttled like sign-in."""
    auth.count_attempt(services.db, auth.REAUTH_PER_ACCOUNT, f"user:{user.id}", now=services.clock())
    if not auth.acceptable_sign_in_input(password):
        return False
    return services.passwords.verify(user.password_hash, password)


@router.get("/account")
def account_page(request: Request, services: ServicesDep, user: UserDep) -> Response:
    return render(request, "account.html", _account_context(request, services, user))


@router.get("/account/export")
def export(services: ServicesDep, user: UserDep) -> Response:
    """Everything stored about the user, as one JSON file (repository.export_user)."""
    data = repository.export_user(services.db, user_id=user.id)
    name = f"interview-coach-export-{utcnow():%Y%m%d}.json"
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.post("/account/delete-data")
def delete_data(request: Request, services: ServicesDep, user: UserDep, password: Annotated[str, Form()]) -> Response:
    if not _reauthenticate(services, user, password):
        context = _account_context(
            request, services, user, errors={"delete_data": "That password is not right; nothing was deleted."}
        )
        return render(request, "account.html", context, status_code=403)
    repository.forget_all(services.db, user_id=user.id)
    log.info("practice data deleted: user %s", user.id)
    return RedirectResponse("/account?done=data-deleted", status_code=303)


@router.post("/account/delete")
def delete_account(
    request: Request, services: ServicesDep, user: UserDep, password: Annotated[str, Form()]
) -> Response:
    if not _reauthenticate(services, user, password):
        context = _account_context(
            request, services, user, errors={"delete_account": "That password is not right; nothing was deleted."}
        )
        return render(request, "account.html", context, status_code=403)
    if user.is_admin and repository.count_admins(services.db) == 1 and len(repository.list_users(services.db)) > 1:
        message = "You are the only admin. Make another account an admin on the admin page first."
        context = _account_context(request, services, user, errors={"delete_account": message})
        return render(request, "account.html", context, status_code=409)
    repository.delete_user(services.db, user_id=user.id)  # sessions and tokens go with it (cascade)
    log.info("account deleted: user %s", user.id)
    response = RedirectResponse("/sign-in?deleted=1", status_code=303)
    response.delete_cookie(services.session_cookie, path="/", secure=services.settings.https, httponly=True)
    response.headers["clear-site-data"] = '"cache", "cookies", "storage"'
    return response


@router.post("/account/password")
def change_password(
    request: Request,
    services: ServicesDep,
    user: UserDep,
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
) -> Response:
    if not _reauthenticate(services, user, current_password):
        context = _account_context(request, services, user, errors={"password": "Your current password is not right."})
        return render(request, "account.html", context, status_code=403)
    try:
        auth.check_new_password(new_password, email=user.email or "")
    except InvalidInput as error:
        context = _account_context(request, services, user, errors={"password": error.message})
        return render(request, "account.html", context, status_code=422)
    repository.set_user_password(services.db, user_id=user.id, password_hash=services.passwords.hash(new_password))
    log.info("password changed: user %s", user.id)
    found = current_session(request)
    repository.delete_auth_sessions(services.db, user_id=user.id, keep_session_id=found[0].id if found else None)
    return RedirectResponse("/account?done=password-changed", status_code=303)


@router.post("/account/sessions/end-others")
def end_other_sessions(request: Request, services: ServicesDep, user: UserDep) -> Response:
    found = current_session(request)
    repository.delete_auth_sessions(services.db, user_id=user.id, keep_session_id=found[0].id if found else None)
    return RedirectResponse("/account?done=sessions-ended", status_code=303)


@router.post("/account/tokens")
def create_token(
    request: Request, services: ServicesDep, user: UserDep, name: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Create a personal access token; it is shown once, on this response, and only its hash is kept."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    repository.create_api_token(
        services.db, user_id=user.id, name=name or "API token", token_hash=repository.hash_token(token)
    )
    return render(request, "account.html", _account_context(request, services, user, new_token=token), status_code=201)


@router.post("/account/tokens/{token_id}/delete")
def delete_token(services: ServicesDep, user: UserDep, token_id: int) -> Response:
    if not 0 < token_id < 2**63:  # no database holds such an id: the same 404 as an unknown or another's token
        raise NotFound(f"No API token {token_id!r} for this account.")
    repository.delete_api_token(services.db, user_id=user.id, token_id=token_id)
    return RedirectResponse("/account?done=token-deleted", status_code=303)

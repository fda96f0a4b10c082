"""FastAPI dependencies: the app's services, the signed-in user, admins, CSRF tokens and API tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from starlette.templating import Jinja2Templates

from coach.bank.loader import Bank, load_bank
from coach.settings import Settings
from coach.storage import Database, repository
from coach.storage.tables import AuthSession, User, utcnow
from coach.web import auth
from coach.web.llm import LlmCoach
from coach.web.security import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, client_address, csrf_token_valid, request_values
from coach.web.worker import GradingWorker

SIGN_UP_SETTING = "signup_open"


@dataclass
class Services:
    """Everything a request handler needs, built once by create_app and kept on app.state."""

    settings: Settings
    db: Database
    secret: str
    passwords: auth.Passwords
    templates: Jinja2Templates
    worker: GradingWorker
    session_cookie: str
    bank: Bank
    # The time every sign-in, session and throttling decision uses; tests replace it to move time forward.
    clock: Callable[[], datetime] = utcnow
    _bank_lock: threading.Lock = field(default_factory=threading.Lock)
    llm: LlmCoach | None = None  # the optional LLM coach (coach/web/llm.py); None unless the operator set one up

    @property
    def packs_dir(self) -> Path:
        """Where packs uploaded by the admin are kept (loaded with the shipped ones)."""
        return self.settings.home / "packs"

    def pack_dirs(self) -> list[Path]:
        dirs = list(self.settings.extra_pack_dirs())
        if self.packs_dir.is_dir():
            dirs.append(self.packs_dir)
        return dirs

    def reload_bank(self) -> Bank:
        with self._bank_lock:
            self.bank = load_bank(self.pack_dirs())
            return self.bank

    def current_bank(self) -> Bank:
        return self.bank

    def signup_open(self) -> bool:
        stored = repository.find_app_setting(self.db, key=SIGN_UP_SETTING)
        return self.settings.signup_open if stored is None else bool(stored)


class SignInRequired(Exception):
    """Raised by `require_user`; the app redirects to the sign-in page (or answers 401 to htmx and the API)."""


class AdminRequired(Exception):
    pass


class CsrfFailed(Exception):
    pass


class ApiAuthRequired(Exception):
    pass


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def current_session(request: Request) -> tuple[AuthSession, User] | None:
    """The browser's live session and user, looked up once per request."""
    values = request_values(request.scope)
    if "session" not in values:
        services = get_services(request)
        token = request.cookies.get(services.session_cookie, "")
        values["session"] = auth.resume_session(services.db, token, now=services.clock()) if token else None
        values["user"] = values["session"][1] if values["session"] else None
    return values["session"]


def current_user(request: Request) -> User | None:
    found = current_session(request)
    return found[1] if found else None


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise SignInRequired()
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if not user.is_admin:
        raise AdminRequired()
    return user


UserDep = Annotated[User, Depends(require_user)]
AdminDep = Annotated[User, Depends(require_admin)]
MaybeUserDep = Annotated[User | None, Depends(current_user)]


async def check_csrf(request: Request) -> None:
    """On every unsafe HTML request: the form field (or the htmx header) must carry this browser's token."""
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached: the route's own Form() parameters read the same parsed form
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    if not csrf_token_valid(request.scope, get_services(request).secret, token):
        raise CsrfFailed()


def client_ip(request: Request) -> str:
    return client_address(request, get_services(request).settings.trusted_proxies)


def api_user(request: Request) -> User:
    """The owner of the Bearer token; cookies are never read on the API."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiAuthRequired()
    services = get_services(request)
    found = repository.find_api_token(services.db, token_hash=repository.hash_token(token.strip()))
    if found is None:
        raise ApiAuthRequired()
    api_token, user = found
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at >= auth.SESSION_TOUCH_EVERY:
        repository.record_api_token_use(services.db, token_id=api_token.id, now=now)
    return user


ApiUserDep = Annotated[User, Depends(api_user)]

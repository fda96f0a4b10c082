"""The web app: `create_app(settings)` wires storage, the bank, the grading worker, routes and protections.

Server-rendered pages (Jinja2, autoescaped) with htmx for autosave and polling; every asset is served from
coach/web/static (htmx 2.0.11 is vendored there, 0BSD). Pages work without JavaScript.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from coach.bank.loader import Bank
from coach.errors import CoachError, InvalidInput, NotFound, PackError, ProviderError, StorageError
from coach.grading.engine import Grader
from coach.settings import Settings
from coach.storage import open_database
from coach.storage.retention import RetentionPurger
from coach.web import auth, backpressure
from coach.web.backpressure import Backpressure
from coach.web.config import resolve_secret_key
from coach.web.deps import (
    AdminRequired,
    ApiAuthRequired,
    CsrfFailed,
    Services,
    SignInRequired,
    check_csrf,
    current_session,
)
from coach.web.llm import make_llm_coach
from coach.web.render import STATIC_DIR, make_templates
from coach.web.security import BodyLimit, CrossSiteGuard, SecurityHeaders, cookie_name, is_api_path
from coach.web.worker import GraderUnavailable, GradingWorker

log = logging.getLogger(__name__)

VERSION = "0.1.0"
COACH_ERROR_STATUS: list[tuple[type[CoachError], int]] = [
    (NotFound, 404),
    (InvalidInput, 422),
    (PackError, 422),
    (StorageError, 503),
    (GraderUnavailable, 503),
    (auth.KdfBusy, 503),
    (ProviderError, 502),
]
RETRY_AFTER_SECONDS = 5
STATUS_TITLES = {
    400: "That request could not be understood",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    422: "Please check what you sent",
    429: "Too many attempts",
    500: "Something went wrong",
    502: "A service did not answer",
    503: "Not available right now",
}


def create_app(settings: Settings, *, grader: Grader | None = None) -> FastAPI:
    """Build the app. `grader` replaces the default one (tests pass the real grader loaded once per run)."""
    db = open_database(settings)
    secret = resolve_secret_key(settings)

    def load_grader() -> Grader:
        if grader is not None:
            return grader
        from coach.api import default_grader

        return default_grader(settings)

    services = Services(
        settings=settings,
        db=db,
        secret=secret,
        passwords=auth.Passwords(auth.password_hasher(settings.password_hash_cost)),
        templates=make_templates(secret),
        # A grader passed in (the tests' shared one) is the caller's to warm; the app's own embeds every rubric.
        worker=GradingWorker(db, lambda: services.bank, load_grader, warm_rubrics=grader is None),
        session_cookie=cookie_name("coach_session", settings.https),
        bank=Bank(),
    )
    services.reload_bank()
    services.llm = make_llm_coach(settings, db, lambda: services.bank, services.worker.embedder)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(services.worker.start)
        # COACH_RETENTION_DAYS: old answers and drafts are deleted now and then hourly (coach/storage/retention.py).
        purger = RetentionPurger(db, days=settings.retention_days) if settings.retention_days else None
        if purger is not None:
            purger.start()
        yield
        if purger is not None:
            purger.stop()
        services.worker.stop()
        if services.llm is not None:
            services.llm.stop()

    development = settings.mode == "development"
    app = FastAPI(
        title="interview-coach",
        version=VERSION,
        summary="Rehearse Responsible-AI and AI-ethics interviews: question bank, grading, progress.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads its scripts from a CDN; the schema alone is served
        redoc_url=None,
        openapi_url="/api/openapi.json" if development else None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.services = services
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    from coach.web.routes import account, admin, api, coach_llm, health, interviews, pages, practice
    from coach.web.routes import auth as auth_routes

    html = [Depends(check_csrf)]
    for module in (auth_routes, pages, practice, interviews, account, admin, coach_llm):
        app.include_router(module.router, dependencies=html)
    app.include_router(health.router)
    app.include_router(api.router, prefix="/api/v1")
    _add_error_handlers(app)

    # Added innermost first: SecurityHeaders wraps everything, including the 403 and 413 answers.
    app.add_middleware(CrossSiteGuard, https=settings.https, render_error=render_error)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, render_error=render_error)
    # Outside the body limit and the routes, inside the headers: a shed request costs nothing but its 503.
    app.add_middleware(Backpressure, max_in_flight=backpressure.MAX_IN_FLIGHT, render_error=render_error)
    app.add_middleware(SecurityHeaders, https=settings.https, render_error=render_error)
    return app


# --- errors ----------------------------------------------------------------------------------------


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The one place errors are rendered: JSON on the API, a fragment for htmx, else error.html."""
    if is_api_path(request.url.path):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    templates = request.app.state.services.templates
    name = "_error.html" if request.headers.get("hx-request") else "error.html"
    context: dict[str, Any] = {"status": status, "title": STATUS_TITLES.get(status, "Error"), "message": message}
    return templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


async def render_error(scope: Scope, status: int, message: str, headers: dict[str, str] | None) -> Response:
    """For the middlewares, which have a scope rather than a request."""
    return error_response(Request(scope), status, message, headers)


def _load_user(request: Request) -> None:
    # Error pages show the navigation of the signed-in user; a failure here must not hide the real error.
    try:
        current_session(request)
    except Exception:
        log.debug("Could not load the session for an error page", exc_info=True)


def _add_error_handlers(app: FastAPI) -> None:
    def handler(exception_type: type[Exception]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            app.add_exception_handler(exception_type, function)
            return function

        return register

    @handler(CoachError)
    async def coach_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, CoachError)
        status = next((code for kind, code in COACH_ERROR_STATUS if isinstance(error, kind)), 400)
        await run_in_threadpool(_load_user, request)
        # 503 is "nothing was saved, send it again shortly" (a busy database, a grader still loading).
        headers = {"retry-after": str(RETRY_AFTER_SECONDS)} if status == 503 else None
        return error_response(request, status, error.message, headers)

    @handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        messages = {
            404: "There is nothing at this address. Check the link, or start from the dashboard.",
            405: "This address does not accept that kind of request.",
        }
        message = messages.get(error.status_code) or str(error.detail)
        await run_in_threadpool(_load_user, request)
        return error_response(request, error.status_code, message, getattr(error, "headers", None))

    @handler(RequestValidationError)
    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        if is_api_path(request.url.path):
            return JSONResponse({"detail": _jsonable(error.errors())}, status_code=422)
        fields = sorted({str(item["loc"][-1]) for item in error.errors() if item.get("loc")})
        message = "Some fields were missing or not valid" + (f": {', '.join(fields)}." if fields else ".")
        await run_in_threadpool(_load_user, request)
        return error_response(request, 422, message)

    @handler(SignInRequired)
    async def sign_in_required(request: Request, _error: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/sign-in?next=" + quote(target if request.method == "GET" else "/", safe="")
        if request.headers.get("hx-request"):
            return error_response(
                request, 401, "Your session has ended. Sign in again to go on.", {"hx-redirect": location}
            )
        return RedirectResponse(location, status_code=303)

    @handler(AdminRequired)
    async def admin_required(request: Request, _error: Exception) -> Response:
        return error_response(request, 403, "Only an admin can open this page.")

    @handler(CsrfFailed)
    async def csrf_failed(request: Request, _error: Exception) -> Response:
        await run_in_threadpool(_load_user, request)
        message = (
            "This form had expired or did not come from this site, so nothing was changed. Reload and send it again."
        )
        return error_response(request, 403, message)

    @handler(ApiAuthRequired)
    async def api_auth_required(request: Request, _error: Exception) -> Response:
        message = "Send a personal access token: `Authorization: Bearer <token>` (create one on the account page)."
        return JSONResponse({"detail": message}, status_code=401, headers={"www-authenticate": "Bearer"})

    @handler(auth.Throttled)
    async def throttled(request: Request, error: Exception) -> Response:
        assert isinstance(error, auth.Throttled)
        logging.getLogger("coach.web.auth").warning(
            "throttled: %s %s from %r", request.method, request.url.path, request.client.host if request.client else "-"
        )
        minutes = max(1, round(error.retry_after / 60))
        message = f"Too many attempts. For your account's safety, try again in about {minutes} minute(s)."
        return error_response(request, 429, message, {"retry-after": str(error.retry_after)})


def _jsonable(errors: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors)

"""Liveness and readiness probes for scripts, containers and `coach serve --get /healthz`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from coach.web.deps import ServicesDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process answers (it says nothing about the grader or the database)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready once the grader is loaded and the database answers; 503 until then."""
    checks = {"grader": services.worker.ready.is_set()}
    try:
        checks["database"] = services.db.schema_revision() is not None
    except Exception:
        checks["database"] = False
    ready = all(checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "starting", "checks": checks}
    if services.worker.load_error:
        body["status"] = "failed"
        body["error"] = services.worker.load_error
    return JSONResponse(body, status_code=200 if ready else 503)

"""Liveness and readiness probes for scripts, containers and `coach serve --get /healthz`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from coach.web.deps import ServicesDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process answers (it says nothing about the grader or the database).

    `async` on purpose: it runs on the event loop, not in the thread pool, so it still answers at once
    when every pool thread is busy, and a slow answer here means the loop itself is blocked.
    """
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
    # Not conditions of readiness: whether every rubric is embedded yet, and answers waiting to be graded.
    body["warm"] = services.worker.warm.is_set()
    body["grading_queue"] = services.worker.pending
    if services.worker.load_error:
        body["status"] = "failed"
        body["error"] = services.worker.load_error
    return JSONResponse(body, status_code=200 if ready else 503)

"""The app as an ASGI factory, for process managers that import it by name in each worker process.

    uvicorn --factory coach.web.asgi:create_app_from_env --workers 2 --host 127.0.0.1 --port 8000
    gunicorn -k uvicorn.workers.UvicornWorker -w 2 'coach.web.asgi:create_app_from_env()'

Each worker process reads the same COACH_* environment, opens its own connection pool to the shared
database and loads its own grader (see docs/deployment.md).
"""

from __future__ import annotations

from fastapi import FastAPI


def create_app_from_env() -> FastAPI:
    """A new app configured from the COACH_* environment (one per worker process)."""
    from coach.settings import Settings
    from coach.web.app import create_app

    return create_app(Settings())

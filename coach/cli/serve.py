"""`coach serve`: the web app on uvicorn, or one response printed with `--get PATH` (smoke checks).

Registers itself on the `coach` app when imported (coach/cli/__init__.py imports it in `_register`).

One process is the tested setup: one grading thread, SQLite for every write. Several processes behind one
proxy also work: sessions and sign-in budgets live in the database, so they are shared; each process loads
the grader (about 600 MB) and has its own grading thread; at start each re-queues the answers still waiting
to be graded, so a restart loses none (two processes starting together may grade one answer twice, which
stores the same grade).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from coach.cli import app
from coach.cli.common import err_console, friendly

WORKER_HEALTHCHECK_SECONDS = 60


@app.command("serve")
@friendly
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    get: Annotated[
        str | None,
        typer.Option(
            "--get", help="Print the response to GET PATH (e.g. /healthz) and exit: 0 if it succeeded.", metavar="PATH"
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Worker processes (each loads its own grader, ~600 MB). Use PostgreSQL for more than one; "
            "see docs/deployment.md.",
        ),
    ] = 1,
) -> None:
    """Serve the web app at http://HOST:PORT (practice, feedback, history; JSON API under /api/v1)."""
    from coach.settings import Settings
    from coach.web.app import create_app
    from coach.web.config import MIN_SECRET_KEY_CHARS, is_loopback
    from coach.web.logs import log_config

    settings = Settings()
    if get is not None:
        _print_response(create_app(settings), get)
        return
    if not is_loopback(host):
        if not settings.secret_key or len(settings.secret_key) < MIN_SECRET_KEY_CHARS:
            err_console.print(
                f"[bold red]Error:[/] refusing to listen on {host} without a secret key. Set COACH_SECRET_KEY to "
                f"{MIN_SECRET_KEY_CHARS}+ random characters (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`), or listen on 127.0.0.1."
            )
            raise typer.Exit(code=2)
        if settings.password_hash_cost != "production":  # noqa: S105 - a cost level, not a password
            err_console.print(
                f"[bold red]Error:[/] COACH_PASSWORD_HASH_COST={settings.password_hash_cost} is for tests only; "
                f"unset it to listen on {host}."
            )
            raise typer.Exit(code=2)
        if not settings.https:
            err_console.print(
                "[yellow]Warning:[/] serving without HTTPS on a network address: passwords and answers travel in "
                "clear text. Put a TLS proxy in front and set COACH_HTTPS=1."
            )
    import uvicorn

    err_console.print(f"Interview Coach at [bold]http://{host}:{port}[/] (the grader loads in the background).")
    # proxy_headers off: X-Forwarded-For is believed only from COACH_TRUSTED_PROXIES, by the app itself.
    if workers > 1:
        # Each process imports the factory and builds its own app, pool and grader from the same environment.
        uvicorn.run(
            "coach.web.asgi:create_app_from_env",
            factory=True,
            workers=workers,
            # uvicorn kills a worker that misses its health ping for 5 s; a busy or CPU-starved worker (grading,
            # loading the model) could then be killed with requests in flight. It was, in the 2-worker bench.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            host=host,
            port=port,
            proxy_headers=False,
            server_header=False,
            log_level="info",
            log_config=log_config(),
        )
        return
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        log_level="info",
        log_config=log_config(),  # the app's auth events, in UTC, one line each (coach/web/logs.py)
    )


def _print_response(web_app: object, path: str) -> None:
    from starlette.testclient import TestClient

    if not path.startswith("/"):
        path = "/" + path
    # No lifespan: the grader is not loaded, so /readyz answers 503 here, truthfully.
    client = TestClient(web_app, base_url="http://127.0.0.1")  # type: ignore[arg-type]
    response = client.get(path, follow_redirects=False)
    sys.stdout.write(response.text)
    if response.text and not response.text.endswith("\n"):
        sys.stdout.write("\n")
    if response.status_code >= 400:
        err_console.print(f"GET {path} answered {response.status_code}.")
        raise typer.Exit(code=1)

"""Shed load early: past a bound on requests in flight, answer 503 with Retry-After at once.

Sync routes share one thread pool of 40 threads; every request beyond that waits for a thread, and under
overload (bench/overload.py: 30 answers a second on a starved 2-core machine) the wait grew past a minute,
longer than a proxy's read timeout, and page views queued behind the answers. With a bound, a request is
either served with a short wait or told at once to come back (nothing was saved; the browser's form and
the API client can send it again). Health probes are never shed, so a monitor sees the process alive.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from coach.web.security import ErrorRenderer

# 40 pool threads plus a short queue: at the ~20 ms a stored answer costs, the queue is a fraction of a second.
MAX_IN_FLIGHT = 64
RETRY_AFTER_SECONDS = 5
NEVER_SHED = ("/healthz", "/readyz")
# The feedback page's status request waits for the grade on the event loop, holding no pool thread (its reads of
# the attempt take one briefly, in turn like any other): neither counted nor shed, so a room of people watching
# the spinner does not turn page views away.
HELD_WITHOUT_A_THREAD = re.compile(r"/attempts/[^/]+/status")


class Backpressure:
    def __init__(self, app: ASGIApp, *, max_in_flight: int, render_error: ErrorRenderer) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.render_error = render_error
        self.in_flight = 0
        self.shed = 0  # read by tests and benches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in NEVER_SHED
            or scope["path"].startswith("/static/")
            or HELD_WITHOUT_A_THREAD.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.shed += 1
            message = "The server is very busy right now, so nothing was saved. Send it again in a few seconds."
            response = await self.render_error(scope, 503, message, {"retry-after": str(RETRY_AFTER_SECONDS)})
            await response(scope, receive, send)
            return
        # One event loop per process: no lock is needed around the counter.
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

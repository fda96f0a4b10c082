"""Protections every response or request goes through: headers, the body limit, CSRF and client addresses.

Three pure ASGI middlewares (outermost first):
- `SecurityHeaders`: CSP without inline script, nosniff, frame-ancestors 'none', Referrer-Policy, no-store
  on everything but static files, HSTS over HTTPS; it also turns an unhandled exception into the generic
  500 page, so that page carries the same headers.
- `BodyLimit`: reads the whole body before the app runs and answers 413 once it passes the limit, whether
  or not a Content-Length was sent (chunked or understated bodies are counted as read).
- `CrossSiteGuard`: refuses unsafe methods from another site (Sec-Fetch-Site, with Origin as the
  fallback) and hands out the CSRF cookie that form tokens are derived from.
The per-form token itself is checked by `deps.check_csrf`, a dependency on every HTML router.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
BASE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
HSTS = "max-age=63072000; includeSubDomains"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_COOKIE_MAX_AGE = 30 * 24 * 3600
SCOPE_KEY = "coach"  # per-request values the middlewares and dependencies share

# (scope, status, message) -> a full response (HTML page, htmx fragment or JSON), built by the app.
ErrorRenderer = Callable[[Scope, int, str, dict[str, str] | None], Awaitable[ASGIApp]]


def request_values(scope: Scope) -> dict[str, Any]:
    return scope.setdefault(SCOPE_KEY, {})


def cookie_name(base: str, https: bool) -> str:
    """`__Host-` cookies must be Secure, Path=/ and without Domain; only possible over HTTPS."""
    return f"__Host-{base}" if https else base


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool, render_error: ErrorRenderer) -> None:
        self.app = app
        self.https = https
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers[name] = value
                if self.https:
                    headers["strict-transport-security"] = HSTS
                # Static files revalidate (ETag) so a new stylesheet shows at once; everything else may hold
                # personal data and is never stored by the browser or a proxy.
                headers["cache-control"] = "no-cache" if static else "no-store"
                if (
                    "content-type" in headers
                    and headers["content-type"].startswith("text/")
                    and ("charset" not in headers["content-type"])
                ):
                    headers["content-type"] += "; charset=utf-8"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            incident = secrets.token_hex(4)
            log.exception("Unhandled error %s on %s %s", incident, scope.get("method"), scope.get("path"))
            if started:
                raise
            message = f"Something went wrong on our side (error {incident}). Your data is safe; try again."
            response = await self.render_error(scope, 500, message, None)
            await response(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, render_error: ErrorRenderer) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as the server's receive would

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = f"{self.max_bytes // 1024:,} KiB" if self.max_bytes >= 1024 else f"{self.max_bytes} bytes"
        message = f"The request is larger than {limit}; nothing was saved. Send less at once."
        response = await self.render_error(scope, 413, message, {"connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class CrossSiteGuard:
    def __init__(self, app: ASGIApp, *, https: bool, render_error: ErrorRenderer) -> None:
        self.app = app
        self.https = https
        self.render_error = render_error
        self.cookie = cookie_name("coach_csrf", https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if scope["method"] not in SAFE_METHODS and not is_api_path(scope["path"]):
            # The JSON API authenticates with a Bearer header only (never cookies), which another site
            # cannot make a browser send without a CORS preflight that this app never grants.
            problem = cross_site_problem(connection, https=self.https)
            if problem:
                response = await self.render_error(scope, 403, problem, None)
                await response(scope, receive, send)
                return
        values = request_values(scope)
        existing = connection.cookies.get(self.cookie, "")
        values["csrf_cookie"] = existing if len(existing) >= 32 else ""
        values["csrf_cookie_name"] = self.cookie

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and values.get("csrf_cookie_new"):
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", self._set_cookie(values["csrf_cookie"]))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _set_cookie(self, value: str) -> str:
        cookie: SimpleCookie = SimpleCookie()
        cookie[self.cookie] = value
        morsel = cookie[self.cookie]
        morsel["path"] = "/"
        morsel["max-age"] = str(CSRF_COOKIE_MAX_AGE)
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if self.https:
            morsel["secure"] = True
        return morsel.OutputString()


def cross_site_problem(connection: HTTPConnection, *, https: bool = False) -> str | None:
    """Why an unsafe request looks cross-site, or None. Requests with neither header (curl) pass.

    Over HTTPS (COACH_HTTPS=1) the Origin must also be https: a plain-http page on the same host (which a
    network attacker can write) does not count as this site. Without it the scheme is not compared, since
    a TLS proxy in front may present https while the app sees http.
    """
    site = connection.headers.get("sec-fetch-site")
    refused = "This form was sent from another site, so it was refused. Reload the page and send it again."
    if site is not None:
        return None if site in ("same-origin", "none") else refused
    origin = connection.headers.get("origin")
    if origin is None:
        return None
    host = connection.headers.get("host", "")
    scheme, _, origin_host = origin.partition("://")
    if origin == "null" or origin_host != host or (https and scheme != "https"):
        return refused
    return None


# --- CSRF tokens -----------------------------------------------------------------------------------


def csrf_token(scope: Scope, secret: str) -> str:
    """The token for forms on this page: an HMAC of the browser's CSRF cookie (set now if it had none)."""
    values = request_values(scope)
    if not values.get("csrf_cookie"):
        values["csrf_cookie"] = secrets.token_urlsafe(32)
        values["csrf_cookie_new"] = True
    return _sign(secret, values["csrf_cookie"])


def csrf_token_valid(scope: Scope, secret: str, token: str | None) -> bool:
    """True when the browser sent its CSRF cookie and `token` was derived from it."""
    values = request_values(scope)
    cookie = values.get("csrf_cookie")
    if not cookie or not token or values.get("csrf_cookie_new"):
        return False
    return hmac.compare_digest(_sign(secret, cookie), token)


def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{value}".encode(), hashlib.sha256).hexdigest()


# --- client addresses ------------------------------------------------------------------------------


def client_address(connection: HTTPConnection, trusted_proxies: str) -> str:
    """The peer's address; X-Forwarded-For is believed only when the peer is a configured proxy.

    Behind trusted proxies, the address is the right-most entry that is not itself a trusted proxy (entries
    to its left were written by the client and prove nothing).
    """
    peer = connection.client.host if connection.client else "unknown"
    trusted = _networks(trusted_proxies)
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded = ",".join(connection.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in spec.split(","):
        item = item.strip()
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                log.warning("Ignoring COACH_TRUSTED_PROXIES entry %r: not an address or network", item)
    return networks


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)

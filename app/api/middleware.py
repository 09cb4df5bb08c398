"""ASGI middleware: refuse oversized request bodies early; add security headers; keep
redirects relative; name the replica that answered.

Plain ASGI rather than BaseHTTPMiddleware: these run on every request, and the plain form
adds no task or stream copy per request.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import URL
from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Everything the page needs is served by this server: scripts, styles, data, images.
# Plotly sets inline style attributes on the SVG it draws, hence 'unsafe-inline' for styles
# only; no inline or remote script can run.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Request bodies are at most `max_body_bytes`, whether or not they declare their size."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"content-length" in headers and b"chunked" in headers.get(b"transfer-encoding", b""):
            # Two framings of one body: whichever a proxy believes, the other can smuggle a
            # second request (RFC 9112, 6.3). Refused, as the RFC allows.
            await _send_error(
                send, 400, "send either Content-Length or chunked Transfer-Encoding, not both"
            )
            return
        too_large = (
            f"the request body is larger than {self.max_body_bytes} bytes; "
            "send less text (see the limits in /openapi.json)"
        )
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _send_error(send, 413, too_large)
            return
        received = 0

        async def counted_receive() -> Message:
            # A chunked body has no Content-Length: count it as it arrives. FastAPI passes an
            # HTTPException raised while it reads the body on to the JSON error handler.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(status_code=413, detail=too_large)
            return message

        await self.app(scope, counted_receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class RelativeRedirects:
    """A redirect names a path, never a host. Starlette writes some redirects absolute, with
    the host taken from the request's Host header (redirect_slashes: `GET /docs/` with
    `Host: evil.example` went to http://evil.example/docs), so whoever sets Host, or a cache
    keyed without it, chose where a client is sent. Here every redirect to this server's own
    host loses its scheme and host, whichever route or middleware wrote it; one to another
    host (the app makes none) is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                own_host = URL(scope=scope).netloc.lower()
                message["headers"] = [
                    (name, _relative(value, own_host) if name.lower() == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, relative)


def _relative(location: bytes, own_host: str) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    if not parts.netloc or parts.netloc.lower() != own_host:
        return location
    # A path that starts with two slashes (or a slash and a backslash, which browsers read
    # alike) would name a host again.
    path = "/" + parts.path.lstrip("/\\")
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{path}{query}{fragment}".encode("latin-1")


class HeadAsGet:
    """HEAD is GET without the body (RFC 9110, 9.3.2): a GET route answers it, headers and
    all, and the body is left out here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


class ReplicaHeader:
    """Every response says which replica answered (X-Replica): behind a proxy, that is how a
    client, a test or a log tells the replicas apart."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.header = (b"x-replica", name.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_name(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, with_name)

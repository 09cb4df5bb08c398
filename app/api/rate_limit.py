"""A per-client rate limit on the routes that compute: every POST under /api/v1 (attention,
align, explain, generate, the lessons, and any route added there later), GET /api/v1/report
and the head roles. Pages, static files, /healthz and /metrics are never limited.

One moving window per client address, kept by the `limits` package in this process's memory,
or in Redis so that replicas share it. Middleware rather than a dependency per route: a route
added under /api/v1 is covered without anyone remembering to, and a refused request costs no
body parsing.

The client address is the TCP peer. X-Forwarded-For names the client only when the peer is
one of ATTN_TRUSTED_PROXIES; from anyone else it is ignored, since a client can write any
address in it. The check is here, with `ipaddress`, rather than left to uvicorn's
--forwarded-allow-ips: it is the app's own setting, shown with the others, it holds under any
ASGI server and in in-process tests, and it walks the header from the right, so a client
cannot hide behind an address it wrote on the left. (uvicorn rewrites the peer from the header
for its own trusted list, 127.0.0.1 and ::1 by default, before the app sees it; the two agree.)
"""

import ipaddress
import logging
import math
import time
from collections.abc import Sequence

import anyio.to_thread
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse

from app.api.middleware import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


API_PREFIX = "/api/v1/"


def computes(scope: Scope) -> bool:
    """Whether an HTTP request is one of those that compute (HEAD arrives here as GET)."""
    method, path = scope["method"], route_path(scope)
    if not path.startswith(API_PREFIX):
        return False
    if method == "POST":
        return True
    return method == "GET" and (
        path == "/api/v1/report" or (path.startswith("/api/v1/models/") and path.endswith("/heads"))
    )


def route_path(scope: Scope) -> str:
    # Behind a proxy that serves the app under a prefix (uvicorn --root-path), the path the
    # routes see is the part after it.
    path = str(scope["path"])
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _parse_address(text: str) -> Address | None:
    """An address from a header entry: '203.0.113.7', '2001:db8::1', also with a port
    ('203.0.113.7:4711', '[2001:db8::1]:4711'), as some proxies write them."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(scope: Scope, proxies: Sequence[Network]) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    address in X-Forwarded-For that is not one of the trusted proxies. Each proxy appends
    the address it received from, so the header is read from the right; what a client wrote
    itself stands on the left and is never reached while a trusted hop names someone else."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    address = _parse_address(peer)
    if not _trusted(address, proxies):
        return peer
    hops = [
        hop
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    chosen = peer
    for hop in reversed(hops):
        hop_address = _parse_address(hop)
        if hop_address is None:
            break  # not an address: stop at the last hop a trusted proxy vouched for
        chosen = str(hop_address)
        if not _trusted(hop_address, proxies):
            break
    return chosen


def client_key(address: str) -> str:
    """The rate limit's key for an address. An IPv6 client usually holds a whole /64 and can
    pick any address in it, so all of the /64 shares one key."""
    parsed = _parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return address


class ClientRateLimiter:
    def __init__(self, rate: str, storage_uri: str, trusted_proxies: Sequence[Network]) -> None:
        self.items: list[RateLimitItem] = parse_many(rate)
        # wrap_exceptions: every storage failure arrives as one error type, StorageError.
        self.storage = storage_from_string(storage_uri, wrap_exceptions=True)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.trusted_proxies = list(trusted_proxies)
        # Memory answers in microseconds, on the event loop; a network store (Redis) is
        # asked from a worker thread, so its round trip never stalls other requests.
        self.local = isinstance(self.storage, MemoryStorage)

    async def _hit(self, item: RateLimitItem, key: str) -> bool:
        if self.local:
            return self.limiter.hit(item, key)
        return await anyio.to_thread.run_sync(self.limiter.hit, item, key)

    async def _reset_time(self, item: RateLimitItem, key: str) -> float:
        if self.local:
            return self.limiter.get_window_stats(item, key).reset_time
        stats = await anyio.to_thread.run_sync(self.limiter.get_window_stats, item, key)
        return stats.reset_time

    async def refusal(self, scope: Scope) -> JSONResponse | None:
        """A 429 if this request's client is over the limit, else None (and the request is
        counted)."""
        key = client_key(client_address(scope, self.trusted_proxies))
        try:
            for item in self.items:
                if not await self._hit(item, key):
                    wait = await self._reset_time(item, key) - time.time()
                    return too_many_requests(item, max(1, math.ceil(wait)))
        except StorageError as error:
            # A limit whose store is down must not take the API down with it: let it pass.
            log.warning("rate limit storage failed, request let through: %s", error)
        return None


def too_many_requests(item: RateLimitItem, retry_after_s: int) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={
            "detail": (
                f"too many requests from your address: this server allows {item} on its "
                f"computing routes; retry in {retry_after_s} s"
            )
        },
        headers={"Retry-After": str(retry_after_s)},
    )


class RateLimit:
    """ASGI middleware: a request to a limited route over its client's limit gets a 429."""

    def __init__(self, app: ASGIApp, limiter: ClientRateLimiter | None) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is not None and scope["type"] == "http" and computes(scope):
            refusal = await self.limiter.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

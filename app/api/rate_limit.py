"""A per-client rate limit on the routes that compute: every POST under /api/v1 (attention,
align, explain, generate, the lessons, and any route added there later), GET /api/v1/report
and the head roles. Pages, static files, /healthz and /metrics are never limited.

One moving window per client address, kept by the `limits` package in this process's memory,
or in Redis so that replicas share it. Middleware rather than a dependency per route: a route
added under /api/v1 is covered without anyone remembering to, and a refused request costs no
body parsing.

A Redis store that fails or hangs is handled as the shared cache handles it
(app/api/redis_backoff.py, one back-off per server): each question waits at most
ATTN_REDIS_TIMEOUT_S, and while Redis is away (ATTN_REDIS_RETRY_S at a time) the same limit is
counted in this process's memory instead, so a client is still limited, per replica.

The client address is the TCP peer. X-Forwarded-For names the client only when the peer is
one of ATTN_TRUSTED_PROXIES (by default none); from anyone else it is ignored, since a client
can write any address in it. The check is here, with `ipaddress`, rather than left to
uvicorn's --forwarded-allow-ips: it is the app's own setting, shown with the others, it holds
under any ASGI server and in in-process tests, and it walks the header from the right, so a
client cannot hide behind an address it wrote on the left. uvicorn must therefore not rewrite
the peer itself (it would, from any loopback peer, by default): every way the project starts
it passes --no-proxy-headers.
"""

import ipaddress
import math
import time
from collections.abc import Sequence

import anyio.to_thread
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse

from app.api.middleware import ASGIApp, Receive, Scope, Send
from app.api.redis_backoff import RedisBackoff, client_options

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


API_PREFIX = "/api/v1/"
# The `limits` package's plain Redis storage, whose client takes redis-py's options.
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")


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
    """The limit `rate` counted in `storage_uri`: 'memory://', or a network store (Redis) that
    is asked for at most `timeout_s` at a time and set aside by `backoff` when it fails."""

    def __init__(
        self,
        rate: str,
        storage_uri: str,
        trusted_proxies: Sequence[Network],
        *,
        timeout_s: float | None = None,
        backoff: RedisBackoff | None = None,
    ) -> None:
        self.items: list[RateLimitItem] = parse_many(rate)
        self.trusted_proxies = list(trusted_proxies)
        # Memory answers in microseconds, on the event loop: it is the only store, or the
        # stand-in while the network store is away.
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.remote: MovingWindowRateLimiter | None = None
        self.backoff = backoff
        if not storage_uri.startswith("memory://"):
            if backoff is None or timeout_s is None:
                raise ValueError("a network store needs a timeout and a back-off")
            # The client options are Redis's; another store (memcached...) keeps its own.
            scheme = storage_uri.split("://")[0]
            options = client_options(timeout_s) if scheme in REDIS_SCHEMES else {}
            # wrap_exceptions: every storage failure arrives as one error type, StorageError.
            storage = storage_from_string(storage_uri, wrap_exceptions=True, **options)
            if not isinstance(storage, Storage):
                raise ValueError(f"{storage_uri!r} names an asyncio store; name a plain one")
            self.remote = MovingWindowRateLimiter(storage)
            backoff.used_by("the rate limit counts in this process's memory")

    async def refusal(self, scope: Scope) -> JSONResponse | None:
        """A 429 if this request's client is over the limit, else None (and the request is
        counted)."""
        key = client_key(client_address(scope, self.trusted_proxies))
        if self.remote is not None and self.backoff is not None and self.backoff.should_ask():
            # A network store is asked from a worker thread, so its round trip never stalls
            # other requests.
            try:
                answer = await anyio.to_thread.run_sync(_refusal, self.remote, self.items, key)
            except StorageError as error:
                self.backoff.failed(error)
            else:
                self.backoff.worked()
                return answer
        return _refusal(self.local, self.items, key)


def _refusal(
    limiter: MovingWindowRateLimiter, items: Sequence[RateLimitItem], key: str
) -> JSONResponse | None:
    for item in items:
        if not limiter.hit(item, key):
            wait = limiter.get_window_stats(item, key).reset_time - time.time()
            return too_many_requests(item, max(1, math.ceil(wait)))
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

"""How the app talks to a Redis that may be down or hung: short timeouts, no retries, and a
back-off shared by everything that uses the same server (the run cache's shared tier,
app/api/shared_cache.py, and the rate limit's counters, app/api/rate_limit.py).

A Redis that hangs (a stopped process, a full network buffer) accepts connections and never
answers, so each question waits its whole socket timeout. Asked on every request, that is one
timeout per request; here it is one per window: the first failure sets the server aside for
ATTN_REDIS_RETRY_S, while its users do without it (the cache computes locally, the rate limit
counts in this process), and then a single request asks again, the others still doing without
it until that one has an answer. The failure and the return are logged once each.
"""

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)


def where(url: str) -> str:
    """The server of a Redis URL without its password or database, for logs and as the key
    its users share a back-off by."""
    parts = urlsplit(url)
    if parts.hostname is None:  # a Unix socket
        return f"{parts.scheme}://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"


def client_options(timeout_s: float) -> dict[str, Any]:
    """Keyword arguments for a redis-py client (redis.Redis.from_url, or the `limits`
    package's Redis storage, which hands them on): every connect and every answer waits at
    most `timeout_s`, and a failed command is not retried, since the back-off decides when
    Redis is asked again."""
    return {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }


class RedisBackoff:
    """Whether to ask one Redis server now. Thread-safe: the users ask from worker threads."""

    def __init__(self, url: str, retry_s: float) -> None:
        self.where = where(url)
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0
        self._probing = False
        self._fallbacks: list[str] = []
        self.failures = 0

    def used_by(self, fallback: str) -> None:
        """A user of this server says what it does without it, for the log."""
        self._fallbacks.append(fallback)

    @property
    def down(self) -> bool:
        return self._down

    def should_ask(self) -> bool:
        """True while Redis answers; while it is away, False until the window has passed,
        then True for one caller (the probe) and False for the rest until its answer."""
        with self._lock:
            if not self._down:
                return True
            if self._probing or time.monotonic() < self._retry_at:
                return False
            self._probing = True
            return True

    def failed(self, error: Exception) -> None:
        with self._lock:
            self.failures += 1
            self._retry_at = time.monotonic() + self.retry_s
            self._probing = False
            if self._down:
                return
            self._down = True
        log.warning(
            "Redis at %s failed (%s); until it answers, %s; it is asked again every %.0f s",
            self.where,
            error,
            "; ".join(self._fallbacks) or "it is not used",
            self.retry_s,
        )

    def worked(self) -> None:
        with self._lock:
            self._probing = False
            if not self._down:
                return
            self._down = False
        log.warning("Redis at %s answers again", self.where)


class RedisBackoffs:
    """One back-off per Redis server, so that users of the same server learn together that it
    hangs: a request then waits for it once, not once in the rate limit and again in the
    cache."""

    def __init__(self, retry_s: float) -> None:
        self.retry_s = retry_s
        self._by_server: dict[str, RedisBackoff] = {}

    def for_url(self, url: str) -> RedisBackoff:
        server = where(url)
        if server not in self._by_server:
            self._by_server[server] = RedisBackoff(url, self.retry_s)
        return self._by_server[server]

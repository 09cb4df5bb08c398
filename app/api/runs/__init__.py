"""The run service and what it speaks: specs, checked runs, cache status."""

from app.api.runs.service import CacheStatus, CheckedRun, RunKey, RunService, cache_headers
from app.api.runs.spec import RunSpec

__all__ = ["CacheStatus", "CheckedRun", "RunKey", "RunService", "RunSpec", "cache_headers"]

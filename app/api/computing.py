"""Which requests compute: every POST under /api/v1 (attention, align, explain, generate, the
lessons, and any route added there later), GET /api/v1/report and the head roles. The rate
limit applies to them, and the metrics watch them for clients that leave."""

from app.api.middleware import Scope

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

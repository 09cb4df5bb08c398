"""What became of each request: the status it was answered with, and whether its client left
before the answer was complete. app/api/metrics.py counts both.

Whoever notices a client gone marks the request's scope: CancelWhenClientLeaves
(app/api/abandon.py) for the API routes, a generation for itself (app/api/events.py,
app/api/routes/generate.py). The mark travels in the scope, which the app hands down as one
dict, so no part needs to know about the metrics.
"""

from collections.abc import Callable

from app.api.middleware import ASGIApp, Message, Receive, Scope, Send

ABANDONED = "attention_visualizer.abandoned"


def mark_abandoned(scope: Scope) -> None:
    """The client of this request left before its answer was complete."""
    scope[ABANDONED] = True


class RequestOutcomes:
    """Tells `on_done` each request's status and whether it was marked abandoned."""

    def __init__(self, app: ASGIApp, on_done: Callable[[int, bool], None]) -> None:
        self.app = app
        self.on_done = on_done  # (status, abandoned), once per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def watched_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            self.on_done(status, bool(scope.get(ABANDONED, False)))

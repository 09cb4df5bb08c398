"""What became of each request: the status it was answered with, and whether its client left
before the answer was complete. app/api/metrics.py counts both."""

from collections.abc import Callable

import anyio

from app.api.computing import computes
from app.api.middleware import ASGIApp, Message, Receive, Scope, Send


def _has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


class RequestOutcomes:
    """Tells `on_done` each request's status and whether it was abandoned: on the computing
    routes (app/api/computing.py), its client disconnected before the response's last byte.

    A server notices a client gone only while someone waits on receive() (uvicorn reads the
    socket only then), and a route that returns one JSON body never does. So once a computing
    request's body is in, a watcher waits on receive() for the rest of the request, and the
    app's own later calls (a generation listening for its client) are answered from what the
    watcher hears: one reader of the server's messages, as ASGI expects."""

    def __init__(self, app: ASGIApp, on_done: Callable[[int, bool], None]) -> None:
        self.app = app
        self.on_done = on_done  # (status, abandoned), once per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        complete = gone = False
        heard = anyio.Event()  # the server said http.disconnect (also after the response)
        kept: list[Message] = []  # a bodyless request's one body message, read by us first
        watching = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass  # an empty body message some servers send again: nothing to keep
            gone = not complete
            heard.set()

        async def watched_receive() -> Message:
            nonlocal watching, gone
            if kept:
                return kept.pop()
            if watching:
                await heard.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":  # gone while sending its body
                gone = not complete
                heard.set()
            elif not message.get("more_body", False):
                watching = True
                group.start_soon(watch)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        if not computes(scope):  # a page or a file: only its status counts, no watcher
            try:
                await self.app(scope, receive, watched_send)
            finally:
                self.on_done(status, False)
            return
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            if not _has_body(scope):
                # Nothing to wait for: take the empty body now and start watching.
                kept.append(await watched_receive())
            try:
                await self.app(scope, watched_receive, watched_send)
            except Exception as error:  # kept out of the task group's ExceptionGroup
                failure = error
            group.cancel_scope.cancel()
        self.on_done(status, gone)
        if failure is not None:
            raise failure

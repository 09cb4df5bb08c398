"""Work for a client that has gone is not done: its request is cancelled when it disconnects.

A request waiting for an inference slot leaves the queue at once and never runs; one whose
work has started stops waiting for it (a forward pass on a gate thread runs to its end and
its run is cached; the slot is handed on as soon as it is free). Without this, 20 clients
that send a long text and hang up make the next user wait for 20 runs nobody reads.

Plain ASGI: after the app has read the request body, the only message left to receive is
the disconnect, so a watcher task listens for it and cancels the request's task group. A
GET has no body: the watcher reads its one empty message first and hands it on if the app
asks. Streamed routes (Server-Sent Events) notice disconnects themselves and are left out.
"""

from collections.abc import Callable

import anyio

from app.api.middleware import ASGIApp, Message, Receive, Scope, Send

_BODYLESS = ("GET", "HEAD", "DELETE", "OPTIONS")


class CancelWhenClientLeaves:
    def __init__(
        self,
        app: ASGIApp,
        prefixes: tuple[str, ...],
        exempt: frozenset[str],
        on_abandoned: Callable[[Scope], None] = lambda scope: None,
    ) -> None:
        self.app = app
        self.prefixes = prefixes
        self.exempt = exempt
        self.on_abandoned = on_abandoned

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.exempt or not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        body_read = anyio.Event()
        gone = anyio.Event()
        early: list[Message] = []  # read by the watcher before the app asked for it
        answered = False  # the whole response was sent: a disconnect now is a normal close

        async def app_send(message: Message) -> None:
            nonlocal answered
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True

        async def app_receive() -> Message:
            if early:
                return early.pop()
            if body_read.is_set():
                await gone.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
            elif not message.get("more_body", False):
                body_read.set()
            return message

        async def watch(cancel: anyio.CancelScope) -> None:
            if scope["method"] in _BODYLESS and not body_read.is_set():
                message = await receive()
                if message["type"] != "http.disconnect":
                    early.append(message)
                    body_read.set()
            else:
                await body_read.wait()
                message = await receive()
            while message["type"] != "http.disconnect":
                message = await receive()
            gone.set()
            if not answered:
                self.on_abandoned(scope)
                cancel.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(watch, group.cancel_scope)
            try:
                await self.app(scope, app_receive, app_send)
            finally:
                group.cancel_scope.cancel()  # answered (or cancelled): stop watching

"""Server-Sent Events: the wire format, and a response whose producer stops when its client
leaves.

An event is `event: <name>` and `data: <one line of JSON>`, ended by a blank line (the
text/event-stream format of the HTML standard). The producer runs in a cancel scope that a
watcher cancels when the client disconnects, wherever the producer is waiting (for a slot of
the inference gate, for a step, or for the network), so whatever it holds is let go at once.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api.outcomes import mark_abandoned

Emit = Callable[[str, Any], Awaitable[None]]
Producer = Callable[[Emit], Awaitable[None]]

EVENT_STREAM = "text/event-stream"


class ClientGone(Exception):
    """An event could not be delivered: the connection failed, or the client stopped reading."""


def event_frame(name: str, data: Any) -> bytes:
    """One event; `data` is serialized as one line of JSON (numpy arrays as nested lists)."""
    payload = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


def accepts_event_stream(accept: str) -> bool:
    """Whether an Accept header names text/event-stream."""
    return any(part.split(";")[0].strip().lower() == EVENT_STREAM for part in accept.split(","))


async def until_disconnected(receive: Receive, work: Callable[[], Awaitable[None]]) -> bool:
    """Run `work`, cancelled as soon as the client disconnects; True if it ran to its end.

    Call it once the request body has been read: the server's next message is then the
    disconnect. An exception from `work` is raised as itself.
    """
    finished = False
    failure: Exception | None = None
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            await work()
            finished = True
        except Exception as error:  # kept out of the task group's ExceptionGroup
            failure = error
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return finished


class EventStreamResponse(Response):
    """A 200 text/event-stream whose events come from `produce(emit)`, stopped when the client
    disconnects or takes longer than `send_timeout_s` to take one event (a client that stops
    reading must not hold what the producer holds)."""

    media_type = EVENT_STREAM

    def __init__(self, produce: Producer, send_timeout_s: float) -> None:
        self.produce = produce
        self.send_timeout_s = send_timeout_s
        self.status_code = 200
        self.background = None
        # no-cache: every event is new; X-Accel-Buffering: a proxy (nginx) must pass each on.
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

        async def emit(name: str, data: Any) -> None:
            frame = event_frame(name, data)
            try:
                with anyio.fail_after(self.send_timeout_s):
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            except (OSError, TimeoutError) as error:
                # OSError: how a server on ASGI spec 2.4 reports a client gone.
                raise ClientGone(str(error)) from error

        try:
            finished = await until_disconnected(receive, lambda: self.produce(emit))
        except ClientGone:
            finished = False
        if finished:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            mark_abandoned(scope)

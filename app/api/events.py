"""Server-Sent Events: the wire format, and a response whose client can hold up nobody but
itself.

An event is `event: <name>` and `data: <one line of JSON>`, ended by a blank line (the
text/event-stream format of the HTML standard). The producer never sends: it writes each event
into a bounded buffer of the stream's own (`EventBuffer`), and the response sends from there,
giving the client `send_timeout_s` to take each event. A producer that holds something others
wait for (a model slot) offers events without waiting and lets go of it when the buffer is
full; a client that takes no event in time loses its stream: the connection is closed. The
producer runs in a cancel scope that a watcher cancels when the client disconnects, wherever
it is waiting, so whatever it holds is let go at once.
"""

from collections.abc import Awaitable, Callable

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api.outcomes import mark_abandoned

EVENT_STREAM = "text/event-stream"

# An event goes out in pieces of at most this size: the server buffers what a client does
# not take only up to the piece it is on, and a client that stops reading leaves no more than
# that behind when its stream is closed.
SEND_PIECE_BYTES = 64 * 1024


class ClientGone(Exception):
    """An event could not be delivered: the connection failed, or the client stopped reading."""


def event_frame(name: str, data: bytes) -> bytes:
    """One event; `data` is one line of JSON."""
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def accepts_event_stream(accept: str) -> bool:
    """Whether an Accept header names text/event-stream."""
    return any(part.split(";")[0].strip().lower() == EVENT_STREAM for part in accept.split(","))


class EventBuffer:
    """Where a producer writes a stream's events (`data` already one line of JSON); at most the
    buffer's size wait for the client."""

    def __init__(self, frames: MemoryObjectSendStream[bytes]) -> None:
        self._frames = frames

    def offer(self, name: str, data: bytes) -> bool:
        """Write the event if there is room now; False when the buffer is full: the client
        reads slower than the producer writes."""
        try:
            self._frames.send_nowait(event_frame(name, data))
        except anyio.WouldBlock:
            return False
        return True

    async def put(self, name: str, data: bytes) -> None:
        """Write the event once there is room: a wait on the client, so never call it holding
        what others wait for."""
        await self._frames.send(event_frame(name, data))


Producer = Callable[[EventBuffer], Awaitable[None]]


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
    """A 200 text/event-stream whose events come from `produce(buffer)` through a buffer of
    `buffer_events`; stopped when the client disconnects or takes longer than `send_timeout_s`
    to take one event."""

    media_type = EVENT_STREAM

    def __init__(self, produce: Producer, *, send_timeout_s: float, buffer_events: int) -> None:
        self.produce = produce
        self.send_timeout_s = send_timeout_s
        self.buffer_events = buffer_events
        self.status_code = 200
        self.background = None
        # no-cache: every event is new; X-Accel-Buffering: a proxy (nginx) must pass each on.
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            finished = await until_disconnected(receive, lambda: self._relay(send))
        except ClientGone:
            finished = False
        if finished:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            mark_abandoned(scope)

    async def _relay(self, send: Send) -> None:
        """Produce into the buffer and deliver from it at once; ClientGone if the client does
        not keep up."""
        frames_in, frames_out = anyio.create_memory_object_stream[bytes](self.buffer_events)
        gone: ClientGone | None = None
        # The receiving end closes only once the producer has stopped, so a producer waiting
        # for room is cancelled, never told that nobody reads.
        with frames_out:
            async with anyio.create_task_group() as group:

                async def produce() -> None:
                    with frames_in:  # closed once produced: delivery ends after the last
                        await self.produce(EventBuffer(frames_in))

                group.start_soon(produce)
                try:
                    await self._deliver(frames_out, send)
                except ClientGone as error:  # kept out of the task group's ExceptionGroup
                    gone = error
                    group.cancel_scope.cancel()
        if gone is not None:
            raise gone

    async def _deliver(self, frames: MemoryObjectReceiveStream[bytes], send: Send) -> None:
        async for frame in frames:
            try:
                with anyio.fail_after(self.send_timeout_s):
                    for start in range(0, len(frame), SEND_PIECE_BYTES):
                        piece = frame[start : start + SEND_PIECE_BYTES]
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
            except (OSError, TimeoutError) as error:
                # OSError: how a server on ASGI spec 2.4 reports a client gone.
                raise ClientGone(str(error) or "the client took no event in time") from error

"""POST /api/v1/generate: a decoder-only model writes greedily, one token per step, and every
step's attention row travels with its token: as Server-Sent Events while the model writes
(Accept: text/event-stream), or as one JSON body at the end.

A generation runs each step on the inference gate's threads, holding one slot of the gate
while the model writes. It never holds the slot while waiting on its client: the events go
through a bounded buffer of the stream's own (app/api/events.py), and when the buffer is full
the slot is let go until the client has taken an event; the generation then queues again for
its next step. A client that disconnects cancels it between steps. Which row a step shows:
app/zoo/stepping.py.
"""

import logging
from typing import Any, Protocol

import anyio.to_thread
import orjson
from fastapi import APIRouter, Request, Response

from app.api.client_costs import OverBudgetError
from app.api.costs import Cost, generation_cost
from app.api.deps import RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.events import (
    EVENT_STREAM,
    EventBuffer,
    EventStreamResponse,
    accepts_event_stream,
    until_disconnected,
)
from app.api.inference import InferenceGate, ServerBusyError
from app.api.outcomes import mark_abandoned
from app.api.runs.validation import check_text, new_token_budget
from app.api.schemas.generate import GenerateOut, GenerateRequest
from app.api.strict_json import StrictJSONRoute
from app.attention.errors import InputError
from app.attention.ops.encode import Encoding, encode
from app.zoo.registry import Registry
from app.zoo.stepping import Step, StepToken, StepwiseGeneration

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["generate"], route_class=StrictJSONRoute)

EVENTS_DESCRIPTION = """With `Accept: text/event-stream`, Server-Sent Events, each `data` one
line of JSON: `start` (model, prompt tokens, max_new_tokens), then one `step` per token
written (a StepOut, as it is written), then `done` (output_text, tokens, stop); an `error`
(detail) ends the stream instead if generating fails. Without that header, one JSON body
(GenerateOut) at the end."""

FAILED = "The server failed while generating; it has been logged."


class Events(Protocol):
    """Where a generation writes its events, each `data` one line of JSON."""

    def offer(self, name: str, data: bytes) -> bool:
        """Write it if there is room now; False when the client is behind."""

    async def put(self, name: str, data: bytes) -> None:
        """Write it once there is room."""


class CollectedEvents:
    """The JSON form's events, kept for one body that is sent once the generation is over (and
    its slot let go): there is always room."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    def offer(self, name: str, data: bytes) -> bool:
        self.events.append((name, data))
        return True

    async def put(self, name: str, data: bytes) -> None:
        self.events.append((name, data))

    def body(self) -> bytes:
        """start's fields, the steps, then done's fields (the steps are copied, not parsed)."""
        fields: dict[str, Any] = {}
        steps = [orjson.Fragment(data) for name, data in self.events if name == "step"]
        for name, data in self.events:
            if name == "start":
                fields.update(orjson.loads(data), steps=steps)
            elif name == "done":
                fields.update(orjson.loads(data))
        return orjson.dumps(fields)


def _json(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def _token(token: StepToken) -> dict[str, Any]:
    return {"text": token.text, "id": token.id, "special": token.special}


def _step(step: Step, encoding: Encoding) -> bytes:
    return _json(
        {
            "step": step.index,
            "token": _token(step.token),
            "query": step.query,
            "shape": list(step.rows.shape),
            "encoding": encoding,
            "data": encode(step.rows, encoding),
        }
    )


async def _generate(
    model_id: str,
    generation: StepwiseGeneration,
    gate: InferenceGate,
    cost: Cost | None,
    encoding: Encoding,
    events: Events,
) -> None:
    """Write start, every step as it is written, then done. The slot is held while the model
    writes and `events` has room; a step that finds no room waits for it with the slot let
    go, and the next step queues for a slot again, in the place in line its request had
    (app/api/inference.py; `cost`: the whole generation's, estimated before it starts)."""
    prompt = [_token(t) for t in generation.prompt]
    start = {"model": model_id, "prompt": prompt, "max_new_tokens": generation.budget}
    await events.put("start", _json(start))
    while generation.stop is None:
        held_back: bytes | None = None
        async with gate.holding(cost) as slot:
            while generation.stop is None and held_back is None:
                # Encoded on the gate thread too: the event loop only sends.
                step = await slot.run(lambda: _step(generation.step(), encoding))
                if not events.offer("step", step):
                    held_back = step
        if held_back is not None:
            await events.put("step", held_back)
    tokens = [_token(t) for t in (*generation.prompt, *generation.written)]
    done = {"output_text": generation.text(), "tokens": tokens, "stop": generation.stop}
    await events.put("done", _json(done))


def _check_decoder(model_id: str, family: str, registry: Registry) -> None:
    if family != "decoder":
        decoders = [info.id for info in registry.infos() if info.family == "decoder"]
        raise InputError(
            f"model '{model_id}' is an {family} model; generation step by step follows a "
            "decoder-only model writing its continuation token by token. Models that do: "
            f"{', '.join(decoders) or 'none'}."
        )


@router.post(
    "/generate",
    summary="Greedy generation step by step: each token with its attention row",
    description=EVENTS_DESCRIPTION,
    response_model=GenerateOut,
    responses={
        **ERROR_RESPONSES,
        200: {
            "description": "The steps: one JSON body, or Server-Sent Events as they are written",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        },
    },
)
async def generate(
    request: GenerateRequest,
    http: Request,
    runs: RunsDep,
) -> Response:
    adapter = runs.adapter(request.model)
    settings, gate = runs.settings, runs.gate
    check_text(request.text, "text", settings.max_chars)
    _check_decoder(adapter.info.id, adapter.info.family, runs.registry)
    budget = new_token_budget(request.max_new_tokens, settings)
    # Tokenizing only (no torch): off the event loop, but not in the gate's queue, so a bad
    # prompt is a 4xx at once, before any stream begins.
    generation = await anyio.to_thread.run_sync(
        lambda: adapter.generation(request.text, max_new_tokens=budget)
    )
    model_id, encoding = adapter.info.id, request.encoding
    cost = generation_cost(adapter, len(generation.prompt), generation.budget)

    if accepts_event_stream(http.headers.get("accept", "")):

        async def stream(events: EventBuffer) -> None:
            try:
                await _generate(model_id, generation, gate, cost, encoding, events)
            except (InputError, ServerBusyError, OverBudgetError) as error:
                await events.put("error", _json({"detail": str(error)}))
            except Exception:
                log.exception("generation failed: model %s", model_id)
                await events.put("error", _json({"detail": FAILED}))

        return EventStreamResponse(
            stream,
            send_timeout_s=settings.stream_send_timeout_s,
            buffer_events=settings.stream_buffer_events,
        )

    collected = CollectedEvents()
    finished = await until_disconnected(
        http.receive, lambda: _generate(model_id, generation, gate, cost, encoding, collected)
    )
    if not finished:
        mark_abandoned(http.scope)  # the response goes nowhere; it is counted as abandoned
    return Response(collected.body(), media_type="application/json")

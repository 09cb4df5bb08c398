"""POST /api/v1/generate: a decoder-only model writes greedily, one token per step, and every
step's attention row travels with its token: as Server-Sent Events while the model writes
(Accept: text/event-stream), or as one JSON body at the end.

The generation holds one slot of the inference gate from its first step to its last and runs
each step on the gate's threads; a client that disconnects cancels it between steps and frees
the slot (see app/api/events.py). Which row a step shows: app/zoo/stepping.py.
"""

import logging
from typing import Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Request, Response

from app.api.deps import RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.events import (
    EVENT_STREAM,
    ClientGone,
    Emit,
    EventStreamResponse,
    accepts_event_stream,
    until_disconnected,
)
from app.api.inference import InferenceGate, ServerBusyError
from app.api.outcomes import mark_abandoned
from app.api.runs.validation import check_text, new_token_budget
from app.api.schemas.generate import GenerateOut, GenerateRequest
from app.attention.errors import InputError
from app.attention.ops.encode import Encoding, encode
from app.zoo.registry import Registry
from app.zoo.stepping import Step, StepToken, StepwiseGeneration

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["generate"])

EVENTS_DESCRIPTION = """With `Accept: text/event-stream`, Server-Sent Events, each `data` one
line of JSON: `start` (model, prompt tokens, max_new_tokens), then one `step` per token
written (a StepOut, as it is written), then `done` (output_text, tokens, stop); an `error`
(detail) ends the stream instead if generating fails. Without that header, one JSON body
(GenerateOut) at the end."""

FAILED = "The server failed while generating; it has been logged."


def _token(token: StepToken) -> dict[str, Any]:
    return {"text": token.text, "id": token.id, "special": token.special}


def _step(step: Step, encoding: Encoding) -> dict[str, Any]:
    return {
        "step": step.index,
        "token": _token(step.token),
        "query": step.query,
        "shape": list(step.rows.shape),
        "encoding": encoding,
        "data": encode(step.rows, encoding),
    }


async def _generate(
    model_id: str,
    generation: StepwiseGeneration,
    gate: InferenceGate,
    encoding: Encoding,
    emit: Emit,
) -> None:
    """Emit start, every step as it is written, then done."""
    async with gate.holding() as slot:
        prompt = [_token(t) for t in generation.prompt]
        await emit(
            "start", {"model": model_id, "prompt": prompt, "max_new_tokens": generation.budget}
        )
        while generation.stop is None:
            # Encoding on the gate thread too: the event loop only sends.
            await emit("step", await slot.run(lambda: _step(generation.step(), encoding)))
    tokens = [_token(t) for t in (*generation.prompt, *generation.written)]
    done = {"output_text": generation.text(), "tokens": tokens, "stop": generation.stop}
    await emit("done", done)


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
    # prompt is a 4xx at once and a good one queues once, for its steps.
    generation = await anyio.to_thread.run_sync(
        lambda: adapter.generation(request.text, max_new_tokens=budget)
    )
    model_id, encoding = adapter.info.id, request.encoding

    if accepts_event_stream(http.headers.get("accept", "")):

        async def stream(emit: Emit) -> None:
            try:
                await _generate(model_id, generation, gate, encoding, emit)
            except ClientGone:
                raise
            except (InputError, ServerBusyError) as error:
                await emit("error", {"detail": str(error)})
            except Exception:
                log.exception("generation failed: model %s", model_id)
                await emit("error", {"detail": FAILED})

        return EventStreamResponse(stream, send_timeout_s=settings.queue_timeout_s)

    body: dict[str, Any] = {}  # start's fields, the steps, then done's fields

    async def collect(name: str, data: Any) -> None:
        if name == "step":
            body["steps"].append(data)
        else:
            body.update(data if name == "done" else {**data, "steps": []})

    finished = await until_disconnected(
        http.receive, lambda: _generate(model_id, generation, gate, encoding, collect)
    )
    if not finished:
        mark_abandoned(http.scope)  # the response goes nowhere; it is counted as abandoned
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )

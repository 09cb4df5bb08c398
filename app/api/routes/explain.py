from fastapi import APIRouter

from app.api.deps import RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.runs import RunSpec
from app.api.schemas.explain import ExplainOut, ExplainRequest
from app.api.strict_json import StrictJSONRoute
from app.attention.steps import explain_payload

router = APIRouter(prefix="/api/v1", tags=["attention"], route_class=StrictJSONRoute)


@router.post(
    "/explain",
    summary="Self-attention step by step: one head's q, K, V, scores, softmax and output",
    responses=ERROR_RESPONSES,
)
async def explain(request: ExplainRequest, runs: RunsDep) -> ExplainOut:
    # The checks, budget and cost of the model's runs, before the queue: a translation
    # explained is the one /attention shows, and the gate schedules it as such a run.
    spec = RunSpec(request.model, request.text, request.target, request.variant)
    checked = runs.check(spec)
    adapter, budget = checked.adapter, checked.budget
    stack = request.stack or ("decoder" if adapter.info.family == "decoder" else "encoder")

    def compute() -> ExplainOut:
        internals = runs.gate.timed_run(
            adapter.info.id,
            lambda: adapter.explain(
                request.text,
                stack=stack,
                layer=request.layer,
                head=request.head,
                query=request.query,
                target=request.target,
                variant=request.variant,
                max_new_tokens=budget,
            ),
        )
        payload = explain_payload(adapter.info.id, stack, request.layer, request.head, internals)
        return ExplainOut.model_validate(payload)

    return await runs.gate.run(compute, checked.cost)

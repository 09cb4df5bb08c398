"""POST /api/v1/attention: every attention matrix of one run, analysed and encoded."""

from fastapi import APIRouter, Response

from app.api.deps import RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.runs import RunKey, cache_headers
from app.api.runs.validation import check_json_weights, check_response_weights
from app.api.schemas.attention import AttentionOut, AttentionRequest
from app.api.strict_json import StrictJSONRoute
from app.attention.analysis import response_weights
from app.attention.payload import render_attention

router = APIRouter(prefix="/api/v1", tags=["attention"], route_class=StrictJSONRoute)


def response_key(request: AttentionRequest, run_key: RunKey) -> tuple[object, ...]:
    """Everything the bytes of an /attention response depend on."""
    fields = request.model_dump(exclude={"model", "text", "target", "variant", "max_new_tokens"})
    return (run_key, tuple(sorted((k, repr(v)) for k, v in fields.items())))


@router.post(
    "/attention",
    summary="Every attention matrix of one model run, per layer and head",
    response_model=AttentionOut,
    responses=ERROR_RESPONSES,
)
async def attention(request: AttentionRequest, runs: RunsDep) -> Response:
    spec = request.spec()
    checked = runs.check(spec)
    stored_key = response_key(request, checked.key)
    stored = runs.responses.get(stored_key)
    if stored is not None:
        return Response(stored, media_type="application/json", headers=cache_headers("local"))
    run, cache_status = await runs.run(checked)
    weights = response_weights(run, spec.options, spec.layers, spec.heads, request.max_size)
    check_response_weights(weights, runs.settings)
    check_json_weights(weights, request.encoding, runs.settings)
    info = checked.adapter.info

    def render() -> bytes:
        return render_attention(
            info.id,
            checked.variant,
            run,
            options=spec.options,
            layers=spec.layers,
            heads=spec.heads,
            encoding=request.encoding,
            max_size=request.max_size,
            explainable=info.explainable,
            max_new_tokens=checked.max_new_tokens,
        )

    body = await runs.render(run, render, weights)
    if not run.computed:  # a computed run is long: its responses are not worth keeping
        runs.responses.put(stored_key, body)
    return Response(body, media_type="application/json", headers=cache_headers(cache_status))

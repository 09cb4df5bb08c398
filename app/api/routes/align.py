"""POST /api/v1/align: the word alignment a translator's cross-attention implies, as links,
and scored against a gold alignment when one is given."""

from typing import Literal

import anyio.to_thread
from fastapi import APIRouter

from app.api.deps import RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.runs import RunSpec
from app.api.schemas.align import AlignOut, AlignRequest, AlignScoresOut
from app.api.strict_json import StrictJSONRoute
from app.attention.alignment import Alignment, AlignSetting, align
from app.attention.errors import InputError
from app.attention.pharaoh import count, format_links, parse_gold
from app.zoo.base import ModelAdapter, ModelInfo

router = APIRouter(prefix="/api/v1", tags=["attention"], route_class=StrictJSONRoute)

DEFAULT_THRESHOLD = 0.3


def default_layer(info: ModelInfo) -> int:
    """The last-but-one decoder layer: where Transformer translators align best (Garg et al.,
    2019; Chen et al., 2020), and the only one of a one-layer model."""
    return max(info.layers - 2, 0)


def chosen_setting(
    request: AlignRequest, adapter: ModelAdapter
) -> tuple[AlignSetting, Literal["request", "dev_gold", "default"]]:
    recorded = adapter.alignment_setting(request.variant)
    if request.method == "best":
        if request.layer is not None or request.head is not None or request.threshold is not None:
            raise InputError(
                "method 'best' picks the layer, head and threshold itself: leave them out, or "
                "name a method (argmax, threshold, union, grow_diag, shift_att)"
            )
        if recorded is not None:
            return recorded, "dev_gold"
        return AlignSetting("argmax", default_layer(adapter.info)), "default"
    if request.threshold is not None and request.method != "threshold":
        raise InputError(
            f"'threshold' is for method 'threshold'; method '{request.method}' takes none"
        )
    layer = request.layer
    if layer is None:
        layer = recorded.layer if recorded is not None else default_layer(adapter.info)
    setting = AlignSetting(
        request.method, layer, request.head, request.threshold or DEFAULT_THRESHOLD
    )
    return setting, "request"


def aligned_out(
    request: AlignRequest,
    alignment: Alignment,
    setting: AlignSetting,
    chosen_by: Literal["request", "dev_gold", "default"],
    variant: str | None,
    output_text: str | None,
    max_new_tokens: int | None,
) -> AlignOut:
    scores = None
    if request.gold is not None:
        gold = parse_gold(request.gold, len(alignment.source), len(alignment.target))
        counts = count(alignment.links, gold)
        scores = AlignScoresOut(
            precision=round(counts.precision, 4),
            recall=round(counts.recall, 4),
            aer=round(counts.aer, 4),
            predicted=counts.predicted,
            sure=counts.sure,
            possible=len(gold.possible),
        )
    return AlignOut(
        model=request.model,
        variant=variant,
        tokens={
            "source": [label.text for label in alignment.source],
            "target": [label.text for label in alignment.target],
        },
        links=[[link.target, link.source] for link in alignment.links],
        pharaoh=format_links(alignment.links),
        method=setting.method,
        layer=setting.layer,
        head=setting.head,
        threshold=setting.threshold if setting.method == "threshold" else None,
        chosen_by=chosen_by,
        weights=alignment.matrix.round(4).tolist(),
        output_text=output_text,
        max_new_tokens=max_new_tokens,
        scores=scores,
    )


@router.post(
    "/align",
    summary="Word alignment from a translator's cross-attention, scored against a gold one",
    responses=ERROR_RESPONSES,
)
async def align_route(request: AlignRequest, runs: RunsDep) -> AlignOut:
    """Links each target token (or word) to source tokens by reading one cross-attention
    layer, one head or the head mean, with the chosen method; the run is the one /attention
    computes and caches for the same model, text, target and variant."""
    adapter = runs.adapter(request.model)
    if adapter.info.family != "encoder-decoder":
        raise InputError(
            f"model '{adapter.info.id}' has no cross-attention, so nothing aligns a target to "
            "a source; choose a translator (family 'encoder-decoder' in GET /api/v1/models)"
        )
    setting, chosen_by = chosen_setting(request, adapter)
    spec = RunSpec(
        model=request.model, text=request.text, target=request.target, variant=request.variant
    )
    checked = runs.check(spec)
    run, _ = await runs.run(checked)

    def compute() -> AlignOut:
        alignment = align(run, setting, request.granularity)
        return aligned_out(
            request,
            alignment,
            setting,
            chosen_by,
            checked.variant,
            run.output_text,
            checked.max_new_tokens,
        )

    return await anyio.to_thread.run_sync(compute)

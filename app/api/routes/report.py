"""GET /api/v1/report: one run as a standalone HTML file, to keep, send or open offline."""

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import RunsDep
from app.api.errors import ERROR_RESPONSES
from app.api.runs import cache_headers
from app.api.schemas.attention import ReportQuery
from app.attention.analysis import largest_max_size, response_weights
from app.attention.errors import InputError
from app.attention.ops.encode import Encoding
from app.attention.payload import render_attention
from app.report.document import Pooling, ReportFacts, render_report

router = APIRouter(prefix="/api/v1", tags=["attention"])

# The encoding the report embeds: 2.67 bytes a weight and three significant digits, enough
# for any colour scale and hover label.
REPORT_ENCODING: Encoding = "float16"
# Pooled below this many rows and columns a matrix shows too little to be worth a report.
MIN_POOLED_SIZE = 16


def _pooling(full_weights: int, bound: int, fitting: int) -> Pooling:
    """How a run of `full_weights`, more than `bound`, is pooled: to `fitting` a side."""
    if fitting < MIN_POOLED_SIZE:
        raise InputError(
            f"this report would carry {full_weights:,} attention weights; a report carries at "
            f"most {bound:,}, and pooling every matrix to {MIN_POOLED_SIZE} × "
            f"{MIN_POOLED_SIZE} does not fit either. Ask for fewer 'layers' or 'heads', or "
            "aggregate 'heads'."
        )
    return Pooling(full_weights=full_weights, bound=bound, max_size=fitting)


def _filename(model_id: str, variant: str | None, created: datetime) -> str:
    name = "-".join(filter(None, ["attention-report", model_id, variant]))
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}-{created:%Y%m%d-%H%M%S}.html"


@router.get(
    "/report",
    summary="One run as a standalone HTML report that opens offline",
    # A plain Response: its 200 is documented as HTML below, its errors as JSON.
    response_class=Response,
    responses={
        200: {
            "description": (
                "An HTML file (sent as an attachment) with the run, Plotly.js and the viewer "
                "inlined: tokens, heatmap per layer and head, line view. It loads nothing "
                "from the network."
            ),
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **ERROR_RESPONSES,
    },
)
async def report(
    query: Annotated[ReportQuery, Query()],
    http_request: Request,
    runs: RunsDep,
) -> Response:
    """The fields of POST /api/v1/attention as query parameters (lists repeated,
    `layers=0&layers=2`, or comma-separated, `layers=0,2`), checked the same way and run
    through the same cache and inference queue. A run with more weights than
    ATTN_REPORT_MAX_WEIGHTS (or ATTN_MAX_RESPONSE_WEIGHTS) is pooled to fit, and the report
    says so."""
    spec = query.spec()
    checked = runs.check(spec)
    run, cache_status = await runs.run(checked)
    adapter, options, settings = checked.adapter, spec.options, runs.settings
    bound = min(settings.report_max_weights, settings.max_response_weights)
    full_weights = response_weights(run, options, query.layers, query.heads, None)
    pooling = None
    if full_weights > bound:
        fitting = largest_max_size(run, options, query.layers, query.heads, bound)
        pooling = _pooling(full_weights, bound, fitting)
    variant = checked.variant
    created = datetime.now(UTC).replace(microsecond=0)
    facts = ReportFacts(
        model_id=adapter.info.id,
        model_name=adapter.info.name,
        variant=variant,
        text=query.text,
        target=query.target,
        output_text=run.output_text,
        max_new_tokens=checked.max_new_tokens,
        options=options,
        layers=query.layers,
        heads=query.heads,
        request=f"{http_request.url.path}?{http_request.url.query}",
        created=created,
        server_version=http_request.app.version,
        pooling=pooling,
    )

    def render() -> bytes:
        attention_json = render_attention(
            adapter.info.id,
            variant,
            run,
            options=options,
            layers=query.layers,
            heads=query.heads,
            encoding=REPORT_ENCODING,
            max_size=pooling.max_size if pooling else None,
            explainable=adapter.info.explainable,
            max_new_tokens=checked.max_new_tokens,
        )
        return render_report(attention_json, facts).encode()

    body = await runs.render(run, render)
    disposition = f'attachment; filename="{_filename(adapter.info.id, variant, created)}"'
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": disposition, **cache_headers(cache_status)},
    )

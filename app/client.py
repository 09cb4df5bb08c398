"""A Python client for the REST API, for notebooks and scripts.

    from app.client import Client

    client = Client("http://127.0.0.1:8000")
    run = client.attention("minilm", "The animal didn't cross the street", granularity="word")
    block = run.block("encoder.3.self_attn")
    block.data            # numpy float32 [head, query, key]
    run.labels(block)     # (row labels, column labels)

It asks for a compact encoding (float16 by default, or uint8) and decodes every block into a
numpy array, so a notebook never parses nested JSON lists of floats. A refused request
raises APIError carrying the server's `detail`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx
import numpy as np

from app.attention.ops.encode import decode, totals_encoding

CompactEncoding = Literal["float16", "uint8"]


class APIError(RuntimeError):
    """The server refused a request; `detail` is its explanation of what to change."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Block:
    name: str  # {stack}.{layer}.{kind}
    stack: str
    layer: int
    kind: str
    label: str
    rows: str  # the key of Run.tokens that labels the rows
    cols: str  # ... and the columns
    heads: list[int]  # the model's head of each entry along axis 0 (or those averaged)
    data: np.ndarray  # float32 [head, query, key]
    row_totals: np.ndarray | None = None  # value-norm weighting: [head, query]
    pooled_from: list[int] | None = None  # the full shape when max_size pooled it


@dataclass(frozen=True)
class Run:
    model: str
    variant: str | None
    options: dict[str, str]
    tokens: dict[str, list[str]]  # "source", "target", "target_input"
    special: dict[str, list[bool]]
    token_groups: dict[str, list[list[int]]] | None
    output_text: str | None
    blocks: list[Block]

    def block(self, name: str) -> Block:
        for block in self.blocks:
            if block.name == name:
                return block
        names = ", ".join(b.name for b in self.blocks)
        raise KeyError(f"no block {name!r} in this run; it has: {names}")

    def labels(self, block: Block) -> tuple[list[str], list[str]]:
        """The tokens (or words) labelling the block's rows and its columns."""
        return self.tokens[block.rows], self.tokens[block.cols]


def _block(wire: Mapping[str, Any]) -> Block:
    encoding = wire["encoding"]
    totals = wire.get("row_totals")
    return Block(
        name=wire["name"],
        stack=wire["stack"],
        layer=wire["layer"],
        kind=wire["kind"],
        label=wire["label"],
        rows=wire["rows"],
        cols=wire["cols"],
        heads=list(wire["heads"]),
        data=decode(wire["data"], wire["shape"], encoding),
        row_totals=None
        if totals is None
        else decode(totals, wire["shape"][:2], totals_encoding(encoding)),
        pooled_from=wire.get("pooled_from"),
    )


class Client:
    """The API of one server. Reuses one connection; close it, or use it in a `with`."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 300.0,
        encoding: CompactEncoding = "float16",
    ) -> None:
        self.encoding = encoding
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        response = self._http.request(method, path, json=payload, params=params)
        if response.is_error:
            try:
                detail = str(response.json()["detail"])
            except (ValueError, KeyError, TypeError):
                detail = response.text[:500] or response.reason_phrase
            raise APIError(response.status_code, detail)
        return response.json()

    def models(self) -> list[dict[str, Any]]:
        """The models the server offers, as GET /api/v1/models lists them."""
        body = self._request("GET", "/api/v1/models")
        models: list[dict[str, Any]] = body["models"]
        return models

    def attention(
        self,
        model: str,
        text: str,
        *,
        encoding: CompactEncoding | None = None,
        **fields: Any,
    ) -> Run:
        """Every attention block of one run, decoded. `fields` are the other fields of
        POST /api/v1/attention: target, variant, layers, heads, max_new_tokens, max_size,
        granularity, special_tokens, aggregate, weighting."""
        payload = {
            "model": model,
            "text": text,
            "encoding": encoding or self.encoding,
            **{key: value for key, value in fields.items() if value is not None},
        }
        body = self._request("POST", "/api/v1/attention", payload)
        return Run(
            model=body["model"],
            variant=body["variant"],
            options=body["options"],
            tokens=body["tokens"],
            special=body["special"],
            token_groups=body["token_groups"],
            output_text=body["output_text"],
            blocks=[_block(block) for block in body["blocks"]],
        )

    def explain(self, model: str, text: str, **fields: Any) -> dict[str, Any]:
        """One head's self-attention step by step (POST /api/v1/explain: layer, head, query,
        and stack, target, variant); vectors and matrices come back as numpy arrays."""
        payload = {"model": model, "text": text, **fields}
        body: dict[str, Any] = self._request("POST", "/api/v1/explain", payload)
        for key in ("query_vector", "keys", "values", "scores", "weights", "output"):
            body[key] = np.asarray(body[key], dtype=np.float64)
        scaled = [np.nan if s is None else s for s in body["scaled_scores"]]
        body["scaled_scores"] = np.asarray(scaled, dtype=np.float64)  # masked keys: NaN
        return body

    def align(self, model: str, text: str, **fields: Any) -> dict[str, Any]:
        """A translation's word alignment (POST /api/v1/align: target, variant, method, layer,
        head, threshold, granularity, gold); the matrix the links come from as a numpy array."""
        payload = {"model": model, "text": text, **fields}
        body: dict[str, Any] = self._request("POST", "/api/v1/align", payload)
        body["weights"] = np.asarray(body["weights"], dtype=np.float64)
        return body

    def heads(self, model: str, variant: str | None = None) -> list[dict[str, Any]]:
        """What every head does: its role and scores (GET /api/v1/models/{id}/heads)."""
        params = {"variant": variant} if variant else None
        body = self._request("GET", f"/api/v1/models/{quote(model, safe='')}/heads", None, params)
        heads: list[dict[str, Any]] = body["heads"]
        return heads

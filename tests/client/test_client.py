"""app.client against a live test server: the decoded blocks are the JSON response's numbers."""

from collections.abc import Iterator

import numpy as np
import pytest

from app.client import APIError, Client
from tests.conftest import DEMO_SENTENCE


@pytest.fixture(scope="module")
def api(live_server: str) -> Iterator[Client]:
    with Client(live_server) as client:
        yield client


def _json_blocks(api: Client, **body: object) -> dict:
    return api._request("POST", "/api/v1/attention", {**body, "encoding": "json"})


@pytest.mark.parametrize(("encoding", "tolerance"), [("uint8", 1 / 255), ("float16", 0.0)])
def test_blocks_equal_the_json_response(api: Client, encoding: str, tolerance: float) -> None:
    run = api.attention("minilm", DEMO_SENTENCE, encoding=encoding)  # type: ignore[arg-type]
    reference = _json_blocks(api, model="minilm", text=DEMO_SENTENCE)
    assert run.tokens == reference["tokens"]
    assert [b.name for b in run.blocks] == [b["name"] for b in reference["blocks"]]
    for block, wire in zip(run.blocks, reference["blocks"], strict=True):
        expected = np.array(wire["data"], dtype=np.float32)
        assert block.data.dtype == np.float32 and block.data.shape == expected.shape
        if encoding == "float16":  # exactly the float16 rounding of the float32 weights
            assert np.array_equal(block.data, expected.astype(np.float16).astype(np.float32))
        else:
            assert np.abs(block.data - expected).max() <= tolerance + 1e-7


def test_options_labels_and_row_totals_come_through(api: Client) -> None:
    run = api.attention(
        "minilm",
        DEMO_SENTENCE,
        granularity="word",
        special_tokens="drop",
        weighting="value_norm",
        layers=[2],
    )
    block = run.block("encoder.2.self_attn")
    rows, cols = run.labels(block)
    assert "didn't" in rows and rows == cols
    assert block.data.shape == (12, len(rows), len(cols))
    assert block.row_totals is not None and block.row_totals.shape == (12, len(rows))
    assert run.options["granularity"] == "word"
    assert run.token_groups is not None


def test_models_explain_and_heads(api: Client) -> None:
    models = {m["id"]: m for m in api.models()}
    assert models["minilm"]["heads"] == 12
    steps = api.explain("minilm", DEMO_SENTENCE, layer=3, head=5, query="it")
    assert steps["keys"].shape == (len(steps["tokens"]), 32)
    assert np.isclose(steps["weights"].sum(), 1, atol=1e-4)
    heads = api.heads("tiny-bert")
    assert {h["layer"] for h in heads} == {0, 1}


def test_refusals_raise_with_the_servers_detail(api: Client) -> None:
    with pytest.raises(APIError) as refused:
        api.attention("minilm", "hi", layers=[6])
    assert refused.value.status == 422
    assert "layers 0-5" in refused.value.detail
    with pytest.raises(APIError, match="unknown model 'nope'"):
        api.attention("nope", "hi")
    with pytest.raises(KeyError, match=r"encoder\.0\.self_attn"):
        api.attention("minilm", "hi", layers=[0]).block("decoder.0.self_attn")


def test_align_returns_links_and_the_matrix_they_come_from(api: Client) -> None:
    body = api.align(
        "transformer-zh-en", "我爱吃苹果", target="I love apples", method="argmax", layer=1
    )
    assert body["weights"].shape == (3, 5)  # I love apples × 我爱吃苹果
    assert body["links"] == [[t, int(s)] for t, s in enumerate(body["weights"].argmax(axis=1))]
    with pytest.raises(APIError, match="no cross-attention"):
        api.align("minilm", "hi")

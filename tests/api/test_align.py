"""POST /api/v1/align: links equal an argmax (or threshold) redone here on the /attention
response of the same run, gold alignments are scored by Och & Ney, and bad requests get a
422 that says what to change."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEMO = "我爱吃苹果"
TARGET = "I love apples"
# (model, variant, target): the shipped translators, and tiny random-weight HF ones
MODELS = [
    ("transformer-zh-en", None, TARGET),
    ("bahdanau-zh-en", None, TARGET),
    ("luong-zh-en", "dot", TARGET),
    ("luong-zh-en", "concat", None),
]
HF_MODELS = [("tiny-bart", "the cat sat on the mat"), ("tiny-t5", "the cat sat on the mat")]


def _post(client: TestClient, path: str, **body: Any) -> dict[str, Any]:
    response = client.post(path, json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _cross(body: dict[str, Any], layer: int) -> np.ndarray:
    block = next(b for b in body["blocks"] if b["kind"] == "cross_attn" and b["layer"] == layer)
    return np.array(block["data"], dtype=np.float64)  # (entries, T, S)


def _argmax_links(matrix: np.ndarray) -> list[list[int]]:
    return [[t, int(s)] for t, s in enumerate(matrix.argmax(axis=1))]


@pytest.mark.parametrize(("model", "variant", "target"), MODELS)
@pytest.mark.parametrize("granularity", ["token", "word"])
def test_argmax_links_equal_an_argmax_over_the_attention_response(
    client: TestClient, model: str, variant: str | None, target: str | None, granularity: str
) -> None:
    info = next(m for m in client.get("/api/v1/models").json()["models"] if m["id"] == model)
    for layer in range(info["layers"]):
        for head in [None, info["heads"] - 1]:
            aligned = _post(
                client,
                "/api/v1/align",
                model=model,
                variant=variant,
                text=DEMO,
                target=target,
                method="argmax",
                layer=layer,
                head=head,
                granularity=granularity,
            )
            shown = _post(
                client,
                "/api/v1/attention",
                model=model,
                variant=variant,
                text=DEMO,
                target=target,
                layers=[layer],
                heads=None if head is None else [head],
                aggregate="heads" if head is None else "none",
                special_tokens="drop",
                granularity=granularity,
            )
            matrix = _cross(shown, layer)[0]
            assert aligned["tokens"] == {
                "source": shown["tokens"]["source"],
                "target": shown["tokens"]["target"],
            }
            assert "</s>" not in aligned["tokens"]["source"] + aligned["tokens"]["target"]
            assert aligned["links"] == _argmax_links(matrix)
            assert (aligned["layer"], aligned["head"], aligned["chosen_by"]) == (
                layer,
                head,
                "request",
            )
            np.testing.assert_allclose(aligned["weights"], matrix, atol=5.1e-5)


def test_pharaoh_is_the_links_source_first(client: TestClient) -> None:
    body = _post(
        client, "/api/v1/align", model="transformer-zh-en", text=DEMO, target=TARGET, method="union"
    )
    pairs = sorted((s, t) for t, s in body["links"])
    assert body["pharaoh"] == " ".join(f"{s}-{t}" for s, t in pairs)


@pytest.mark.parametrize(("model", "text"), HF_MODELS)
def test_any_hf_encoder_decoder_aligns(client: TestClient, model: str, text: str) -> None:
    aligned = _post(client, "/api/v1/align", model=model, text=text, target="i love apples")
    shown = _post(
        client,
        "/api/v1/attention",
        model=model,
        text=text,
        target="i love apples",
        layers=[aligned["layer"]],
        aggregate="heads",
        special_tokens="drop",
    )
    assert aligned["chosen_by"] == "default" and aligned["method"] == "argmax"
    assert aligned["links"] == _argmax_links(_cross(shown, aligned["layer"])[0])


def test_threshold_links_every_weight_that_reaches_it(client: TestClient) -> None:
    common = {"model": "transformer-zh-en", "text": DEMO, "target": TARGET}
    aligned = _post(client, "/api/v1/align", **common, method="threshold", layer=2, threshold=0.2)
    shown = _post(
        client, "/api/v1/attention", **common, layers=[2], aggregate="heads", special_tokens="drop"
    )
    matrix = _cross(shown, 2)[0]
    expected = [[int(t), int(s)] for t, s in zip(*np.nonzero(matrix >= 0.2), strict=True)]
    assert aligned["links"] == expected and aligned["threshold"] == 0.2


def test_shift_att_reads_the_step_where_the_word_is_the_input(client: TestClient) -> None:
    common = {"model": "transformer-zh-en", "text": DEMO, "target": TARGET}
    aligned = _post(client, "/api/v1/align", **common, method="shift_att", layer=1)
    raw = _post(client, "/api/v1/attention", **common, layers=[1], aggregate="heads")
    matrix = _cross(raw, 1)[0]  # token level, special tokens kept: rows I love apples </s>
    source_keep = [i for i, s in enumerate(raw["special"]["source"]) if not s]
    rows = [t for t, s in enumerate(raw["special"]["target"]) if not s]
    expected = [[n, int(matrix[t + 1, source_keep].argmax())] for n, t in enumerate(rows)]
    assert raw["tokens"]["target_input"][1:] == raw["tokens"]["target"][:-1]
    assert aligned["links"] == expected


def test_a_gold_alignment_is_scored_by_och_and_ney(client: TestClient) -> None:
    common = {"model": "luong-zh-en", "text": DEMO, "target": TARGET, "method": "argmax"}
    links = _post(client, "/api/v1/align", **common)["links"]
    predicted = {(s, t) for t, s in links}
    sure, possible = {(0, 0), (1, 1), (3, 2), (4, 2)}, {(2, 1)}
    gold = " ".join([f"{s}-{t}" for s, t in sure] + [f"{s}?{t}" for s, t in possible])
    scores = _post(client, "/api/v1/align", **common, gold=gold)["scores"]
    a_s, a_p = len(predicted & sure), len(predicted & (sure | possible))
    assert scores == {
        "precision": round(a_p / len(predicted), 4),
        "recall": round(a_s / len(sure), 4),
        "aer": round(1 - (a_s + a_p) / (len(predicted) + len(sure)), 4),
        "predicted": len(predicted),
        "sure": 4,
        "possible": 5,
    }
    perfect = " ".join(f"{s}-{t}" for s, t in sorted(predicted))
    assert _post(client, "/api/v1/align", **common, gold=perfect)["scores"]["aer"] == 0.0


def test_best_uses_the_setting_the_model_card_records(client: TestClient) -> None:
    body = _post(client, "/api/v1/align", model="transformer-zh-en", text=DEMO, target=TARGET)
    record = json.loads((MODELS_DIR / "transformer-zh-en" / "alignment.json").read_text())["best"]
    assert body["chosen_by"] == "dev_gold"
    assert (body["method"], body["layer"], body["head"]) == (
        record["method"],
        record["layer"],
        record["head"],
    )
    generated = _post(client, "/api/v1/align", model="transformer-zh-en", text=DEMO)
    assert generated["output_text"] and generated["tokens"]["target"][0] == "I"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": "tiny-bert", "text": "hello"}, "no cross-attention"),
        ({"layer": 0}, "method 'best' picks"),
        ({"method": "argmax", "layer": 9}, "layer 9 has no cross-attention"),
        ({"method": "argmax", "head": 9}, "head 9 does not exist"),
        ({"method": "argmax", "threshold": 0.2}, "'threshold' is for method 'threshold'"),
        ({"gold": "0-0 1=1"}, "not Pharaoh notation"),
        ({"gold": "0-0 7-0"}, "out of range"),
        ({"gold": "0?0"}, "no sure link"),
        ({"model": "luong-zh-en", "variant": "cosine"}, "no variant 'cosine'"),
        ({"text": "我\x00爱"}, "control character"),
    ],
)
def test_bad_requests_say_what_to_change(
    client: TestClient, body: dict[str, Any], says: str
) -> None:
    request = {"model": "transformer-zh-en", "text": DEMO, "target": TARGET, **body}
    response = client.post("/api/v1/align", json=request)
    assert response.status_code in (404, 422), response.text
    assert says in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"method": "nearest"},
        {"threshold": 0},
        {"threshold": 1.5},
        {"layer": -1},
        {"granularity": "sentence"},
        {"gold": ""},
        {"extra": 1},
    ],
)
def test_invalid_fields_are_422(client: TestClient, body: dict[str, Any]) -> None:
    request = {"model": "transformer-zh-en", "text": DEMO, **body}
    assert client.post("/api/v1/align", json=request).status_code == 422

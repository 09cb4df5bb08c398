"""The shipped zh->en translators through the API: translation, alignment, step by step."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

TRANSLATORS = ["bahdanau-zh-en", "luong-zh-en", "transformer-zh-en"]
LUONG_SCORERS = ["dot", "general", "concat"]
DEMO = "我爱吃苹果"


def _attention(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/attention", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_models_lists_the_three_translators(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}
    for model_id in TRANSLATORS:
        assert models[model_id]["family"] == "encoder-decoder"
        assert models[model_id]["examples"][0]["text"] == DEMO
    assert models["luong-zh-en"]["variants"] == LUONG_SCORERS
    assert models["luong-zh-en"]["default_variant"] == "general"
    assert models["transformer-zh-en"]["explainable"] is True
    assert models["bahdanau-zh-en"]["explainable"] is False


@pytest.mark.parametrize(
    ("model", "variant"),
    [("bahdanau-zh-en", None), ("transformer-zh-en", None)]
    + [("luong-zh-en", scorer) for scorer in LUONG_SCORERS],
)
def test_each_translates_the_demo_sentence_with_apples(
    client: TestClient, model: str, variant: str | None
) -> None:
    body = _attention(client, model=model, text=DEMO, variant=variant)
    assert "apple" in body["output_text"].lower()
    assert body["tokens"]["source"] == [*DEMO, "</s>"]
    cross = [b for b in body["blocks"] if b["kind"] == "cross_attn"]
    assert cross and all(b["shape"][1:] == [len(body["tokens"]["target"]), 6] for b in cross)


@pytest.mark.parametrize(
    ("model", "variant"),
    [("bahdanau-zh-en", None), ("transformer-zh-en", None)]
    + [("luong-zh-en", scorer) for scorer in LUONG_SCORERS],
)
def test_i_love_apples_aligns_word_by_word(
    client: TestClient, model: str, variant: str | None
) -> None:
    body = _attention(client, model=model, text=DEMO, target="I love apples", variant=variant)
    assert body["output_text"] is None
    assert body["tokens"]["target"] == ["I", "love", "apples", "</s>"]
    assert body["tokens"]["target_input"] == ["<s>", "I", "love", "apples"]
    # The links the page and /align draw by default: I→我, love→爱, apples→苹 or 果.
    request = {"model": model, "text": DEMO, "target": "I love apples"}
    response = client.post(
        "/api/v1/align", json={**request, **({"variant": variant} if variant else {})}
    )
    assert response.status_code == 200, response.text
    aligned = response.json()
    target, source = aligned["tokens"]["target"], aligned["tokens"]["source"]
    found: dict[str, set[str]] = {}
    for t, s in aligned["links"]:
        found.setdefault(target[t], set()).add(source[s])
    wanted = {"I": {"我"}, "love": {"爱"}, "apples": {"苹", "果"}}
    assert all(found.get(word, set()) & chars for word, chars in wanted.items()), aligned


def test_transformer_blocks_are_distributions_and_decoder_is_causal(client: TestClient) -> None:
    body = _attention(client, model="transformer-zh-en", text=DEMO, target="I love apples")
    kinds = {(b["stack"], b["kind"]) for b in body["blocks"]}
    assert kinds == {("encoder", "self_attn"), ("decoder", "self_attn"), ("decoder", "cross_attn")}
    for block in body["blocks"]:
        data = np.array(block["data"])
        assert np.allclose(data.sum(-1), 1, atol=1e-4)
        if (block["stack"], block["kind"]) == ("decoder", "self_attn"):
            assert np.triu(data, k=1).max() == 0


@pytest.mark.parametrize("stack", ["encoder", "decoder"])
def test_transformer_step_by_step_matches_its_attention(client: TestClient, stack: str) -> None:
    query = "苹" if stack == "encoder" else "apples"
    request = {
        "model": "transformer-zh-en",
        "text": DEMO,
        "target": "I love apples",
        "stack": stack,
        "layer": 1,
        "head": 2,
        "query": query,
    }
    steps = client.post("/api/v1/explain", json=request).json()
    assert steps["query_token"] == query
    body = _attention(
        client, model="transformer-zh-en", text=DEMO, target="I love apples", layers=[1], heads=[2]
    )
    block = next(b for b in body["blocks"] if (b["stack"], b["kind"]) == (stack, "self_attn"))
    row = np.array(block["data"][0][steps["query_index"]])
    assert np.abs(np.array(steps["weights"]) - row).max() <= 1e-4
    q, keys = np.array(steps["query_vector"]), np.array(steps["keys"])
    scores = keys @ q
    assert np.abs(np.array(steps["scores"]) - scores).max() <= 1e-3
    assert steps["checks"]["weights_max_abs_diff"] <= 1e-5
    if stack == "decoder":
        # Causal: the keys after the query are masked, shown as null, and get zero weight.
        later = slice(steps["query_index"] + 1, None)
        assert all(steps["masked"][later]) and not any(steps["masked"][: steps["query_index"] + 1])
        assert all(s is None for s in steps["scaled_scores"][later])
        assert all(w == 0 for w in steps["weights"][later])


def test_unknown_variant_names_the_choices(client: TestClient) -> None:
    response = client.post(
        "/api/v1/attention", json={"model": "luong-zh-en", "text": DEMO, "variant": "cosine"}
    )
    assert response.status_code == 422
    assert "dot, general, concat" in response.json()["detail"]


def test_text_with_no_known_characters_is_refused(client: TestClient) -> None:
    # runes: no training sentence has them (Latin letters do, in names like "Tom")
    response = client.post("/api/v1/attention", json={"model": "bahdanau-zh-en", "text": "ᚠᚢᚦ"})
    assert response.status_code == 422
    assert "Chinese" in response.json()["detail"]

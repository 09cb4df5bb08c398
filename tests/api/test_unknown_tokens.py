"""A token the model does not know is labelled as the model read it (<unk>, [UNK]), and the
response keeps what was typed there."""

from fastapi.testclient import TestClient


def _post(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/attention", json={**body, "layers": [0], "heads": [0]})
    assert response.status_code == 200, response.text
    result: dict = response.json()
    return result


def test_a_word_the_translator_does_not_know_shows_as_unk_with_the_typed_text(
    client: TestClient,
) -> None:
    body = _post(
        client, model="transformer-zh-en", text="我爱吃𓀀果", target="I love blorptastic apples"
    )
    assert body["tokens"]["source"] == ["我", "爱", "吃", "<unk>", "果", "</s>"]
    assert body["tokens"]["target"] == ["I", "love", "<unk>", "apples", "</s>"]
    assert body["tokens"]["target_input"][3] == "<unk>"  # the next step read it too
    assert body["unknown"] == {"source": [[3, "𓀀"]], "target": [[2, "blorptastic"]]}
    assert body["special"]["target"][2] is False  # it stands for a real word


def test_words_with_an_unknown_token_show_what_the_model_read(client: TestClient) -> None:
    body = _post(client, model="bahdanau-zh-en", text="我爱吃𓀀果", granularity="word")
    assert "<unk>果" in body["tokens"]["source"] or "<unk>" in body["tokens"]["source"]
    assert all("𓀀" not in word for word in body["tokens"]["source"])


def test_an_hf_tokenizer_unknown_keeps_its_typed_text(client: TestClient) -> None:
    body = _post(client, model="minilm", text="I like 𓀀 a lot")
    position = body["tokens"]["source"].index("[UNK]")
    assert body["unknown"] == {"source": [[position, "𓀀"]]}


def test_known_text_has_no_unknown_field(client: TestClient) -> None:
    assert _post(client, model="transformer-zh-en", text="我爱吃苹果")["unknown"] is None

"""The run cache is keyed by what the model reads, and counts its keys' memory."""

import unicodedata

import numpy as np
from fastapi.testclient import TestClient

from app.attention.cache import RunCache, key_bytes
from app.attention.run import AttentionRun, TokenList


def _post(client: TestClient, **body: object) -> tuple[str, dict]:
    response = client.post(
        "/api/v1/attention", json={**body, "layers": [0], "heads": [0], "encoding": "float16"}
    )
    assert response.status_code == 200, response.text
    return response.headers["X-Cache"], response.json()


def test_spacing_and_normal_form_variants_share_one_run(client: TestClient) -> None:
    text = "Caf\u00e9 owners  said   the bridge was closed"
    first, _ = _post(client, model="minilm", text=text)
    spaced, _ = _post(client, model="minilm", text=" ".join(text.split()) + "  ")
    decomposed, _ = _post(client, model="minilm", text=unicodedata.normalize("NFD", text))
    assert (first, spaced, decomposed) == ("miss", "hit", "hit")
    chinese = "他们后天去 北京看朋友"
    assert _post(client, model="transformer-zh-en", text=chinese)[0] == "miss"
    assert _post(client, model="transformer-zh-en", text="他们后天去北京看朋友 ")[0] == "hit"


def test_different_unknown_characters_are_different_runs(client: TestClient) -> None:
    _, one = _post(client, model="minilm", text="I like 𓀀 a lot")
    status, other = _post(client, model="minilm", text="I like 𓁐 a lot")
    assert status == "miss"  # both read [UNK], but each shows what was typed
    assert one["unknown"]["source"][0][1] == "𓀀" and other["unknown"]["source"][0][1] == "𓁐"


def test_the_cache_counts_its_keys() -> None:
    run = AttentionRun(
        blocks={},
        source=TokenList.build(["a"], [0], [False]),
    )
    cache = RunCache(max_bytes=100_000)
    cache.put(("m", None, "x" * 10_000, None, None), run)
    assert cache.size_bytes >= 40_000  # 4 bytes a character
    cache.put(("m", None, "y" * 20_000, None, None), run)  # does not fit beside the first
    assert len(cache) == 1
    assert key_bytes((1, 2, 3)) == 40 + 3 * 36
    assert np.isfinite(cache.size_bytes)

"""GET /api/v1/models/{id}/heads: head roles from each model's own attention on the probes,
recomputed independently in numpy from POST /api/v1/attention, and cached on disk."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.role_store import HeadRoleStore
from app.attention.run import AttentionRun
from app.zoo.base import ModelAdapter

TRANSLATORS = ["bahdanau-zh-en", "luong-zh-en", "transformer-zh-en"]
TINY = ["tiny-bert", "tiny-gpt2", "tiny-llama", "tiny-bart", "tiny-t5"]
# GET /heads of a model (keyword arguments are query parameters), from the module's cache.
Heads = Callable[..., dict]


def _use_store(client: TestClient, folder: Path) -> HeadRoleStore:
    store = HeadRoleStore(folder)
    client.app.state.head_roles = store  # type: ignore[attr-defined]
    return store


@pytest.fixture(autouse=True)
def _own_store(client: TestClient) -> Iterator[None]:
    """Tests here may swap the server's store; the session's comes back afterwards."""
    kept = client.app.state.head_roles  # type: ignore[attr-defined]
    yield
    client.app.state.head_roles = kept  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def roles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the module: each model's roles are computed once here."""
    return tmp_path_factory.mktemp("roles-cache")


@pytest.fixture
def heads(client: TestClient, roles_dir: Path) -> Heads:
    store = HeadRoleStore(roles_dir)

    def get(model: str, **params: str) -> dict:
        client.app.state.head_roles = store  # type: ignore[attr-defined]
        response = client.get(f"/api/v1/models/{model}/heads", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    return get


def _models(client: TestClient) -> dict[str, dict]:
    return {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}


def _attention(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/attention", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- shape: one entry per block, layer and head, for every kind of model ----------------


@pytest.mark.parametrize("model", ["minilm", *TRANSLATORS, *TINY])
def test_one_entry_per_block_layer_and_head(client: TestClient, heads: Heads, model: str) -> None:
    info = _models(client)[model]
    body = heads(model)
    assert body["model"] == model and body["variant"] == info["default_variant"]
    # The blocks of a real run of the model, in the same order.
    text = "我爱吃苹果" if model in TRANSLATORS else "the cat sat on the mat"
    run = _attention(client, model=model, text=text)
    expected = [(b["name"], h) for b in run["blocks"] for h in b["heads"]]
    assert [(e["block"], e["head"]) for e in body["heads"]] == expected
    defined = {r["role"]: set(r["kinds"]) for r in body["roles"]}
    for entry in body["heads"]:
        assert entry["block"] == f"{entry['stack']}.{entry['layer']}.{entry['kind']}"
        assert set(entry["scores"]) == {
            role for role, kinds in defined.items() if entry["kind"] in kinds
        }
        assert entry["role"] in [*defined, "none"]
        assert (entry["score"] is None) == (entry["role"] == "none")
        if entry["role"] != "none":
            assert entry["score"] == entry["scores"][entry["role"]]


def test_minilm_has_its_layer_zero_previous_token_head_and_sinks(heads: Heads) -> None:
    body = heads("minilm")
    assert len(body["heads"]) == 6 * 12
    role = {(e["layer"], e["head"]): e for e in body["heads"]}
    assert role[(0, 2)]["role"] == "previous_token" and role[(0, 2)]["score"] > 0.95
    assert sum(e["role"] == "sink" for e in body["heads"]) >= 5


def test_translators_cross_attention_aligns(heads: Heads) -> None:
    for model in TRANSLATORS:
        body = heads(model)
        cross = [e for e in body["heads"] if e["kind"] == "cross_attn"]
        assert cross and all(set(e["scores"]) == {"alignment", "sink", "broad"} for e in cross)
        # Every translator reads the source words each English word translates.
        assert max(e["scores"]["alignment"] for e in cross) >= 0.4
    transformer = heads("transformer-zh-en")["heads"]
    kinds = {(e["stack"], e["kind"]) for e in transformer}
    assert kinds == {("encoder", "self_attn"), ("decoder", "self_attn"), ("decoder", "cross_attn")}
    assert len(transformer) == 3 * 3 * 4


def test_each_luong_variant_is_scored_on_its_own(heads: Heads) -> None:
    scored = {v: heads("luong-zh-en", variant=v) for v in ["dot", "general", "concat"]}
    assert len({body["fingerprint"] for body in scored.values()}) == 3
    assert heads("luong-zh-en")["fingerprint"] == scored["general"]["fingerprint"]


def test_unknown_model_and_variant(client: TestClient) -> None:
    missing = client.get("/api/v1/models/no-such-model/heads")
    attention = client.post("/api/v1/attention", json={"model": "no-such-model", "text": "hi"})
    assert missing.status_code == attention.status_code == 404
    assert missing.json() == attention.json()
    wrong = client.get("/api/v1/models/luong-zh-en/heads", params={"variant": "cosine"})
    assert wrong.status_code == 422
    assert "dot, general, concat" in wrong.json()["detail"]
    assert client.get("/api/v1/models/minilm/heads", params={"variant": "x"}).status_code == 422


# --- the scores recomputed independently from POST /attention on the same probes ------------


def _eligible(queries: int, causal: bool) -> np.ndarray:
    """Rows that can see at least two keys."""
    return (np.arange(queries) >= 1) if causal else np.full(queries, queries >= 2)


def _span(tokens: list[str], special: list[bool], text: str) -> list[int]:
    for start in range(len(tokens)):
        for end in range(start + 1, len(tokens) + 1):
            if any(special[start:end]):
                break
            if "".join(tokens[start:end]) == text:
                return list(range(start, end))
    return []


def _self_attention_scores(
    a: np.ndarray, keys: list[str], special: list[bool], causal: bool, repeat: bool
) -> dict[str, np.ndarray]:
    heads, q, k = a.shape
    if repeat:
        rows, values = [], []
        for i in range(q):
            targets = sorted({j + 1 for j in range(i) if keys[j] == keys[i] and j + 1 < i})
            if targets:
                rows.append(i)
                values.append(a[:, i, targets].sum(axis=1))
        return {"induction": np.mean(values, axis=0) if rows else np.full(heads, np.nan)}
    rows = _eligible(q, causal)
    sinks = [j for j in range(k) if j == 0 or special[j]]
    entropy = np.zeros((heads, q))
    for i in range(q):
        seen = i + 1 if causal else k
        p = a[:, i, :seen]
        safe = np.where(p > 0, p, 1.0)
        entropy[:, i] = -(p * np.log(safe)).sum(axis=1) / np.log(max(seen, 2))
    return {
        "previous_token": np.mean([a[:, i, i - 1] for i in range(1, q)], axis=0),
        "self": np.mean([a[:, i, i] for i in range(q) if rows[i]], axis=0),
        "sink": a[:, rows][:, :, sinks].sum(axis=2).mean(axis=1),
        "broad": entropy[:, rows].mean(axis=1),
    }


def _cross_attention_scores(
    a: np.ndarray, body: dict, links: list[list[str]]
) -> dict[str, np.ndarray]:
    source, target = body["tokens"]["source"], body["tokens"]["target"]
    special = body["special"]["source"]
    resolved = []
    for word, text in links:
        columns = _span(source, special, text)
        if word in target and columns:
            resolved.append((target.index(word), columns))
    heads, _, k = a.shape
    on_links = [a[:, row, cols].sum(axis=1) for row, cols in resolved]
    p = a.astype(np.float64)
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=2) / np.log(k)
    return {
        "alignment": np.mean(on_links, axis=0) if on_links else np.full(heads, np.nan),
        "sink": a[:, :, np.array(special)].sum(axis=2).mean(axis=1),
        "broad": entropy.mean(axis=1),
    }


def _recomputed(client: TestClient, model: str, body: dict) -> dict[tuple[str, int], dict]:
    """(block, head) -> role -> score, from the attention of each probe, means over probes."""
    per_probe: dict[tuple[str, str], list[np.ndarray]] = {}
    for probe in body["probes"]:
        run = _attention(client, model=model, text=probe["text"], target=probe["target"])
        repeat = probe["kind"] == "repeat"
        for block in run["blocks"]:
            a = np.array(block["data"], dtype=np.float64)
            if block["kind"] == "cross_attn":
                scores = {} if repeat else _cross_attention_scores(a, run, probe["links"])
            else:
                keys = run["tokens"][block["cols"]]
                special = run["special"][block["cols"]]
                causal = block["stack"] == "decoder"
                scores = _self_attention_scores(a, keys, special, causal, repeat)
            for role, values in scores.items():
                per_probe.setdefault((block["name"], role), []).append(values)
    result: dict[tuple[str, int], dict] = {}
    for (name, role), values in per_probe.items():
        stacked = np.array(values)  # [probes, heads]; a probe with no qualifying row is NaN
        for head in range(stacked.shape[1]):
            defined = [v for v in stacked[:, head] if not np.isnan(v)]
            result.setdefault((name, head), {})[role] = np.mean(defined) if defined else None
    return result


def _role(scores: dict, rules: list[dict]) -> str:
    for pattern in (True, False):
        ratios = {
            r["role"]: scores[r["role"]] / r["threshold"]
            for r in rules
            if r["pattern"] == pattern and scores.get(r["role"]) is not None
        }
        passing = {role: ratio for role, ratio in ratios.items() if ratio >= 1}
        if passing:
            return max(passing, key=lambda role: passing[role])
    return "none"


@pytest.mark.parametrize("model", ["minilm", "transformer-zh-en", "bahdanau-zh-en", "tiny-gpt2"])
def test_scores_equal_an_independent_numpy_computation(
    client: TestClient, heads: Heads, model: str
) -> None:
    body = heads(model)
    expected = _recomputed(client, model, body)
    assert len(expected) == len(body["heads"])
    for entry in body["heads"]:
        mine = expected[(entry["block"], entry["head"])]
        assert set(mine) == set(entry["scores"])
        for role, value in entry["scores"].items():
            if value is None:
                assert mine[role] is None
            else:
                assert value == pytest.approx(mine[role], abs=2e-4), (entry, role)
        assert entry["role"] == _role(entry["scores"], body["roles"])


def test_the_probes_are_those_of_the_models_language(heads: Heads) -> None:
    chinese = heads("bahdanau-zh-en")["probes"]
    assert {p["kind"] for p in chinese} == {"sentence", "repeat"}
    assert all("\u4e00" <= p["text"][0] <= "\u9fff" and p["target"] for p in chinese)
    repeat = next(p for p in chinese if p["kind"] == "repeat")
    half = len(repeat["text"]) // 2
    assert repeat["text"][:half] == repeat["text"][half:]
    english = heads("minilm")["probes"]
    assert all(p["target"] is None and p["text"].isascii() for p in english)
    # A decoder reads each probe in one pass: the prompt, then the rest forced.
    decoder = heads("tiny-gpt2")["probes"]
    assert all(p["target"].startswith(" ") for p in decoder)


# --- SmolLM2: its induction heads -------------------------------------------------------


def test_smollm2_induction_heads_are_found_in_layers_17_and_18(heads: Heads) -> None:
    body = heads("smollm2")
    assert len(body["heads"]) == 30 * 9
    induction = {
        (e["layer"], e["head"]): e["score"] for e in body["heads"] if e["role"] == "induction"
    }
    assert induction, "no induction head found"
    assert {layer for layer, _ in induction} <= {16, 17, 18, 19}
    assert induction[(18, 6)] > 0.8
    assert (17, 4) in induction
    sinks = [e for e in body["heads"] if e["role"] == "sink"]
    assert len(sinks) > 30 and max(e["score"] for e in sinks) > 0.99


# --- cached: in memory, on disk, once -------------------------------------------------------


def _count_runs(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, model: str, delay: float = 0.0
) -> list[str]:
    adapter: ModelAdapter = client.app.state.registry.get(model)  # type: ignore[attr-defined]
    real_run = adapter.run
    runs: list[str] = []

    def counted(text: str, target: str | None, **options: object) -> AttentionRun:
        runs.append(text)
        time.sleep(delay)
        return real_run(text, target, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(adapter, "run", counted)
    return runs


def test_roles_are_written_to_disk_and_a_restart_reads_them(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _count_runs(monkeypatch, client, "tiny-bert")
    first_store = _use_store(client, tmp_path)
    first = client.get("/api/v1/models/tiny-bert/heads").json()
    probes = len(first["probes"])
    assert len(runs) == probes and first_store.computations == 1
    cached = tmp_path / "roles" / f"tiny-bert-{first['fingerprint']}.json"
    assert cached.is_file()
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary left
    # Asked again: from memory.
    assert client.get("/api/v1/models/tiny-bert/heads").json() == first
    # A new server on the same folder: from the file, the model never runs.
    second_store = _use_store(client, tmp_path)
    assert client.get("/api/v1/models/tiny-bert/heads").json() == first
    assert len(runs) == probes and second_store.computations == 0


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b'{"model": "tiny-bert"}', "\ufffe".encode("utf-16")],
    ids=["broken", "empty", "incomplete", "not-utf8"],
)
def test_a_corrupt_cache_file_is_computed_again(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    _use_store(client, tmp_path)
    good = client.get("/api/v1/models/tiny-bert/heads").json()
    cached = tmp_path / "roles" / f"tiny-bert-{good['fingerprint']}.json"
    cached.write_bytes(content)
    runs = _count_runs(monkeypatch, client, "tiny-bert")
    store = _use_store(client, tmp_path)
    response = client.get("/api/v1/models/tiny-bert/heads")
    assert response.status_code == 200 and response.json() == good
    assert store.computations == 1 and len(runs) == len(good["probes"])
    assert json.loads(cached.read_bytes()) == good  # replaced by the new computation


def test_a_file_for_another_fingerprint_is_not_trusted(client: TestClient, tmp_path: Path) -> None:
    _use_store(client, tmp_path)
    good = client.get("/api/v1/models/tiny-bert/heads").json()
    cached = tmp_path / "roles" / f"tiny-bert-{good['fingerprint']}.json"
    forged = {**good, "fingerprint": "0" * 16, "heads": []}
    cached.write_text(json.dumps(forged))
    store = _use_store(client, tmp_path)
    assert client.get("/api/v1/models/tiny-bert/heads").json() == good
    assert store.computations == 1


def test_concurrent_first_requests_compute_once(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _count_runs(monkeypatch, client, "tiny-gpt2", delay=0.1)
    store = _use_store(client, tmp_path)
    answers: list[dict] = []

    def ask() -> None:
        answers.append(client.get("/api/v1/models/tiny-gpt2/heads").json())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(a == answers[0] for a in answers)
    assert store.computations == 1 and len(runs) == len(answers[0]["probes"])


def test_an_unwritable_cache_folder_still_answers(client: TestClient, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    store = _use_store(client, blocked)  # roles/ cannot be made under a file
    response = client.get("/api/v1/models/tiny-bert/heads")
    assert response.status_code == 200 and store.computations == 1
    assert client.get("/api/v1/models/tiny-bert/heads").json() == response.json()
    assert store.computations == 1

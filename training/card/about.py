"""What a card says about the model rather than about one training run: the family's
description, the design options that change its attention, its sizes, data, licenses,
tokenization and limits."""

from __future__ import annotations

from typing import Any

from app.seq2seq.checkpoint import WEIGHTS_FILE
from app.seq2seq.families import variants_of
from training.card.entries import Entry

DESCRIPTIONS = {
    "bahdanau": (
        "A GRU encoder-decoder with Bahdanau (additive) attention. A bidirectional GRU "
        "reads the Chinese characters; at every step the GRU decoder's previous hidden "
        "state is the query, every encoder state is a key and a value, and the score is "
        "a(q, k) = w_v^T tanh(W_q q + W_k k), softmax-normalized over the real source "
        "positions. The context vector and the previous English word feed the next GRU "
        "step. The output layer also reads the attention-weighted source embeddings (a "
        "lexical shortcut, Nguyen and Chiang 2018), which keeps the attention on the "
        "character being translated. It returns one attention block, "
        "`decoder.0.cross_attn`, with one head."
    ),
    "luong": (
        "A GRU encoder-decoder with Luong (global) attention, one checkpoint per score "
        "function: dot (h_t^T h_s / sqrt(d)), general (h_t^T W_a h_s / sqrt(d)) and concat "
        "(v_a^T tanh(W_a [h_t; h_s])); the 1/sqrt(d) scaling is ours: unscaled, a general "
        "model's attention collapsed onto the sentence-final states. A bidirectional GRU "
        "reads the Chinese characters; "
        "the decoder GRU computes its state h_t from the previous English word, h_t "
        "queries the encoder states, and tanh(W_c [c_t; h_t]) predicts the next word (no "
        "input feeding). All variants share data, vocabulary, sizes and seed, so they can "
        "be compared on the same sentence. Each returns one block, `decoder.0.cross_attn`, "
        "with one head."
    ),
    "transformer": (
        "A small Transformer encoder-decoder (pre-layer-norm, sinusoidal positions, "
        "decoder input embedding tied to the output projection) with its own multi-head "
        "scaled dot-product attention, softmax(QK^T/sqrt(d))V. It returns, per layer and "
        "head, encoder self-attention `encoder.{L}.self_attn` [H,S,S], decoder masked "
        "self-attention `decoder.{L}.self_attn` [H,T,T] and cross-attention "
        "`decoder.{L}.cross_attn` [H,T,S]."
    ),
}


def design_notes(models: list[tuple[str | None, dict[str, Any]]]) -> list[str]:
    """Options that change what the attention shows, and why they are set."""
    notes = []
    lexical = [
        variant or "this model" for variant, model in models if model.get("lexical_shortcut")
    ]
    if lexical and len(lexical) < len(models):
        notes.append(
            f"Only {', '.join(f'`{v}`' for v in lexical)} adds the attention-weighted source "
            "embeddings to its output (the lexical shortcut of Nguyen and Chiang, 2018): "
            'without it, a dot model kept looking at 吃 while writing "apples" at every '
            "evaluation of a 25-minute run, because the encoder state there also carries 苹果."
        )
    if any(model.get("attend_to_eos") is False for _, model in models):
        notes.append(
            "The encoder reads the appended `</s>`, but it is not an attention key "
            "(`attend_to_eos=false`): its state summarizes the sentence, which the decoder "
            "already starts from, and with it as a key the first English word looked at "
            "`</s>` rather than at a character. `</s>` stays in the source tokens with "
            "weight 0."
        )
    return [line for note in notes for line in (note, "")]


def intro_lines(model_name: str, entries: list[Entry]) -> list[str]:
    """The title, the family's description, its design notes and its variants."""
    family = entries[0].config["family"]
    lines = [f"# {model_name}", "", DESCRIPTIONS[family], ""]
    lines += design_notes([(entry.variant, entry.config["model"]) for entry in entries])
    variants = variants_of(family)
    if len(entries) > 1 and variants is not None:
        lines += [
            "Variants (pick one with `Translator.load(path, variant=...)`; default "
            f"`{variants.default}`): "
            + ", ".join(f"`{e.variant}` in `{e.variant}/`" for e in entries),
            "",
        ]
    return lines


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def model_lines(entries: list[Entry]) -> list[str]:
    """Parameters, weights file and config of each checkpoint, and the vocabularies."""
    lines = ["## Model", "", "| | parameters | weights file | config |", "|---|---|---|---|"]
    for entry in entries:
        settings = ", ".join(
            f"{k}={v}" for k, v in entry.config["model"].items() if not k.endswith("vocab_size")
        )
        size = (entry.folder / WEIGHTS_FILE).stat().st_size
        lines.append(
            f"| {entry.label} | {entry.training.get('parameters', 0):,} | "
            f"{_megabytes(size)} (fp16 safetensors) | {settings} |"
        )
    model = entries[0].config["model"]
    return [
        *lines,
        "",
        f"Vocabularies: {model['source_vocab_size']:,} Chinese characters and "
        f"{model['target_vocab_size']:,} English words, each including `<pad>`, `<unk>`, "
        f"`<s>`, `</s>`. Longest input: {model['max_source_len'] - 1} characters.",
        "",
    ]


def data_lines(data: dict[str, Any]) -> list[str]:
    """The data, its licenses and split, and the tokenization."""
    return [
        "## Data and licenses",
        "",
        "- HSK example sentences from the PyPI package `hsk-sentences-audio` (CC-BY-SA-4.0), "
        f"{data['hsk_pairs']:,} pairs (two placeholder translations dropped).",
        "- Tatoeba English–Chinese pairs (`cmn-eng.tsv`, as exported by manythings.org/anki), "
        f"{data['tatoeba_pairs']:,} pairs, CC-BY 2.0 FR, credit: Tatoeba Project contributors "
        "(https://tatoeba.org). The file is not part of this repository; training and "
        "evaluation take its path as an argument.",
        "- Chinese is normalized with Unicode NFKC and OpenCC `t2s` (traditional to simplified).",
        f"- Held out from Tatoeba with split seed {data['split_seed']}: "
        f"{data['test_pairs']} test pairs and {data['dev_pairs']} dev pairs (early stopping), "
        "grouped by Chinese sentence so that no held-out source sentence, with any of its "
        "translations, is trained on (also removed from HSK). "
        f"Training pairs: {data['train_pairs']:,}.",
        "- The weights are derived from both datasets: attribute both, and share derived "
        "works under the ShareAlike terms of CC-BY-SA-4.0.",
        "",
        "## Tokenization",
        "",
        "- Chinese: one token per character. No segmenter errors, a small vocabulary, and "
        "one attention key per character — the alignment picture 我 爱 吃 苹 果 → "
        "I love apples, where *apples* attends to 苹/果. The encoder appends `</s>`.",
        "- English: words, with punctuation and clitics split off (`Do n't`, `Tom 's`), case "
        "kept except that a sentence-initial word is lowercased when its lowercase form is a "
        'known word. Output is detokenized and re-capitalized: "I love apples."',
        f"- Tokens seen fewer than {data['min_count']} times in training become `<unk>`; "
        "decoding never emits `<unk>`.",
        "",
    ]


def limitation_lines() -> list[str]:
    return [
        "## Limitations",
        "",
        "- Trained on about 24k short, simple sentences (HSK textbook examples and Tatoeba): "
        "expect good output on everyday sentences and poor output on long, technical or "
        "literary text, names and numbers (rare words are `<unk>` in the vocabulary).",
        "- Attention weights show where the model looked, not a guaranteed word alignment. "
        "The row of an English word is computed before that word is chosen: it shows where "
        "the model looked to choose it.",
        "",
    ]

"""Write a model card (models/<id>/README.md) from the JSON files training and
evaluation leave in the model folder.

    python -m app.seq2seq.card models/transformer-zh-en
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.seq2seq.align_record import alignment_card_lines
from app.seq2seq.checkpoint import (
    CONFIG_FILE,
    METRICS_FILE,
    TRAINING_FILE,
    WEIGHTS_FILE,
    read_json,
    variant_names,
)

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


def _checkpoint_folders(model_dir: Path) -> list[tuple[str | None, Path]]:
    variants = variant_names(model_dir)
    if variants:
        return [(v, model_dir / v) for v in variants]
    return [(None, model_dir)]


def _read_optional(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}


def _megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _score_cell(metrics: dict[str, Any], key: str) -> str:
    value = metrics.get(key)
    return f"{value['bleu']:.1f} / {value['chrf']:.1f}" if value else "–"


def _label(variant: str | None) -> str:
    return f"`{variant}`" if variant else "this model"


def _design_notes(models: list[tuple[str | None, dict[str, Any]]]) -> list[str]:
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


def _selection_notes(training: dict[str, Any]) -> list[str]:
    """How the saved checkpoint was chosen, when the demo alignment was tracked."""
    history = training["history"]
    if not history or "demo_aligned" not in history[0]:
        return []
    aligned = sum(1 for h in history if h["demo_aligned"])
    lowest = min(history, key=lambda h: h["dev_loss"])
    note = (
        f'- The teacher-forced demo (我爱吃苹果 / "I love apples") aligned at {aligned} of '
        f"{len(history)} dev evaluations; the lowest dev loss overall was at step "
        f"{lowest['step']} ({'aligned' if lowest['demo_aligned'] else 'not aligned'})."
    )
    if not training.get("select_aligned"):
        return [note]
    if not aligned:
        return [note, "- `--select-aligned` found no aligned evaluation: the last one was kept."]
    return [
        note,
        "- Checkpoint selection (`--select-aligned`): the saved checkpoint has the lowest dev "
        "loss among the evaluations whose demo attention aligned, not among all of them.",
    ]


def _run_lines(training: dict[str, Any], selection: bool) -> list[str]:
    """The command and settings of one training run (from scratch or fine-tuning)."""
    hp = training["hyperparameters"]
    lines = [
        "```",
        training["command"],
        "```",
        "",
        f"- {training['training_minutes']} minutes on {training['threads']} CPU thread(s) "
        f"of a {training['cpu_count']}-core {training['machine']} machine "
        f"(torch {training['torch']}"
        f"{', bfloat16 autocast' if training.get('bf16_autocast') else ''}, shared with "
        f"other work), {training['steps']} steps / {training['epochs']} "
        f"epochs, stopped by {training['stop_reason'].replace('_', ' ')}; best dev loss "
        f"{training['best_dev_loss']} (per-token NLL) at step {training['best_step']}.",
        f"- AdamW (β=0.9/0.98, weight decay {hp['weight_decay']}), peak lr {hp['lr']}, "
        f"{hp['warmup']} warm-up steps then cosine decay over the step or time budget "
        f"(whichever runs out first), label smoothing "
        f"{hp['label_smoothing']}, ~{hp['batch_tokens']} tokens per batch, gradient "
        f"clipping {hp['clip_norm']}, seed {training['seed']}; each epoch "
        f"{hp.get('drop_final_punctuation', 0):.0%} of the sources lose their final "
        "。/!/? so that input typed without it translates as well.",
    ]
    initial = training.get("fine_tuned_from")
    if initial:
        lines.append(
            f"- Started from the checkpoint of the run above (`{initial['folder']}`, dev loss "
            f"{initial['dev_loss']}), keeping its configuration and vocabularies."
        )
    guided = training.get("guided_alignment")
    if guided:
        share = guided["linked_target_tokens"] / max(1, guided["target_tokens"])
        lines += [
            "- Guided alignment (Garg et al., 2019): prior word alignments of the training "
            f"pairs from {guided['prior_aligner']}, on the same tokens the model reads and "
            f"writes (Chinese characters, English training tokens), symmetrized with "
            f"{guided['symmetrization']} ({share:.0%} of the English tokens have a link). "
            f"One attention distribution, head {guided['head']} of `{guided['block']}`, is "
            "trained towards them: for the row that writes English token t, linked to the "
            "characters J_t, the alignment loss is −Σ_{j∈J_t} log α_{t,j} / |J_t|, averaged "
            "over the rows with a link (rows without one, `</s>` and padding are skipped); "
            f"the training loss is NLL + {guided['weight']} × alignment loss.",
        ]
    if training.get("selection"):
        lines.append(f"- Checkpoint selection: {training['selection']}")
    if selection:
        lines += _selection_notes(training)
    return lines


def render_card(model_dir: Path) -> str:
    folders = _checkpoint_folders(model_dir)
    entries = [
        (
            variant,
            folder,
            read_json(folder / CONFIG_FILE),
            _read_optional(folder / TRAINING_FILE),
            _read_optional(folder / METRICS_FILE),
        )
        for variant, folder in folders
    ]
    family = entries[0][2]["family"]
    data = entries[0][2]["data"]
    lines = [f"# {model_dir.name}", "", DESCRIPTIONS[family], ""]
    lines += _design_notes([(variant, config["model"]) for variant, _, config, *_ in entries])
    if len(entries) > 1:
        lines += [
            "Variants (pick one with `Translator.load(path, variant=...)`; default "
            "`general`): " + ", ".join(f"`{v}` in `{v}/`" for v, *_ in entries),
            "",
        ]

    lines += ["## Model", "", "| | parameters | weights file | config |", "|---|---|---|---|"]
    for variant, folder, config, training, _ in entries:
        settings = ", ".join(
            f"{k}={v}" for k, v in config["model"].items() if not k.endswith("vocab_size")
        )
        lines.append(
            f"| {_label(variant)} | {training.get('parameters', 0):,} | "
            f"{_megabytes(folder / WEIGHTS_FILE)} (fp16 safetensors) | {settings} |"
        )
    model = entries[0][2]["model"]
    lines += [
        "",
        f"Vocabularies: {model['source_vocab_size']:,} Chinese characters and "
        f"{model['target_vocab_size']:,} English words, each including `<pad>`, `<unk>`, "
        f"`<s>`, `</s>`. Longest input: {model['max_source_len'] - 1} characters.",
        "",
    ]

    lines += [
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
        "## Training",
        "",
    ]
    for variant, _, _, training, _ in entries:
        if not training:
            continue
        if variant:
            lines += [f"### {variant}", ""]
        runs = [training]  # the run that wrote the weights, then the ones it started from
        while (runs[-1].get("fine_tuned_from") or {}).get("training"):
            runs.append(runs[-1]["fine_tuned_from"]["training"])
        for number, run in enumerate(reversed(runs)):
            if len(runs) > 1:
                heading = "Trained from scratch:" if number == 0 else "Then fine-tuned:"
                lines += [heading, ""]
            lines += _run_lines(run, selection=run is training)
            lines.append("")

    columns = sorted(
        {
            key
            for *_, metrics in entries
            for key, value in metrics.items()
            if isinstance(value, dict) and "bleu" in value
        },
        key=lambda key: (key.split("_")[0] != "dev", int(key.split("beam")[1])),
    )
    headers = [key.replace("_beam1", " greedy").replace("_beam", " beam ") for key in columns]
    lines += [
        "## Evaluation",
        "",
        f"sacrebleu BLEU / chrF against the cased Tatoeba references ({data['test_pairs']} "
        f"test pairs, {data['dev_pairs']} dev pairs):",
        "",
        "| | " + " | ".join(headers) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for variant, _, _, _, metrics in entries:
        cells = [_score_cell(metrics, key) for key in columns]
        lines.append(f"| {_label(variant)} | " + " | ".join(cells) + " |")
    commands = [m["command"] for *_, m in entries if m.get("command")]
    if commands:
        lines += ["", "Measure it again:", "", "```", *dict.fromkeys(commands), "```"]
    lines += [
        "",
        "The page's translations are greedy; beam search is `attend(..., beam_size=5)`. "
        "Tatoeba sentences are short (median 9 characters) and the corpus holds many "
        "near-paraphrases, so held-out sentences often resemble training ones (only exact "
        "source duplicates are kept apart): expect lower scores on other text.",
        "",
    ]

    lines += alignment_card_lines([(variant, folder) for variant, folder, *_ in entries])
    lines += [
        "## Examples",
        "",
        "Alignment: for each English token, the source character with the highest "
        "(head-mean) cross-attention weight.",
        "",
    ]
    for variant, _, _, _, metrics in entries:
        if not metrics:
            continue
        if variant:
            lines += [f"### {variant}", ""]
        beam = metrics.get("examples_beam", 1)
        lines.append(f"Translations with beam {beam}:")
        lines.append("")
        for example in metrics["examples"]:
            reference = f" (reference: {example['reference']})" if example["reference"] else ""
            lines.append(f"- {example['source']} → **{example['output']}**{reference}")
            for block, text in example["alignment"].items():
                lines.append(f"  - `{block}`: {text}")
        demo = metrics["demo_alignment"]
        lines += ["", f'Teacher-forced "{demo["target"]}" on {demo["source"]}:', ""]
        for block, result in demo["blocks"].items():
            verdict = "aligned" if result["ok"] else "not aligned"
            lines.append(f"- `{block}`: {result['alignment']} ({verdict})")
        lines.append("")

    lines += [
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
    return "\n".join(lines)


def write_card(model_dir: Path) -> Path:
    path = model_dir / "README.md"
    path.write_text(render_card(model_dir), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m app.seq2seq.card",
        description="Rewrite models/<id>/README.md from the JSON files in the folder.",
    )
    parser.add_argument("model_dirs", type=Path, nargs="+", help="models/<id>")
    for model_dir in parser.parse_args(argv).model_dirs:
        print(write_card(model_dir))


if __name__ == "__main__":
    main()

"""The card's Training section: for each checkpoint, the command and settings of the run
that wrote its weights and of every run it was fine-tuned from, and how the saved
checkpoint was chosen."""

from __future__ import annotations

from typing import Any

from training.card.entries import Entry


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


def training_lines(entries: list[Entry]) -> list[str]:
    lines = ["## Training", ""]
    for entry in entries:
        training = entry.training
        if not training:
            continue
        if entry.variant:
            lines += [f"### {entry.variant}", ""]
        runs = [training]  # the run that wrote the weights, then the ones it started from
        while (runs[-1].get("fine_tuned_from") or {}).get("training"):
            runs.append(runs[-1]["fine_tuned_from"]["training"])
        for number, run in enumerate(reversed(runs)):
            if len(runs) > 1:
                heading = "Trained from scratch:" if number == 0 else "Then fine-tuned:"
                lines += [heading, ""]
            lines += _run_lines(run, selection=run is training)
            lines.append("")
    return lines

"""The training loop: AdamW steps over token-budget batches until the step budget, the time
limit or early stopping, with a dev-loss evaluation every few steps that saves the best
checkpoint."""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.checkpoint import Checkpoint, save_checkpoint
from app.seq2seq.translator import Translator
from training.demo import demo_alignment
from training.encoding import Example
from training.guided import aligned_batches, drop_last_source
from training.hyperparameters import Hyperparameters, learning_rate_factor
from training.losses import dev_loss, guided_loss
from training.prepare import Prepared


@dataclass
class Outcome:
    steps: int
    epochs: int
    best_dev_loss: float
    best_step: int  # the step of the saved checkpoint
    stop_reason: str  # "max_steps", "early_stopping" or "time_limit"
    seconds: float
    history: list[dict[str, float]]


def drop_final_punctuation(
    examples: list[Example], ids: set[int], probability: float, rng: random.Random
) -> list[Example]:
    """A copy of `examples` where each source ending in one of `ids` loses that token
    with the given probability."""
    return [
        drop_last_source(e)
        if len(e.source) > 1 and e.source[-1] in ids and rng.random() < probability
        else e
        for e in examples
    ]


def demo_aligned(checkpoint: Checkpoint) -> bool:
    """Whether the checkpoint's attention aligns the demo sentence (--select-aligned)."""
    aligned = bool(demo_alignment(Translator(checkpoint))["ok"])
    checkpoint.model.train()  # the Translator put it in eval mode
    return aligned


def fit(
    model: Seq2SeqModel,
    prepared: Prepared,
    hp: Hyperparameters,
    args: argparse.Namespace,
    out: Path,
    variant: str | None,
) -> Outcome:
    """Train until max_steps, the time limit or early stopping; every evaluation that
    improves the dev loss saves the checkpoint to `out` (with --select-aligned, only one
    whose attention also aligns the demo sentence)."""
    source_vocab, target_vocab = prepared.source_vocab, prepared.target_vocab
    rng = random.Random(args.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=hp.lr, betas=(0.9, 0.98), weight_decay=hp.weight_decay
    )
    final_punctuation = {source_vocab.index[c] for c in "。!?." if c in source_vocab}
    history: list[dict[str, float]] = []
    best = lowest = math.inf  # the saved checkpoint's dev loss; the lowest seen
    best_step = evaluations_since_best = 0
    step = epoch = 0
    running = running_align = math.nan
    guided = prepared.guided is not None
    stop_reason = "max_steps"
    started = time.perf_counter()
    time_limit = args.minutes * 60
    model.train()
    bar = tqdm(total=hp.max_steps, desc=f"train {args.model}", unit="step", mininterval=1.0)
    while stop_reason == "max_steps" and step < hp.max_steps:
        epoch += 1
        examples = drop_final_punctuation(
            prepared.train, final_punctuation, hp.drop_final_punctuation, rng
        )
        for batch, prior in aligned_batches(
            examples, source_vocab, target_vocab, hp.batch_tokens, rng
        ):
            time_used = (time.perf_counter() - started) / time_limit
            lr = hp.lr * learning_rate_factor(step, time_used, hp)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                loss, align = guided_loss(
                    model,
                    batch,
                    target_vocab.pad_id,
                    hp.label_smoothing,
                    prior if guided else None,
                    args.alignment_layer,
                    args.alignment_head,
                )
            if align is not None:
                loss = loss + args.alignment_weight * align
                value = align.item()
                running_align = (
                    value if math.isnan(running_align) else 0.98 * running_align + 0.02 * value
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), hp.clip_norm)
            optimizer.step()
            step += 1
            running = loss.item() if math.isnan(running) else 0.98 * running + 0.02 * loss.item()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{running:.3f}", dev=f"{best:.3f}", lr=f"{lr:.2e}")
            out_of_time = time.perf_counter() - started > time_limit
            if step % hp.eval_every == 0 or step >= hp.max_steps or out_of_time:
                loss_dev = dev_loss(
                    model, prepared.dev, source_vocab, target_vocab, hp.batch_tokens
                )
                checkpoint = Checkpoint(
                    model, prepared.config, source_vocab, target_vocab, prepared.data, variant
                )
                entry: dict[str, Any] = {
                    "step": step,
                    "epoch": epoch,
                    "train_loss": round(running, 4),
                    "dev_loss": round(loss_dev, 4),
                    "minutes": round((time.perf_counter() - started) / 60, 2),
                }
                if guided:
                    entry["train_align_loss"] = round(running_align, 4)
                aligned = True
                if args.select_aligned:
                    aligned = entry["demo_aligned"] = demo_aligned(checkpoint)
                history.append(entry)
                if args.candidates is not None:
                    save_checkpoint(args.candidates / f"step-{step}", checkpoint)
                if loss_dev < lowest:  # patience counts dev-loss progress, aligned or not
                    lowest, evaluations_since_best = loss_dev, 0
                else:
                    evaluations_since_best += 1
                if loss_dev < best and aligned:
                    best, best_step = loss_dev, step
                    save_checkpoint(out, checkpoint)
                if evaluations_since_best >= hp.patience:
                    stop_reason = "early_stopping"
            if out_of_time and stop_reason == "max_steps":
                stop_reason = "time_limit"
            if stop_reason != "max_steps" or step >= hp.max_steps:
                break
    bar.close()
    if math.isinf(best):  # --select-aligned and no evaluation aligned: keep the last one
        best, best_step = history[-1]["dev_loss"], step
        save_checkpoint(out, checkpoint)
    seconds = time.perf_counter() - started
    return Outcome(step, epoch, best, best_step, stop_reason, seconds, history)

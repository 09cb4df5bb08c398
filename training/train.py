"""Train a zh->en translator on HSK + Tatoeba pairs and write models/<id>/.

    python -m app.seq2seq.train --model transformer --tatoeba /path/to/cmn-eng.tsv \\
        --out models/transformer-zh-en --minutes 50

Writes config.json, vocab.json, model.safetensors (the checkpoint with the lowest dev
loss), training.json, metrics.json (dev/test BLEU and chrF) and the model card README.md.
For --model luong the checkpoint goes to <out>/<score>/, one folder per score function.
A tiny run for tests: --limit 200 --max-steps 20 --dev-size 20 --test-size 20 --set ...

Fine-tuning with guided alignment (app/seq2seq/guided.py): --init-from models/<id> starts
from a trained checkpoint (its config and vocabularies, so token ids do not change) and
--guided-alignment CACHE adds the alignment loss against eflomal links of the training
pairs (app/seq2seq/prior_alignment.py; CACHE is created if missing):

    python -m app.seq2seq.train --model transformer --tatoeba /path/to/cmn-eng.tsv \\
        --init-from models/transformer-zh-en --out /tmp/ft/transformer \\
        --guided-alignment ~/.cache/attn/eflomal.jsonl --alignment-layer 1 \\
        --alignment-head 0 --alignment-weight 0.05 --lr 3e-4 --warmup 50 --minutes 13 \\
        --candidates /tmp/ft/transformer-candidates
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from app.attention.names import cross_attention
from app.seq2seq.base import Seq2SeqModel
from app.seq2seq.card import write_card
from app.seq2seq.checkpoint import (
    METRICS_FILE,
    TRAINING_FILE,
    Checkpoint,
    load_checkpoint,
    read_json,
    save_checkpoint,
    write_json,
)
from app.seq2seq.data import (
    Example,
    Pair,
    encode_pairs,
    iterate_batches,
    lowercase_vocabulary,
    read_hsk,
    read_tatoeba,
    split_pairs,
)
from app.seq2seq.evaluate import evaluate_folder, file_sha256
from app.seq2seq.families import CONFIGS, ModelConfig, build_model, make_config
from app.seq2seq.guided import (
    aligned_batches,
    alignment_loss,
    drop_last_source,
    encode_aligned,
    token_pairs,
)
from app.seq2seq.luong import DEFAULT_SCORE, SCORES, LuongConfig
from app.seq2seq.prior_alignment import SYMMETRIZATIONS, corpus_digest, prior_alignments
from app.seq2seq.text import tokenize_chinese, tokenize_english, truecase
from app.seq2seq.vocab import Vocab


@dataclass
class Hyperparameters:
    """Optimization settings; each family has its own defaults (FAMILY_DEFAULTS)."""

    lr: float = 1e-3  # peak learning rate (AdamW)
    warmup: int = 400  # steps of linear warm-up
    min_lr_ratio: float = 0.05  # the cosine decay ends at lr * min_lr_ratio
    max_steps: int = 12000  # optimizer steps; the cosine decay spans these or --minutes,
    # whichever runs out first (on a shared CPU the time limit often comes first)
    batch_tokens: int = 4000  # padded source + target tokens per batch
    label_smoothing: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0  # gradient norm clipping
    eval_every: int = 250  # steps between dev-loss evaluations
    patience: int = 8  # stop after this many evaluations without a better dev loss
    drop_final_punctuation: float = 0.15  # chance to train a pair without the source's
    # final 。/!/? so that input typed without it is translated as well


FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "bahdanau": {"lr": 2e-3, "warmup": 200, "max_steps": 4000, "batch_tokens": 3000},
    "luong": {"lr": 2e-3, "warmup": 200, "max_steps": 4000, "batch_tokens": 3000},
    "transformer": {"lr": 1e-3, "warmup": 400, "max_steps": 4000, "batch_tokens": 4000},
}


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """--set key=value pairs; values are parsed as true/false, int, float or kept as text."""
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        value: Any = {"true": True, "false": False}.get(raw.lower(), raw)
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
        values[key] = value
    return values


def build_vocabularies(train: list[Pair], min_count: int) -> tuple[Vocab, Vocab]:
    source = Vocab.build((tokenize_chinese(p.source) for p in train), min_count)
    raw_targets = [tokenize_english(p.target) for p in train]
    known = lowercase_vocabulary(raw_targets)
    target = Vocab.build((truecase(t, known.__contains__) for t in raw_targets), min_count)
    return source, target


def learning_rate_factor(step: int, time_used: float, hp: Hyperparameters) -> float:
    """Linear warm-up over `hp.warmup` steps, then cosine decay to min_lr_ratio as the
    steps or the time (`time_used`, a fraction of the time limit) run out."""
    if step < hp.warmup:
        return (step + 1) / hp.warmup
    progress = max((step - hp.warmup) / max(1, hp.max_steps - hp.warmup), time_used)
    progress = min(1.0, progress)
    return hp.min_lr_ratio + (1 - hp.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


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


def sequence_loss(
    model: Seq2SeqModel, batch: Any, pad_id: int, label_smoothing: float
) -> torch.Tensor:
    return guided_loss(model, batch, pad_id, label_smoothing)[0]


def guided_loss(
    model: Seq2SeqModel,
    batch: Any,
    pad_id: int,
    label_smoothing: float,
    prior: torch.Tensor | None = None,
    layer: int = 0,
    head: int = 0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The NLL of the batch and, given a prior (B, T, S), the alignment loss of one
    cross-attention head (app.seq2seq.guided.alignment_loss)."""
    logits, blocks = model(batch.source, batch.source_mask, batch.target_in)  # (B, T, V)
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        batch.target_out.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=label_smoothing,
    )
    if prior is None:
        return nll, None
    attention = blocks[cross_attention(layer)][:, head]  # (B, T, S)
    return nll, alignment_loss(attention, prior)


def dev_loss(
    model: Seq2SeqModel, examples: list[Example], source: Vocab, target: Vocab, tokens: int
) -> float:
    """Mean per-token negative log-likelihood (no smoothing) on the dev set."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in iterate_batches(examples, source, target, tokens):
            n = batch.target_tokens
            total += float(sequence_loss(model, batch, target.pad_id, 0.0)) * n
            count += n
    model.train()
    return total / max(1, count)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.seq2seq.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", choices=sorted(CONFIGS), required=True)
    parser.add_argument(
        "--score", choices=SCORES, default=None, help="Luong score function (default general)"
    )
    parser.add_argument(
        "--tatoeba", type=Path, required=True, help="Tatoeba English<TAB>Chinese file (cmn-eng.tsv)"
    )
    parser.add_argument(
        "--no-hsk", action="store_true", help="train on Tatoeba only, without the HSK sentences"
    )
    parser.add_argument("--out", type=Path, required=True, help="models/<id>")
    parser.add_argument("--seed", type=int, default=1, help="initialization and batch order")
    parser.add_argument(
        "--split-seed", type=int, default=0, help="the dev/test split (keep it equal across models)"
    )
    parser.add_argument("--dev-size", type=int, default=500, help="held-out Tatoeba pairs")
    parser.add_argument("--test-size", type=int, default=1000, help="held-out Tatoeba pairs")
    parser.add_argument("--limit", type=int, default=None, help="use only N training pairs")
    parser.add_argument(
        "--min-count", type=int, default=2, help="rarer tokens become <unk> in the vocabularies"
    )
    parser.add_argument(
        "--minutes", type=float, default=50.0, help="wall-clock cap on the training loop"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="autocast matrix products to bfloat16 (faster on CPUs with "
        "AVX512-BF16 or AMX); weights and the saved model stay float",
    )
    for field, default in asdict(Hyperparameters()).items():
        family_defaults = {f: d.get(field, default) for f, d in FAMILY_DEFAULTS.items()}
        parser.add_argument(
            "--" + field.replace("_", "-"),
            type=type(default),
            default=None,
            help=f"default by family: {family_defaults}",
        )
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="fine-tune a trained model folder (models/<id>; for Luong the --score variant "
        "inside it): its config and vocabularies are kept, --set is not allowed",
    )
    parser.add_argument(
        "--guided-alignment",
        type=Path,
        default=None,
        metavar="CACHE",
        help="add the guided-alignment loss against symmetrized eflomal links of the "
        "training pairs, cached in CACHE (JSON lines; created if missing; keep it out of "
        "the repository)",
    )
    parser.add_argument(
        "--symmetrization", choices=sorted(SYMMETRIZATIONS), default="grow-diag-final-and"
    )
    parser.add_argument(
        "--alignment-layer", type=int, default=0, help="decoder layer of the supervised head"
    )
    parser.add_argument("--alignment-head", type=int, default=0, help="the supervised head")
    parser.add_argument(
        "--alignment-weight", type=float, default=0.05, help="lambda: NLL + lambda * align"
    )
    parser.add_argument(
        "--candidates",
        type=Path,
        default=None,
        help="also save the checkpoint of every evaluation to CANDIDATES/step-N (complete "
        "model folders), to choose among them by other measures afterwards",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config override, e.g. --set d_model=128 (repeatable)",
    )
    parser.add_argument(
        "--beam",
        type=int,
        nargs="+",
        default=[1, 5],
        help="beam sizes for the final dev/test scores",
    )
    args = parser.parse_args(argv)
    if args.score and args.model != "luong":
        parser.error("--score applies to --model luong only")
    if args.init_from and args.set:
        parser.error("--set cannot change the config of an --init-from checkpoint")
    return args


def hyperparameters(args: argparse.Namespace) -> Hyperparameters:
    values = {**asdict(Hyperparameters()), **FAMILY_DEFAULTS[args.model]}
    for field in values:
        given = getattr(args, field)
        if given is not None:
            values[field] = given
    return Hyperparameters(**values)


@dataclass
class Prepared:
    """The encoded data of one training run and what is saved next to its weights."""

    config: ModelConfig
    source_vocab: Vocab
    target_vocab: Vocab
    train: list[Example]
    dev: list[Example]
    data: dict[str, Any]  # how the data was prepared and split (goes into config.json)
    initial: Checkpoint | None = None  # the --init-from checkpoint
    guided: dict[str, Any] | None = None  # the guided-alignment settings (training.json)


@dataclass
class Outcome:
    steps: int
    epochs: int
    best_dev_loss: float
    best_step: int  # the step of the saved checkpoint
    stop_reason: str  # "max_steps", "early_stopping" or "time_limit"
    seconds: float
    history: list[dict[str, float]]


def prepare(args: argparse.Namespace) -> Prepared:
    """Read and split the data, build the vocabularies and the model config."""
    tatoeba = read_tatoeba(args.tatoeba)
    hsk = [] if args.no_hsk else read_hsk()
    splits = split_pairs(tatoeba, hsk, args.split_seed, args.dev_size, args.test_size)
    train_pairs = list(splits.train)
    random.Random(args.seed).shuffle(train_pairs)
    if args.limit is not None:
        train_pairs = train_pairs[: args.limit]
    initial = None
    if args.init_from is not None:
        folder = args.init_from
        if args.model == "luong":
            folder = folder / (args.score or DEFAULT_SCORE)
        initial = load_checkpoint(folder)
        for key in ("split_seed", "dev_size", "test_size"):
            if initial.data.get(key) != getattr(args, key):
                raise SystemExit(f"--{key.replace('_', '-')} differs from {folder}'s")
        source_vocab, target_vocab, config = (
            initial.source_vocab,
            initial.target_vocab,
            initial.config,
        )
    else:
        source_vocab, target_vocab = build_vocabularies(train_pairs, args.min_count)
        overrides = parse_overrides(args.set)
        if args.model == "luong":
            overrides["score"] = args.score or overrides.get("score", DEFAULT_SCORE)
        config = make_config(
            args.model,
            {
                **overrides,
                "source_vocab_size": len(source_vocab),
                "target_vocab_size": len(target_vocab),
            },
        )
    limits = (config.max_source_len, config.max_target_len)
    guided = None
    if args.guided_alignment is not None:
        tokens = token_pairs(train_pairs, target_vocab)
        dev_tokens = token_pairs(splits.dev, target_vocab)  # aligned along (no labels used)
        links = prior_alignments(
            tokens + dev_tokens, args.guided_alignment.expanduser(), args.symmetrization
        )[: len(tokens)]
        train = encode_aligned(tokens, links, source_vocab, target_vocab, *limits)
        guided = {
            "method": "guided alignment (Garg et al., 2019)",
            "prior_aligner": "eflomal (PyPI eflomal, default model: IBM1+HMM+fertility), "
            "both directions",
            "symmetrization": args.symmetrization,
            "aligned_corpus": "training pairs plus the dev pairs (unlabelled text only)",
            "corpus_sha256_16": corpus_digest(tokens + dev_tokens),
            "layer": args.alignment_layer,
            "head": args.alignment_head,
            "block": str(cross_attention(args.alignment_layer)),
            "weight": args.alignment_weight,
            "linked_target_tokens": sum(len({j for _, j in s}) for s in links),
            "target_tokens": sum(len(en) for _, en in tokens),
        }
    else:
        train = encode_pairs(train_pairs, source_vocab, target_vocab, *limits)
    data = {
        "tatoeba_sha256": file_sha256(args.tatoeba),
        "tatoeba_pairs": len(tatoeba),
        "hsk_pairs": len(hsk),
        "split_seed": args.split_seed,
        "dev_size": args.dev_size,
        "test_size": args.test_size,
        "train_pairs": len(train),
        "dev_pairs": len(splits.dev),
        "test_pairs": len(splits.test),
        "limit": args.limit,
        "min_count": args.min_count,
        "source_tokenization": "character",
        "target_tokenization": "word (clitics and punctuation split, sentence starts truecased)",
    }
    if initial is not None:
        data = {**initial.data, "fine_tuned_from": str(args.init_from)}
    dev = encode_pairs(splits.dev, source_vocab, target_vocab, *limits)
    return Prepared(config, source_vocab, target_vocab, train, dev, data, initial, guided)


def fit(
    model: Seq2SeqModel,
    prepared: Prepared,
    hp: Hyperparameters,
    args: argparse.Namespace,
    out: Path,
    variant: str | None,
) -> Outcome:
    """Train until max_steps, the time limit or early stopping; every evaluation that
    improves the dev loss saves the checkpoint to `out`."""
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
                history.append(entry)
                if args.candidates is not None:
                    save_checkpoint(args.candidates / f"step-{step}", checkpoint)
                if loss_dev < lowest:
                    lowest, evaluations_since_best = loss_dev, 0
                else:
                    evaluations_since_best += 1
                if loss_dev < best:
                    best, best_step = loss_dev, step
                    save_checkpoint(out, checkpoint)
                if evaluations_since_best >= hp.patience:
                    stop_reason = "early_stopping"
            if out_of_time and stop_reason == "max_steps":
                stop_reason = "time_limit"
            if stop_reason != "max_steps" or step >= hp.max_steps:
                break
    bar.close()
    seconds = time.perf_counter() - started
    return Outcome(step, epoch, best, best_step, stop_reason, seconds, history)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = "python -m app.seq2seq.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    hp = hyperparameters(args)
    prepared = prepare(args)
    config = prepared.config
    variant = config.score if isinstance(config, LuongConfig) else None
    out = args.out / variant if variant else args.out
    model = prepared.initial.model if prepared.initial else build_model(config)
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model}{' ' + variant if variant else ''}: {parameters:,} parameters, "
        f"{len(prepared.train)} training pairs, vocab {len(prepared.source_vocab)} zh / "
        f"{len(prepared.target_vocab)} en",
        file=sys.stderr,
    )
    if prepared.initial is not None:  # the starting point, for comparison
        start_loss = dev_loss(
            model, prepared.dev, prepared.source_vocab, prepared.target_vocab, hp.batch_tokens
        )
        print(f"initial dev loss {start_loss:.4f}", file=sys.stderr)
    outcome = fit(model, prepared, hp, args, out, variant)
    best_step = outcome.best_step
    training: dict[str, Any] = {
        "command": command,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "bf16_autocast": args.bf16,
    }
    if prepared.initial is not None:
        initial_folder = args.init_from / variant if variant else args.init_from
        initial_training = initial_folder / TRAINING_FILE
        training["fine_tuned_from"] = {
            "folder": str(args.init_from),
            "dev_loss": round(start_loss, 4),
            # how the starting checkpoint was trained (its training.json)
            "training": read_json(initial_training) if initial_training.is_file() else None,
        }
    if prepared.guided is not None:
        training["guided_alignment"] = prepared.guided
    write_json(
        out / TRAINING_FILE,
        {
            **training,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
            "hyperparameters": asdict(hp),
            "parameters": parameters,
            "steps": outcome.steps,
            "epochs": outcome.epochs,
            "best_step": best_step,
            "best_dev_loss": round(outcome.best_dev_loss, 4),
            "stop_reason": outcome.stop_reason,
            "training_minutes": round(outcome.seconds / 60, 2),
            "history": outcome.history,
        },
    )
    print(
        f"trained {outcome.steps} steps ({outcome.epochs} epochs) in "
        f"{outcome.seconds / 60:.1f} min; best dev loss {outcome.best_dev_loss:.3f} at step "
        f"{best_step} ({outcome.stop_reason})",
        file=sys.stderr,
    )
    eval_command = (
        f"python -m app.seq2seq.evaluate --model-dir {shlex.quote(str(args.out))}"
        + (f" --variant {variant}" if variant else "")
        + f" --tatoeba {shlex.quote(str(args.tatoeba))} --beam "
        + " ".join(map(str, args.beam))
        + " --write"
    )
    metrics = evaluate_folder(args.out, variant, args.tatoeba, tuple(args.beam), eval_command)
    write_json(out / METRICS_FILE, metrics)
    write_card(args.out)
    for name, value in metrics.items():
        if isinstance(value, dict) and "bleu" in value:
            print(f"{name}: BLEU {value['bleu']:.2f} chrF {value['chrf']:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()

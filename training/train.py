"""Train a zh->en translator on HSK + Tatoeba pairs and write models/<id>/.

    python -m training.train --model transformer --tatoeba /path/to/cmn-eng.tsv \\
        --out models/transformer-zh-en --minutes 50

Writes config.json, vocab.json, model.safetensors (the checkpoint with the lowest dev
loss), training.json, metrics.json (dev/test BLEU and chrF) and the model card README.md.
For a family with variants (--model luong) the checkpoint goes to <out>/<variant>/, one
folder per variant (--score). A tiny run for tests:
--limit 200 --max-steps 20 --dev-size 20 --test-size 20 --set ...

Fine-tuning with guided alignment (training/guided.py): --init-from models/<id> starts
from a trained checkpoint (its config and vocabularies, so token ids do not change) and
--guided-alignment CACHE adds the alignment loss against eflomal links of the training
pairs (training/prior_alignment.py; CACHE is created if missing):

    python -m training.train --model transformer --tatoeba /path/to/cmn-eng.tsv \\
        --init-from models/transformer-zh-en --out /tmp/ft/transformer \\
        --guided-alignment ~/.cache/attn/eflomal.jsonl --alignment-layer 1 \\
        --alignment-head 0 --alignment-weight 0.05 --lr 3e-4 --warmup 50 --minutes 13 \\
        --candidates /tmp/ft/transformer-candidates
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from app.seq2seq.checkpoint import METRICS_FILE, TRAINING_FILE, read_json, write_json
from app.seq2seq.families import FAMILIES, build_model, variant_of
from training.card.render import write_card
from training.evaluate import evaluate_folder
from training.hyperparameters import FAMILY_DEFAULTS, Hyperparameters, hyperparameters
from training.loop import Outcome, fit
from training.losses import dev_loss
from training.prepare import Prepared, prepare
from training.prior_alignment import SYMMETRIZATIONS

COMMAND = "python -m training.train"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(FAMILIES), required=True)
    for family in FAMILIES.values():
        if family.variants is not None:  # the flag that picks the variant, e.g. --score
            parser.add_argument(
                "--" + family.variants.field.replace("_", "-"),
                choices=family.variants.names,
                default=None,
                help=f"the {family.name} variant to train (default {family.variants.default})",
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
        help="fine-tune a trained model folder (models/<id>; for a family with variants, "
        "the chosen variant inside it): its config and vocabularies are kept, --set is not "
        "allowed",
    )
    parser.add_argument(
        "--select-aligned",
        action="store_true",
        help="keep the lowest-dev-loss checkpoint among those whose attention aligns the "
        "demo sentence (我爱吃苹果 / I love apples); the card says so",
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
    for family in FAMILIES.values():
        flag = family.variants.field if family.variants else None
        if flag and getattr(args, flag) and args.model != family.name:
            parser.error(f"--{flag.replace('_', '-')} applies to --model {family.name} only")
    if args.init_from and args.set:
        parser.error("--set cannot change the config of an --init-from checkpoint")
    return args


def training_record(
    args: argparse.Namespace,
    command: str,
    hp: Hyperparameters,
    prepared: Prepared,
    outcome: Outcome,
    parameters: int,
    start_loss: float | None,
    variant: str | None,
) -> dict[str, Any]:
    """training.json: how the weights were trained, for the card and for retraining."""
    training: dict[str, Any] = {
        "command": command,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "bf16_autocast": args.bf16,
    }
    if args.select_aligned:
        training["select_aligned"] = True
    if prepared.initial is not None:
        initial_folder = args.init_from / variant if variant else args.init_from
        initial_training = initial_folder / TRAINING_FILE
        training["fine_tuned_from"] = {
            "folder": str(args.init_from),
            "dev_loss": None if start_loss is None else round(start_loss, 4),
            # how the starting checkpoint was trained (its training.json)
            "training": read_json(initial_training) if initial_training.is_file() else None,
        }
    if prepared.guided is not None:
        training["guided_alignment"] = prepared.guided
    return {
        **training,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "hyperparameters": asdict(hp),
        "parameters": parameters,
        "steps": outcome.steps,
        "epochs": outcome.epochs,
        "best_step": outcome.best_step,
        "best_dev_loss": round(outcome.best_dev_loss, 4),
        "stop_reason": outcome.stop_reason,
        "training_minutes": round(outcome.seconds / 60, 2),
        "history": outcome.history,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = f"{COMMAND} " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    given = {field: getattr(args, field) for field in asdict(Hyperparameters())}
    hp = hyperparameters(args.model, given)
    prepared = prepare(args)
    config = prepared.config
    variant = variant_of(config)
    out = args.out / variant if variant else args.out
    model = prepared.initial.model if prepared.initial else build_model(config)
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model}{' ' + variant if variant else ''}: {parameters:,} parameters, "
        f"{len(prepared.train)} training pairs, vocab {len(prepared.source_vocab)} zh / "
        f"{len(prepared.target_vocab)} en",
        file=sys.stderr,
    )
    start_loss = None
    if prepared.initial is not None:  # the starting point, for comparison
        start_loss = dev_loss(
            model, prepared.dev, prepared.source_vocab, prepared.target_vocab, hp.batch_tokens
        )
        print(f"initial dev loss {start_loss:.4f}", file=sys.stderr)
    outcome = fit(model, prepared, hp, args, out, variant)
    record = training_record(args, command, hp, prepared, outcome, parameters, start_loss, variant)
    write_json(out / TRAINING_FILE, record)
    print(
        f"trained {outcome.steps} steps ({outcome.epochs} epochs) in "
        f"{outcome.seconds / 60:.1f} min; best dev loss {outcome.best_dev_loss:.3f} at step "
        f"{outcome.best_step} ({outcome.stop_reason})",
        file=sys.stderr,
    )
    eval_command = (
        f"python -m training.evaluate --model-dir {shlex.quote(str(args.out))}"
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

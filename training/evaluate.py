"""Score a trained model on its held-out Tatoeba split (sacrebleu BLEU and chrF against
the cased references) and show example translations with their alignments.

    python -m training.evaluate --model-dir models/transformer-zh-en \\
        --tatoeba /path/to/cmn-eng.tsv --beam 5 --write
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import sacrebleu
import torch

from app.seq2seq.checkpoint import METRICS_FILE, read_json, variant_names, write_json
from app.seq2seq.translator import Translator
from training.card.render import write_card
from training.data import Pair, file_sha256, read_tatoeba, split_pairs
from training.demo import alignment, alignment_text, cross_attention_names, demo_alignment

EXAMPLE_SOURCES = ("我爱吃苹果。", "他每天早上喝咖啡。", "你明天有空吗?", "这本书很有意思。")


def held_out_pairs(data: dict[str, Any], tatoeba: Path, split: str) -> list[Pair]:
    """Rebuild the dev or test split a model was trained with (it depends only on the
    Tatoeba file, the split seed and the sizes)."""
    if data.get("tatoeba_sha256") not in (None, file_sha256(tatoeba)):
        print(
            f"warning: {tatoeba} differs from the file this model was trained with; "
            "the split will differ",
            file=sys.stderr,
        )
    splits = split_pairs(
        read_tatoeba(tatoeba), [], data["split_seed"], data["dev_size"], data["test_size"]
    )
    return splits.test if split == "test" else splits.dev


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    bleu = sacrebleu.corpus_bleu(hypotheses, [references])
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    return {
        "bleu": round(bleu.score, 2),
        "chrf": round(chrf.score, 2),
        "sentences": len(hypotheses),
    }


def examples(
    translator: Translator, sources: list[str], references: list[str | None], beam_size: int
) -> list[dict[str, Any]]:
    found = []
    for source, reference in zip(sources, references, strict=True):
        run = translator.attend(source, beam_size=beam_size)
        found.append(
            {
                "source": source,
                "reference": reference,
                "output": run.output_text,
                "alignment": {
                    str(block): alignment_text(alignment(run, block))
                    for block in cross_attention_names(run)
                },
            }
        )
    return found


def evaluate(
    translator: Translator, data: dict[str, Any], tatoeba: Path, beams: tuple[int, ...] = (1, 5)
) -> dict[str, Any]:
    """Dev and test scores for each beam size, the demo alignment and examples."""
    metrics: dict[str, Any] = {}
    for split in ("dev", "test"):
        pairs = held_out_pairs(data, tatoeba, split)
        references = [p.target for p in pairs]
        for beam in beams:
            started = time.perf_counter()
            outputs = translator.translate([p.source for p in pairs], beam_size=beam)
            scores = corpus_scores(outputs, references)
            scores["seconds"] = round(time.perf_counter() - started, 1)
            metrics[f"{split}_beam{beam}"] = scores
    test = held_out_pairs(data, tatoeba, "test")[:4]
    best_beam = max(beams)
    metrics["examples"] = examples(
        translator,
        [*EXAMPLE_SOURCES, *(p.source for p in test)],
        [*([None] * len(EXAMPLE_SOURCES)), *(p.target for p in test)],
        best_beam,
    )
    metrics["examples_beam"] = best_beam
    metrics["demo_alignment"] = demo_alignment(translator)
    return metrics


def evaluate_folder(
    model_dir: Path, variant: str | None, tatoeba: Path, beams: tuple[int, ...], command: str
) -> dict[str, Any]:
    translator = Translator.load(model_dir, variant)
    metrics = evaluate(translator, translator.checkpoint.data, tatoeba, beams)
    metrics["command"] = command
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model-dir", type=Path, required=True, help="models/<id>")
    parser.add_argument("--variant", help="for Luong: dot, general or concat (default: all)")
    parser.add_argument(
        "--tatoeba", type=Path, required=True, help="the cmn-eng.tsv the model was trained with"
    )
    parser.add_argument(
        "--beam", type=int, nargs="+", default=[1, 5], help="beam sizes to score (1 = greedy)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--write",
        action="store_true",
        help="store the scores in metrics.json and rewrite the model card",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m training.evaluate " + shlex.join(sys.argv[1:] if argv is None else argv)
    variants = variant_names(args.model_dir)
    targets: list[str | None] = [args.variant] if args.variant else [*variants] or [None]
    for variant in targets:
        folder = args.model_dir / variant if variant else args.model_dir
        metrics = evaluate_folder(args.model_dir, variant, args.tatoeba, tuple(args.beam), command)
        label = f"{args.model_dir.name}" + (f" [{variant}]" if variant else "")
        for name, value in metrics.items():
            if isinstance(value, dict) and "bleu" in value:
                print(
                    f"{label} {name}: BLEU {value['bleu']:.2f} chrF {value['chrf']:.2f} "
                    f"({value['sentences']} sentences, {value['seconds']} s)"
                )
        print(f"{label} demo alignment ok: {metrics['demo_alignment']['ok']}")
        if args.write:
            old = read_json(folder / METRICS_FILE) if (folder / METRICS_FILE).is_file() else {}
            write_json(folder / METRICS_FILE, {**old, **metrics})
    if args.write:
        write_card(args.model_dir)


if __name__ == "__main__":
    main()

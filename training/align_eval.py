"""Score a translator's attention alignments against the hand-aligned dev gold set.

    python -m training.align_eval --model-dir models/transformer-zh-en
    python -m training.align_eval --model-dir models/luong-zh-en/general --write

Each gold pair is read teacher-forced (its English through the decoder) and every setting
is scored: each method of app/attention/ops/align.py, on every decoder layer, with the
head mean and with each head alone (and, for threshold, several thresholds). Precision,
recall and AER are summed over the set (app/attention/pharaoh.py). The best setting (lowest
AER; the head mean wins ties) is what `method: "best"` of POST /api/v1/align uses; --write
records it with the scores in the checkpoint folder's alignment.json, which the model card
reports.

The best setting is chosen on the same set it is scored on, so its score is optimistic:
a held-out set scores it lower.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.attention.alignment import AlignSetting, align, cross_attention_layers
from app.attention.ops.align import ALIGN_METHODS
from app.attention.pharaoh import AlignmentCounts, GoldAlignment, count, parse_gold
from app.attention.run import AttentionRun
from app.seq2seq.align_record import ALIGNMENT_FILE, write_alignment_record
from app.seq2seq.translator import Translator
from training.card.render import write_card

DEFAULT_GOLD = Path(__file__).resolve().parents[1] / "models" / "alignment" / "dev_gold.jsonl"
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class GoldPair:
    run: AttentionRun
    gold: GoldAlignment


@dataclass(frozen=True)
class Score:
    setting: AlignSetting
    counts: AlignmentCounts

    def row(self) -> dict[str, Any]:
        return {
            "method": self.setting.method,
            "layer": self.setting.layer,
            "head": self.setting.head,
            "threshold": self.setting.threshold if self.setting.method == "threshold" else None,
            "precision": round(self.counts.precision, 4),
            "recall": round(self.counts.recall, 4),
            "aer": round(self.counts.aer, 4),
        }


def read_gold(path: Path, translator: Translator) -> list[GoldPair]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        run = translator.attend(record["zh"], target=record["en"])
        # as typed: a word the model does not know reads <unk> but keeps its gold links
        source = [t.typed or t.text for t in run.source.tokens if not t.special]
        target = [t.typed or t.text for t in run.target.tokens if not t.special]
        if source != record["zh_tokens"] or target != record["en_tokens"]:
            raise SystemExit(
                f"{path}:{number}: the model tokenizes this pair as {source} / {target}, the "
                f"gold file as {record['zh_tokens']} / {record['en_tokens']}"
            )
        pairs.append(GoldPair(run, parse_gold(record["alignment"], len(source), len(target))))
    return pairs


def settings(run: AttentionRun) -> list[AlignSetting]:
    heads = run.shape(next(iter(run.blocks)))[0]
    found = []
    for layer in cross_attention_layers(run):
        for head in [None, *range(heads)] if heads > 1 else [None]:  # one head is its mean
            for method in ALIGN_METHODS:
                thresholds = THRESHOLDS if method == "threshold" else (0.3,)
                found += [AlignSetting(method, layer, head, t) for t in thresholds]
    return found


def score(pairs: list[GoldPair], setting: AlignSetting) -> Score:
    total = AlignmentCounts()
    for pair in pairs:
        alignment = align(pair.run, setting, "token")
        total += count(alignment.links, pair.gold)
    return Score(setting, total)


def best_of(scores: list[Score]) -> Score:
    return min(scores, key=lambda s: (round(s.counts.aer, 4), s.setting.head is not None))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a checkpoint folder")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="dev gold JSONL")
    parser.add_argument("--top", type=int, default=12, help="settings to print, best first")
    parser.add_argument("--json", action="store_true", help="print every score as JSON")
    parser.add_argument(
        "--write", action="store_true", help=f"record the scores in {ALIGNMENT_FILE}"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    translator = Translator.load(args.model_dir)
    pairs = read_gold(args.gold, translator)
    scores = [score(pairs, setting) for setting in settings(pairs[0].run)]
    best = best_of(scores)
    if args.json:
        json.dump([s.row() for s in scores], sys.stdout, indent=1)
        print()
        return
    links = sum(len(p.gold.sure) for p in pairs)
    print(f"{args.model_dir}: {len(pairs)} gold pairs, {links} sure links")
    print(f"{'method':<10} {'layer':>5} {'head':>5} {'thresh':>6} {'P':>6} {'R':>6} {'AER':>6}")
    for item in sorted(scores, key=lambda s: s.counts.aer)[: args.top]:
        row = item.row()
        head = "mean" if row["head"] is None else row["head"]
        thresh = "" if row["threshold"] is None else row["threshold"]
        print(
            f"{row['method']:<10} {row['layer']:>5} {head:>5} {thresh:>6} "
            f"{row['precision']:>6.3f} {row['recall']:>6.3f} {row['aer']:>6.3f}"
        )
    print(f"best: {best.row()}")
    if args.write:
        write_alignment_record(
            args.model_dir, args.gold, len(pairs), best.row(), scores_table(scores)
        )
        print(f"wrote {args.model_dir / ALIGNMENT_FILE}")
        # A variant's own folder (Luong: dot/, general/, concat/) has its card in its parent.
        in_variant_folder = translator.variant is not None and not translator.variants
        card_folder = args.model_dir.parent if in_variant_folder else args.model_dir
        print(f"wrote {write_card(card_folder)}")


def scores_table(scores: list[Score]) -> list[dict[str, Any]]:
    """Per method, its best setting with the head mean and with any single head: what the
    card shows."""
    table = []
    for method in ALIGN_METHODS:
        for single_head in (False, True):
            mine = [
                s
                for s in scores
                if s.setting.method == method and (s.setting.head is not None) == single_head
            ]
            if mine:
                table.append(best_of(mine).row())
    return table


if __name__ == "__main__":
    main()

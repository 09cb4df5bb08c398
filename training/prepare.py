"""Everything a training run reads before its first step: the corpus and its split, the
vocabularies and model config (new, or kept from an --init-from checkpoint), the encoded
examples and, for guided alignment, their prior links."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from typing import Any

from app.attention.names import cross_attention
from app.seq2seq.checkpoint import Checkpoint, load_checkpoint
from app.seq2seq.families import make_config, variants_of
from app.seq2seq.spec import ModelConfig
from app.seq2seq.vocab import Vocab
from training.data import file_sha256, read_hsk, read_tatoeba, split_pairs
from training.encoding import Example, build_vocabularies, encode_pairs
from training.guided import encode_aligned, token_pairs
from training.prior_alignment import corpus_digest, prior_alignments


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


def chosen_variant(args: argparse.Namespace) -> str | None:
    """The variant the command trains (its family's variant flag, e.g. --score, or the
    family's default); None for a family without variants."""
    variants = variants_of(args.model)
    if variants is None:
        return None
    return getattr(args, variants.field, None) or variants.default


def prepare(args: argparse.Namespace) -> Prepared:
    """Read and split the data, build the vocabularies and the model config."""
    tatoeba = read_tatoeba(args.tatoeba)
    hsk = [] if args.no_hsk else read_hsk()
    splits = split_pairs(tatoeba, hsk, args.split_seed, args.dev_size, args.test_size)
    train_pairs = list(splits.train)
    random.Random(args.seed).shuffle(train_pairs)
    if args.limit is not None:
        train_pairs = train_pairs[: args.limit]
    variant = chosen_variant(args)
    initial = None
    if args.init_from is not None:
        folder = args.init_from / variant if variant else args.init_from
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
        variants = variants_of(args.model)
        if variants is not None:
            given = getattr(args, variants.field, None)
            overrides[variants.field] = given or overrides.get(variants.field, variants.default)
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

"""Prior word alignments of the training pairs, for guided-alignment training.

Why: the translators' cross-attention is trained only to predict the next word, so it
may rest on any source position whose state carries the needed information, and it
aligns poorly with human word alignments. Guided alignment (Garg et al., 2019) adds a
loss that pulls one attention distribution towards the links of a statistical aligner.
This module supplies those links: eflomal (Östling and Tiedemann, 2016; PyPI
`eflomal`, the `train` extra) aligns every pair exactly as the models tokenize it
(Chinese: one token per character; English: the truecased training target tokens), in
both directions, and the two directions are symmetrized with grow-diag-final-and
(Koehn et al., 2005): the grow-diag of app/attention/ops/align.py, then "final-and".

Links are (i, j) pairs: Chinese token i, English token j, both 0-based over the tokens
without specials. The result is cached as JSON lines (one pair per line, keyed by its
space-joined tokens) so that repeated runs, and every model with the same tokens, reuse
it; keep the cache out of the repository (e.g. ~/.cache).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from app.attention.links import Link
from app.attention.ops.align import grow_diag
from app.attention.pharaoh import format_links

TokenPair = tuple[Sequence[str], Sequence[str]]  # (Chinese tokens, English tokens)


def parse_pharaoh(line: str) -> set[Link]:
    """'0-1 2-3' -> {(0, 1), (2, 3)} (the sure links of a Pharaoh line)."""
    links = set()
    for item in line.split():
        if "-" in item:
            i, j = item.split("-")
            links.add(Link(int(i), int(j)))
    return links


def grow_diag_final_and(forward: set[Link], reverse: set[Link]) -> set[Link]:
    """Symmetrize two directional alignments (both as (source, target) links): grow-diag,
    then add the remaining links of each direction whose source AND target word are both
    unaligned ("final-and")."""
    alignment = grow_diag(forward, reverse, by="source")
    aligned_source = {i for i, _ in alignment}
    aligned_target = {j for _, j in alignment}
    for direction in (forward, reverse):
        for link in sorted(direction):
            if link[0] not in aligned_source and link[1] not in aligned_target:
                alignment.add(link)
                aligned_source.add(link[0])
                aligned_target.add(link[1])
    return alignment


def intersection(forward: set[Link], reverse: set[Link]) -> set[Link]:
    return forward & reverse


SYMMETRIZATIONS = {"grow-diag-final-and": grow_diag_final_and, "intersection": intersection}


def pair_key(zh: Sequence[str], en: Sequence[str]) -> str:
    return " ".join(zh) + "\t" + " ".join(en)


def run_eflomal(pairs: Sequence[TokenPair]) -> tuple[list[set[Link]], list[set[Link]]]:
    """Forward (zh->en) and reverse links of eflomal's default model (IBM1+HMM+fertility),
    both as (Chinese index, English index) sets."""
    from eflomal import Aligner  # the `train` extra

    with tempfile.TemporaryDirectory() as folder:
        forward_file, reverse_file = Path(folder) / "fwd", Path(folder) / "rev"
        Aligner(n_samplers=2).align(
            [" ".join(zh) + "\n" for zh, _ in pairs],
            [" ".join(en) + "\n" for _, en in pairs],
            links_filename_fwd=str(forward_file),
            links_filename_rev=str(reverse_file),
        )
        forward = [parse_pharaoh(line) for line in forward_file.read_text().splitlines()]
        reverse = [parse_pharaoh(line) for line in reverse_file.read_text().splitlines()]
    if len(forward) != len(pairs) or len(reverse) != len(pairs):
        raise RuntimeError("eflomal returned a different number of alignments than pairs")
    return forward, reverse


def prior_alignments(
    pairs: Sequence[TokenPair], cache: Path, symmetrization: str = "grow-diag-final-and"
) -> list[set[Link]]:
    """Symmetrized eflomal links for each (Chinese tokens, English tokens) pair.

    `cache` (JSON lines) is reused when it holds every pair; otherwise the whole corpus
    is aligned again (eflomal's statistics come from the corpus as a whole) and the
    cache rewritten."""
    symmetrize = SYMMETRIZATIONS[symmetrization]
    keys = [pair_key(zh, en) for zh, en in pairs]
    stored: dict[str, tuple[set[Link], set[Link]]] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            stored[row["key"]] = (parse_pharaoh(row["forward"]), parse_pharaoh(row["reverse"]))
    if not all(key in stored for key in keys):
        unique = list(dict.fromkeys(keys))
        by_key = dict(zip(keys, pairs, strict=True))
        print(f"eflomal: aligning {len(unique)} pairs -> {cache}", file=sys.stderr)
        forward, reverse = run_eflomal([by_key[key] for key in unique])
        stored = dict(zip(unique, zip(forward, reverse, strict=True), strict=True))
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("w", encoding="utf-8") as out:
            for key, (fwd, rev) in stored.items():
                row = {"key": key, "forward": format_links(fwd), "reverse": format_links(rev)}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return [symmetrize(*stored[key]) for key in keys]


def corpus_digest(pairs: Sequence[TokenPair]) -> str:
    """A short fingerprint of the aligned token pairs (recorded in training.json)."""
    digest = hashlib.sha256()
    for zh, en in pairs:
        digest.update(pair_key(zh, en).encode() + b"\n")
    return digest.hexdigest()[:16]

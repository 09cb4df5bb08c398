"""Runs a model through its adapter on the probe set and scores what every head does.

The scores are app/attention/roles.py's; this module only decides which probe and which
tokens feed which score, and averages them over the probes. Call it on the inference gate's
threads: it runs the model once per probe.
"""

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from app.attention import roles
from app.attention.errors import InputError
from app.attention.names import BlockName
from app.attention.roles import Role
from app.attention.run import AttentionRun, Token
from app.zoo.base import ModelAdapter, file_stamp
from app.zoo.probes import Probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadRole:
    block: BlockName
    head: int
    role: Role
    score: float | None  # the score of `role`; None for "none"
    scores: dict[Role, float | None]  # every score defined on the block; None: no row had one


def _span(tokens: Sequence[Token], text: str) -> list[int]:
    """The positions of the first run of consecutive real tokens whose texts join to `text`."""
    for start in range(len(tokens)):
        joined, positions = "", []
        for position in range(start, len(tokens)):
            if tokens[position].special or len(joined) >= len(text):
                break
            joined += tokens[position].text
            positions.append(position)
        if joined == text:
            return positions
    return []


def alignment_links(run: AttentionRun, probe: Probe) -> list[tuple[int, list[int]]]:
    """The probe's word links as (target row, source positions); a link whose words the
    tokenizer split differently or left unknown is dropped."""
    target = run.target.texts()
    links = []
    for word, source_text in probe.links:
        columns = _span(run.source.tokens, source_text)
        if word in target and columns:
            links.append((target.index(word), columns))
    return links


def probe_scores(name: BlockName, run: AttentionRun, probe: Probe) -> dict[Role, np.ndarray]:
    """The scores one probe's run gives block `name`, per head: sentences score every role
    but induction, repeats score induction."""
    attention = run.blocks[name]
    keys = run.tokens(name.axes.cols).tokens
    special = np.array([token.special for token in keys])
    if name.kind == "cross_attn":
        if probe.kind == "repeat":
            return {}
        return {
            "alignment": roles.alignment_scores(attention, alignment_links(run, probe)),
            "sink": roles.sink_scores(attention, special, causal=False),
            "broad": roles.broad_scores(attention, causal=False),
        }
    causal = name.stack == "decoder"
    if probe.kind == "repeat":
        return {"induction": roles.induction_scores(attention, [t.text for t in keys])}
    first = np.arange(len(keys)) == 0
    return {
        "previous_token": roles.previous_token_scores(attention),
        "self": roles.self_scores(attention, causal),
        "sink": roles.sink_scores(attention, first | special, causal),
        "broad": roles.broad_scores(attention, causal),
    }


def score_heads(adapter: ModelAdapter, probes: list[Probe], variant: str | None) -> list[HeadRole]:
    """Every head of every block with its scores and role, blocks in contract order.

    A probe the model refuses (longer than its token limit) is left out; if it refuses them
    all, InputError says so.
    """
    per_probe: dict[BlockName, dict[Role, list[np.ndarray]]] = defaultdict(
        lambda: defaultdict(list)
    )
    heads: dict[BlockName, int] = {}
    for probe in probes:
        try:
            run = adapter.run(probe.text, probe.target, max_new_tokens=1, variant=variant)
        except InputError as error:
            log.warning("%s: probe %r left out: %s", adapter.info.id, probe.text, error)
            continue
        for name in run.sorted_names():
            heads[name] = run.shape(name)[0]  # without computing a computed block
            for role, values in probe_scores(name, run, probe).items():
                per_probe[name][role].append(values)
    if not heads:
        raise InputError(
            f"model '{adapter.info.id}' refused every probe text; its token limit "
            f"({adapter.info.max_tokens}) is too small to score its heads"
        )
    result: list[HeadRole] = []
    for name in sorted(heads, key=lambda n: n.sort_key):
        means = {
            role: roles.mean_over_probes(per_probe[name][role], heads[name])
            for role in (rule.role for rule in roles.rules_for(name.kind))
        }
        for head in range(heads[name]):
            scores: dict[Role, float | None] = {
                role: None if np.isnan(values[head]) else round(float(values[head]), 4)
                for role, values in means.items()
            }
            role, score = roles.assign_role(scores)
            result.append(HeadRole(name, head, role, score, scores))
    return result


def fingerprint(adapter: ModelAdapter, probes: list[Probe], variant: str | None) -> str:
    """Changes when the probes, the scoring (ROLES_VERSION and the rules), the model's shape
    and source, the variant or the weight files (name, size, modification time) change."""
    info = adapter.info
    described = {
        "version": roles.ROLES_VERSION,
        "rules": [asdict(rule) for rule in roles.RULES],
        "probes": [asdict(probe) for probe in probes],
        "model": [info.id, info.family, info.layers, info.heads, info.kv_heads, info.source],
        "variant": variant,
        "files": [file_stamp(path) for path in adapter.weight_files],
    }
    encoded = json.dumps(described, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]

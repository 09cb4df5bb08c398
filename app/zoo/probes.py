"""The fixed probe set head roles are scored on: a few ordinary sentences and one random
sequence read twice, in the language the model reads.

Every model reads each probe in one pass, never generating: an encoder reads the text; a
decoder reads the first half as the prompt and the rest forced as its continuation; an
encoder-decoder reads the text and is forced through the target (the translation for the
zh→en translators, the text itself for an English one). A sentence for an encoder-decoder
carries its word alignment, `links`, for the cross-attention's alignment score.
"""

import random
from dataclasses import dataclass
from typing import Literal

from app.zoo.base import ModelInfo

ProbeKind = Literal["sentence", "repeat"]


@dataclass(frozen=True)
class Probe:
    text: str
    target: str | None
    kind: ProbeKind  # sentences score every role but induction; repeats score induction
    # (target word, the source text it translates): read by cross-attention's alignment.
    links: tuple[tuple[str, str], ...] = ()


ENGLISH_SENTENCES = (
    "The animal didn't cross the street because it was too tired",
    "She put the book on the table and went out to buy some bread",
    "When the rain stopped, the children ran back to the park to play",
    "My brother lives in a small house near the river with two old dogs",
)
# One token each in MiniLM's WordPiece and, after a space, in SmolLM2's BPE.
ENGLISH_WORDS = (
    "apple river house table music garden window paper winter doctor money water horse "
    "market orange silver forest letter island bridge castle dragon pencil rabbit candle "
    "jacket mirror pocket ticket planet violin tiger camera basket lemon carpet engine wallet "
    "hammer ladder button rocket cotton desert valley orbit velvet quarry cloud stone bottle"
).split()

# (Chinese, the English the translators are forced through, which English word translates
# which Chinese), every character and word in their vocabularies (models/*-zh-en/vocab.json).
# Only clear one-to-one links: "is", "at", "the" and the like are left out.
CHINESE_SENTENCES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "我爱吃苹果",
        "I love eating apples",
        (("I", "我"), ("love", "爱"), ("eating", "吃"), ("apples", "苹果")),
    ),
    (
        "他每天早上六点起床。",
        "He gets up at six every morning .",
        (
            ("He", "他"),
            ("gets", "起床"),
            ("up", "起床"),
            ("six", "六"),
            ("every", "每天"),
            ("morning", "早上"),
            (".", "。"),
        ),
    ),
    (
        "这本书很有意思。",
        "This book is very interesting .",
        (("This", "这本"), ("book", "书"), ("very", "很"), ("interesting", "有意思"), (".", "。")),
    ),
    (
        "今天天气很好,所以我们去了公园。",
        "The weather is nice today , so we went to the park .",
        (
            ("weather", "天气"),
            ("nice", "好"),
            ("today", "今天"),
            (",", ","),
            ("so", "所以"),
            ("we", "我们"),
            ("went", "去了"),
            ("park", "公园"),
            (".", "。"),
        ),
    ),
)
CHINESE_CHARACTERS = "我他你们的是不这在有个很人会来上天去到里好没想子那能看说时做多下大生车家学点"
# Target-side words of the translators, for their decoders' repeat.
TRANSLATOR_WORDS = (
    "book home car school money house water dog door train letter room father mother teacher "
    "doctor brother friend food bus morning weather station party tennis sister children"
).split()

REPEAT_LENGTH = 10
SEED = 0


def _random_sequence(pool: list[str], seed: int) -> list[str]:
    """REPEAT_LENGTH distinct items of `pool`, the same every time (seeded)."""
    return random.Random(seed).sample(pool, REPEAT_LENGTH)


def _halves(text: str) -> tuple[str, str]:
    """A decoder's prompt and forced continuation: the first half of the words, then the
    rest with the space that joins them."""
    words = text.split(" ")
    cut = len(words) // 2
    return " ".join(words[:cut]), " " + " ".join(words[cut:])


def _english_probes(family: str) -> list[Probe]:
    sequence = _random_sequence(ENGLISH_WORDS, SEED)
    repeat = " ".join(sequence + sequence)
    texts: list[tuple[str, ProbeKind]] = [(s, "sentence") for s in ENGLISH_SENTENCES]
    texts.append((repeat, "repeat"))
    if family == "encoder":
        return [Probe(text, None, kind) for text, kind in texts]
    if family == "decoder":
        return [Probe(*_halves(text), kind) for text, kind in texts]
    # An English encoder-decoder is forced to echo the text: each word is linked to itself.
    return [
        Probe(text, text, kind, tuple((w, w) for w in text.split()) if kind == "sentence" else ())
        for text, kind in texts
    ]


def _chinese_probes() -> list[Probe]:
    characters = _random_sequence(list(CHINESE_CHARACTERS), SEED)
    words = _random_sequence(TRANSLATOR_WORDS, SEED)
    probes = [Probe(text, target, "sentence", links) for text, target, links in CHINESE_SENTENCES]
    probes.append(Probe("".join(characters * 2), " ".join(words * 2), "repeat"))
    return probes


def probes_for(info: ModelInfo) -> list[Probe]:
    """The probes `info`'s model reads: Chinese for a translator from Chinese, else English."""
    if info.family == "encoder-decoder" and "zh" in info.languages:
        return _chinese_probes()
    return _english_probes(info.family)

"""Token <-> id vocabularies with the four special tokens at fixed ids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from app.seq2seq.text import BOS, EOS, PAD, SPECIAL_TOKENS, UNK

EOS_ID = SPECIAL_TOKENS.index(EOS)  # every vocabulary starts with the special tokens


class Vocab:
    """An ordered token list; ids 0..3 are <pad>, <unk>, <s>, </s>."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a vocabulary must start with {SPECIAL_TOKENS}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary must not repeat tokens")
        self.pad_id = self.index[PAD]
        self.unk_id = self.index[UNK]
        self.bos_id = self.index[BOS]
        self.eos_id = self.index[EOS]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int) -> Vocab:
        """Tokens seen at least `min_count` times, most frequent first (ties by text, so
        the same data always gives the same ids)."""
        counts = Counter(token for sentence in sentences for token in sentence)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_count and t not in SPECIAL_TOKENS),
            key=lambda t: (-counts[t], t),
        )
        return cls([*SPECIAL_TOKENS, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.index.get(token, self.unk_id) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

"""The run contract: everything one forward pass produced, before any analysis.

Every model family returns an AttentionRun; the analyses in app/attention/ops read it and
never the model. A run is immutable once built: the cache hands one run to many requests.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.attention.names import TOKEN_LISTS, BlockName, TokenListName


@dataclass(frozen=True)
class Token:
    text: str  # as a person reads it: subword markers (##, Ġ, ▁) stripped
    word: int  # index into its TokenList's `words`
    special: bool = False  # [CLS], [SEP], <s>, </s>...: always a word of its own


@dataclass(frozen=True)
class TokenList:
    """The tokens of one sequence (the source, say) and the words they make up.

    Words are numbered 0, 1, 2... in reading order and each covers consecutive tokens.
    """

    tokens: tuple[Token, ...] = ()
    words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        expected = 0
        for position, token in enumerate(self.tokens):
            if token.word not in (expected - 1, expected) or (position == 0 and token.word):
                raise ValueError(f"token {position} has word {token.word}; words must be in order")
            expected = token.word + 1
        if expected != len(self.words):
            raise ValueError(f"{expected} words are used but {len(self.words)} are named")

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        word_ids: Sequence[int],
        special: Sequence[bool],
        word_texts: Mapping[int, str] | None = None,
    ) -> "TokenList":
        """Tokens from parallel lists. Consecutive tokens with the same word id make one word
        (ids are renumbered); a special token is always a word of its own. A word's text is
        `word_texts[id]` when given, else its tokens' texts joined."""
        if not len(texts) == len(word_ids) == len(special):
            raise ValueError("texts, word_ids and special must have one entry per token")
        tokens: list[Token] = []
        words: list[str] = []
        ids_of_words: list[int | None] = []  # the caller's id of each word; None if special
        for text, word_id, is_special in zip(texts, word_ids, special, strict=True):
            joins = bool(tokens) and not is_special and ids_of_words[-1] == word_id
            if joins:
                words[-1] += text
            else:
                words.append(text)
                ids_of_words.append(None if is_special else word_id)
            tokens.append(Token(text, len(words) - 1, is_special))
        if word_texts is not None:
            words = [
                word_texts.get(word_id, text) if word_id is not None else text
                for text, word_id in zip(words, ids_of_words, strict=True)
            ]
        return cls(tuple(tokens), tuple(words))

    def __len__(self) -> int:
        return len(self.tokens)

    def shifted_right(self, start: str) -> "TokenList":
        """What a teacher-forced decoder reads: the special start token, then every token but
        the last (row t writes token t after reading token t-1)."""
        kept = self.tokens[:-1]
        return TokenList.build(
            [start, *(t.text for t in kept)],
            [-1, *(t.word for t in kept)],
            [True, *(t.special for t in kept)],
            dict(enumerate(self.words)),
        )

    def texts(self) -> list[str]:
        return [token.text for token in self.tokens]

    def groups(self) -> list[list[int]]:
        """For each word, the positions of its tokens."""
        groups: list[list[int]] = [[] for _ in self.words]
        for position, token in enumerate(self.tokens):
            groups[token.word].append(position)
        return groups


@dataclass(frozen=True)
class AttentionRun:
    """Every attention matrix of one run, keyed by block name, with the tokens labelling them.

    blocks[name] is float32 [heads, queries, keys]; its rows are labelled by the token list
    `name.axes.rows` and its columns by `name.axes.cols`. value_norms[name], when the model
    offers it, is float32 [heads, keys]: ||f_h(x_j)||, the norm of what key j carries into
    head h's share of the output, (x_j W_V + b_V) W_O^h.
    """

    blocks: Mapping[BlockName, np.ndarray]
    source: TokenList = field(default_factory=TokenList)
    target: TokenList = field(default_factory=TokenList)
    # What the decoder read at each step (for a translator: <s> then target[:-1]).
    target_input: TokenList = field(default_factory=TokenList)
    value_norms: Mapping[BlockName, np.ndarray] | None = None
    output_text: str | None = None

    def __post_init__(self) -> None:
        for name, data in self.blocks.items():
            rows, cols = len(self.tokens(name.axes.rows)), len(self.tokens(name.axes.cols))
            if data.ndim != 3 or data.shape[1:] != (rows, cols) or data.dtype != np.float32:
                raise ValueError(
                    f"{name} is {data.dtype} {list(data.shape)}; its labels need float32 "
                    f"[heads, {rows}, {cols}] ({name.axes.rows} x {name.axes.cols})"
                )
            data.flags.writeable = False
        for name, norms in (self.value_norms or {}).items():
            block = self.blocks[name]
            if norms.shape != (block.shape[0], block.shape[2]) or norms.dtype != np.float32:
                raise ValueError(f"value norms of {name} are not float32 [heads, keys]")
            norms.flags.writeable = False

    def tokens(self, which: TokenListName) -> TokenList:
        token_list: TokenList = getattr(self, which)
        return token_list

    def sorted_names(self) -> list[BlockName]:
        return sorted(self.blocks, key=lambda name: name.sort_key)

    @property
    def size_bytes(self) -> int:
        arrays = [*self.blocks.values(), *(self.value_norms or {}).values()]
        texts = [self.output_text or "", *(w for n in TOKEN_LISTS for w in self.tokens(n).words)]
        tokens = [t.text for n in TOKEN_LISTS for t in self.tokens(n).tokens]
        return sum(a.nbytes for a in arrays) + sum(map(len, texts + tokens))

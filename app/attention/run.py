"""The run contract: everything one forward pass produced, before any analysis.

Every model family returns an AttentionRun; the analyses in app/attention/ops read it and
never the model. A run is immutable once built: the cache hands one run to many requests.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.attention.names import TOKEN_LISTS, BlockName, TokenListName


@dataclass(frozen=True)
class Token:
    text: str  # as a person reads it: subword markers (##, Ġ, ▁) stripped
    word: int  # index into its TokenList's `words`
    special: bool = False  # [CLS], [SEP], <s>, </s>...: always a word of its own
    # What the user typed here when the model read something else: the text behind an
    # unknown token (<unk>, [UNK]), whose `text` is what the model read.
    typed: str | None = None


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
        typed: Sequence[str | None] | None = None,
    ) -> "TokenList":
        """Tokens from parallel lists. Consecutive tokens with the same word id make one word
        (ids are renumbered); a special token is always a word of its own. A word's text is
        `word_texts[id]` when given, else its tokens' texts joined; a word with an unknown
        token (`typed` not None) is always its tokens joined, so that it shows what the model
        read."""
        typed = typed if typed is not None else [None] * len(texts)
        if not len(texts) == len(word_ids) == len(special) == len(typed):
            raise ValueError("texts, word_ids and special must have one entry per token")
        tokens: list[Token] = []
        words: list[str] = []
        ids_of_words: list[int | None] = []  # the caller's id of each word; None if special
        for text, word_id, is_special, as_typed in zip(
            texts, word_ids, special, typed, strict=True
        ):
            joins = bool(tokens) and not is_special and ids_of_words[-1] == word_id
            if joins:
                words[-1] += text
            else:
                words.append(text)
                ids_of_words.append(None if is_special else word_id)
            tokens.append(Token(text, len(words) - 1, is_special, as_typed))
        if word_texts is not None:
            unknown = {token.word for token in tokens if token.typed is not None}
            words = [
                word_texts.get(word_id, text) if word_id is not None and n not in unknown else text
                for n, (text, word_id) in enumerate(zip(words, ids_of_words, strict=True))
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


Shape = tuple[int, ...]  # (heads, queries, keys)


class ComputedBlocks(Mapping[BlockName, np.ndarray]):
    """Blocks computed when read instead of kept: a long run's every matrix does not fit in
    memory (SmolLM2 at 2048 tokens: 30 × 9 × 2048² ≈ 1.1 billion weights, 4.5 GB), while
    what they are computed from (each layer's input) does.

    `compute(name, heads)` returns float32 [len(heads), queries, keys] (every head when None)
    and does torch work: call it on the inference gate's threads (app/api/inference.py).
    `flops` estimates what computing every head of every block costs, and `model` names the
    model whose modules compute them: the gate schedules reading them by both.
    """

    def __init__(
        self,
        shapes: Mapping[BlockName, Shape],
        compute: Callable[[BlockName, list[int] | None], np.ndarray],
        kept_bytes: int,
        *,
        flops: float | None = None,
        model: str | None = None,
    ) -> None:
        self._shapes = dict(shapes)
        self._compute = compute
        self.kept_bytes = kept_bytes  # what the run holds to compute them from
        self.flops = flops
        self.model = model

    def __getitem__(self, name: BlockName) -> np.ndarray:
        if name not in self._shapes:
            raise KeyError(name)
        return self._compute(name, None)

    def __iter__(self) -> Iterator[BlockName]:
        return iter(self._shapes)

    def __len__(self) -> int:
        return len(self._shapes)

    def shape(self, name: BlockName) -> Shape:
        return self._shapes[name]

    def heads(self, name: BlockName, heads: list[int]) -> np.ndarray:
        return self._compute(name, heads)


@dataclass(frozen=True)
class AttentionRun:
    """Every attention matrix of one run, keyed by block name, with the tokens labelling them.

    blocks[name] is float32 [heads, queries, keys]; its rows are labelled by the token list
    `name.axes.rows` and its columns by `name.axes.cols`. For a long run the blocks are
    ComputedBlocks: read them through `block()`, which computes only the heads asked for.
    value_norms[name], when the model offers it, is float32 [heads, keys]: ||f_h(x_j)||, the
    norm of what key j carries into head h's share of the output, (x_j W_V + b_V) W_O^h.
    """

    blocks: Mapping[BlockName, np.ndarray]
    source: TokenList = field(default_factory=TokenList)
    target: TokenList = field(default_factory=TokenList)
    # What the decoder read at each step (for a translator: <s> then target[:-1]).
    target_input: TokenList = field(default_factory=TokenList)
    value_norms: Mapping[BlockName, np.ndarray] | None = None
    output_text: str | None = None

    def __post_init__(self) -> None:
        for name in self.blocks:
            shape = self.shape(name)
            rows, cols = len(self.tokens(name.axes.rows)), len(self.tokens(name.axes.cols))
            if len(shape) != 3 or shape[1:] != (rows, cols):
                raise ValueError(
                    f"{name} is {list(shape)}; its labels need [heads, {rows}, {cols}] "
                    f"({name.axes.rows} x {name.axes.cols})"
                )
            if not self.computed:
                data = self.blocks[name]
                if data.dtype != np.float32:
                    raise ValueError(f"{name} is {data.dtype}, not float32")
                data.flags.writeable = False
        for name, norms in (self.value_norms or {}).items():
            shape = self.shape(name)
            if norms.shape != (shape[0], shape[2]) or norms.dtype != np.float32:
                raise ValueError(f"value norms of {name} are not float32 [heads, keys]")
            norms.flags.writeable = False

    @property
    def computed(self) -> bool:
        """Whether reading a block runs the model's computation (see ComputedBlocks)."""
        return isinstance(self.blocks, ComputedBlocks)

    def shape(self, name: BlockName) -> Shape:
        if isinstance(self.blocks, ComputedBlocks):
            return self.blocks.shape(name)
        return tuple(self.blocks[name].shape)

    def block(self, name: BlockName, heads: list[int] | None = None) -> np.ndarray:
        """The block's weights, cut to `heads` (model head indices) when given."""
        if isinstance(self.blocks, ComputedBlocks):
            return self.blocks[name] if heads is None else self.blocks.heads(name, heads)
        data = self.blocks[name]
        return data if heads is None else data[heads]

    def tokens(self, which: TokenListName) -> TokenList:
        token_list: TokenList = getattr(self, which)
        return token_list

    def sorted_names(self) -> list[BlockName]:
        return sorted(self.blocks, key=lambda name: name.sort_key)

    def materialized(self) -> "AttentionRun":
        """This run with every block's weights held, not computed when read: itself unless it
        is a computed run, whose blocks are then all computed (torch work: on the gate)."""
        if not isinstance(self.blocks, ComputedBlocks):
            return self
        return AttentionRun(
            {name: self.block(name) for name in self.sorted_names()},
            source=self.source,
            target=self.target,
            target_input=self.target_input,
            value_norms=self.value_norms,
            output_text=self.output_text,
        )

    @property
    def weights_bytes(self) -> int:
        """The bytes of every block's weights once held (of a computed run too)."""
        return sum(4 * int(np.prod(self.shape(name))) for name in self.blocks)

    @property
    def size_bytes(self) -> int:
        norms = sum(a.nbytes for a in (self.value_norms or {}).values())
        if isinstance(self.blocks, ComputedBlocks):
            blocks = self.blocks.kept_bytes
        else:
            blocks = sum(a.nbytes for a in self.blocks.values())
        texts = [self.output_text or "", *(w for n in TOKEN_LISTS for w in self.tokens(n).words)]
        tokens = [t.text for n in TOKEN_LISTS for t in self.tokens(n).tokens]
        return blocks + norms + sum(map(len, texts + tokens))

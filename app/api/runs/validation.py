"""The checks a request passes before anything runs, and the limits on what it gets back.
Each refusal is an InputError (422) that says what to change."""

import unicodedata

from app.api.runs.spec import RunSpec
from app.attention.analysis import Options
from app.attention.errors import InputError
from app.settings import Settings
from app.zoo.base import ModelInfo
from app.zoo.registry import Registry

# Control characters other than tab and line breaks carry no text, and a lone surrogate is
# not text at all (tokenizers and JSON encoders refuse it): both are refused up front.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _unusable_character(value: str) -> tuple[int, str] | None:
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            return position, char
    return None


def _visible(char: str) -> bool:
    """A character that shows on its own: not a space, a combining mark (it only decorates
    the character before it), a format character or a private-use code point."""
    return unicodedata.category(char)[0] not in "ZMC"


def check_text(value: str | None, field: str, limit: int) -> None:
    if value is None:
        return
    if len(value) > limit:
        raise InputError(
            f"'{field}' is {len(value)} characters; this server accepts at most {limit}. "
            "Shorten it."
        )
    unusable = _unusable_character(value)
    if unusable is not None:
        position, char = unusable
        what = (
            "an unpaired surrogate" if unicodedata.category(char) == "Cs" else "a control character"
        )
        raise InputError(
            f"'{field}' contains {what}, U+{ord(char):04X}, at position {position}; remove it"
        )
    if not any(_visible(char) for char in value):
        raise InputError(
            f"'{field}' has nothing to read: only spaces, combining marks, format or "
            "private-use characters; type some words"
        )


def check_texts(text: str, target: str | None, settings: Settings) -> None:
    check_text(text, "text", settings.max_chars)
    check_text(target, "target", settings.max_target_chars)


def new_token_budget(requested: int | None, settings: Settings) -> int:
    if requested is None:
        return settings.max_new_tokens
    if requested > settings.max_new_tokens:
        raise InputError(
            f"max_new_tokens is {requested}; this server generates at most "
            f"{settings.max_new_tokens} tokens per request"
        )
    return requested


def check_selection(spec: RunSpec, info: ModelInfo) -> None:
    """Refuse layers and heads this model does not have, and a generation budget for a model
    that does not generate."""
    bad_layer = next((n for n in spec.layers or () if not 0 <= n < info.layers), None)
    if bad_layer is not None:
        raise InputError(
            f"layer {bad_layer} does not exist; this model has layers 0-{info.layers - 1}"
        )
    bad_head = next((n for n in spec.heads or () if not 0 <= n < info.heads), None)
    if bad_head is not None:
        raise InputError(f"head {bad_head} does not exist; this model has heads 0-{info.heads - 1}")
    if spec.max_new_tokens is not None and info.family == "encoder":
        raise InputError(
            f"model '{info.id}' is an encoder: it reads the text and writes nothing; leave "
            "'max_new_tokens' out"
        )


def check_options(options: Options, info: ModelInfo, registry: Registry) -> None:
    """Refuse what this model cannot offer, naming what can."""
    if options.weighting not in info.weightings:
        able = [i.id for i in registry.infos() if options.weighting in i.weightings]
        raise InputError(
            f"model '{info.id}' does not offer weighting '{options.weighting}': it needs the "
            "value vectors and output projection of every head, which this model's layout "
            f"does not expose. Models that offer it: {', '.join(able) or 'none'}."
        )
    if options.aggregate not in info.aggregates:
        raise InputError(
            f"model '{info.id}' does not offer aggregate '{options.aggregate}': rollout "
            "composes one stack's self-attention layer by layer, and an encoder-decoder's "
            "decoder also reads the source through cross-attention, which rollout has no rule "
            f"for. Choose one of: {', '.join(info.aggregates)}."
        )


def check_response_weights(weights: int, settings: Settings) -> None:
    if weights > settings.max_response_weights:
        raise InputError(
            f"this response would carry {weights:,} attention weights; this server sends at "
            f"most {settings.max_response_weights:,} at once. Ask for fewer 'layers' or "
            "'heads', aggregate 'heads', or pool with 'max_size' (the run is cached: asking "
            "again costs no forward pass)."
        )


def check_json_weights(weights: int, encoding: str, settings: Settings) -> None:
    if encoding == "json" and weights > settings.max_json_weights:
        raise InputError(
            f"this response would carry {weights:,} attention weights as JSON, about "
            f"{weights * 10 / 1e6:,.0f} MB; JSON responses carry at most "
            f"{settings.max_json_weights:,}. Ask for encoding 'uint8' (1 byte a weight) or "
            "'float16', fewer 'layers' or 'heads', or pool with 'max_size'."
        )

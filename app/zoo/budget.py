"""How many tokens a run may write, and whether a text and a target fit together: one rule for
every route, applied before any model work (docs/api.md#the-generation-budget).

A decoder-only model reads its prompt and what it writes within one token limit. It writes at
most `max_new_tokens`, or the room the limit leaves after the prompt when that is less (the
response states the budget it used); a prompt that leaves no room at all, or a target that does
not fit beside its prompt, is refused with a message that says how many tokens are left.
"""

from app.attention.errors import InputError


def writing_budget(prompt_tokens: int, max_new_tokens: int, limit: int) -> int:
    """`max_new_tokens`, shortened to the room a prompt of `prompt_tokens` leaves."""
    room = limit - prompt_tokens
    if room < 1:
        raise InputError(
            f"the text is {prompt_tokens} tokens long and this model accepts {limit} in all, "
            f"what it writes included: there is no room left to write a token (0 "
            f"left); shorten the text by at least {1 - room} token{'s' if room < 0 else ''}"
        )
    return min(max_new_tokens, room)


def check_together(prompt_tokens: int, target_tokens: int, limit: int, model_id: str) -> None:
    """Refuse a target that does not fit beside its prompt."""
    total = prompt_tokens + target_tokens
    if total > limit:
        left = max(limit - prompt_tokens, 0)
        raise InputError(
            f"text and target together are {total} tokens; model '{model_id}' accepts at most "
            f"{limit}: the text leaves room for {left} target tokens. Shorten them by "
            f"{total - limit}."
        )

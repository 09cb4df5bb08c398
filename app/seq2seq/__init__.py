"""The project's own zh->en translators with attention: Bahdanau and Luong GRU
encoder-decoders and a small Transformer, their training, evaluation and inference."""

from app.seq2seq.translator import Reading, Translator

__all__ = ["Reading", "Translator"]

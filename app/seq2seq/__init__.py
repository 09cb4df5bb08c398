"""The project's own zh->en translators with attention: Bahdanau and Luong GRU
encoder-decoders and a small Transformer, their checkpoints and inference. Training,
evaluation and the model cards live beside the server, in the top-level `training`
package."""

from app.seq2seq.translator import Reading, Translator

__all__ = ["Reading", "Translator"]

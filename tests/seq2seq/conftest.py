"""The tiny trained translators of tests/training, for the tests of inference."""

from tests.training.conftest import tiny_model_dirs, tiny_tatoeba, tiny_translators

__all__ = ["tiny_model_dirs", "tiny_tatoeba", "tiny_translators"]

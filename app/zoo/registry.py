"""The models the server offers: built once at start-up from the manifest and settings."""

import importlib.util
import logging
from collections.abc import Callable, Hashable
from pathlib import Path

from app.attention import words
from app.attention.cache import BoundedLRU, key_bytes
from app.settings import Settings
from app.zoo.base import Example, ModelAdapter, ModelInfo
from app.zoo.gguf import dequantized_folder
from app.zoo.huggingface import load_huggingface
from app.zoo.manifest import ManifestEntry, read_manifest
from app.zoo.seq2seq import Seq2SeqAdapter

log = logging.getLogger(__name__)


class UnknownModelError(LookupError):
    def __init__(self, model_id: str, known: list[str]) -> None:
        near = [k for k in known if k.lower() == model_id.lower()]
        hint = f" Model ids are lowercase: did you mean '{near[0]}'?" if near else ""
        super().__init__(
            f"unknown model '{model_id}'; this server offers: {', '.join(known) or 'none'}. "
            f"GET /api/v1/models lists them.{hint}"
        )


class Registry:
    def __init__(self, adapters: dict[str, ModelAdapter]) -> None:
        self._adapters = adapters
        # Texts seen lately and what each model read of them (keys counted in bytes)
        self._reading_keys: BoundedLRU[Hashable] = BoundedLRU(16 * 2**20)
        # The generation budgets of the same texts (the keys are most of their size).
        self._budgets: BoundedLRU[int] = BoundedLRU(4 * 2**20)

    def reading_key(self, model_id: str, text: str, variant: str | None) -> Hashable:
        """The model's `reading_key` of `text`, remembered: tokenizing a 30-token text costs
        about a sixth of a whole cache hit, and the same text comes again and again (a class
        on one example, a page changing options). A text the model refuses is not kept."""
        remembered = (model_id, variant, text)
        key = self._reading_keys.get(remembered)
        if key is None:
            key = self.get(model_id).reading_key(text, variant)
            self._reading_keys.put_sized(remembered, key, key_bytes(remembered) + key_bytes(key))
        return key

    def budget(
        self,
        model_id: str,
        text: str,
        target: str | None,
        max_new_tokens: int,
        variant: str | None,
    ) -> int:
        """The model's `budget` for this run, remembered as its reading is: a cache hit on a
        2,000-token text would otherwise tokenize it again, about 4 ms."""
        remembered = (model_id, variant, text, target, max_new_tokens)
        budget = self._budgets.get(remembered)
        if budget is None:
            budget = self.get(model_id).budget(
                text, target, max_new_tokens=max_new_tokens, variant=variant
            )
            self._budgets.put_sized(remembered, budget, key_bytes(remembered) + key_bytes(budget))
        return budget

    def get(self, model_id: str) -> ModelAdapter:
        try:
            return self._adapters[model_id]
        except KeyError:
            raise UnknownModelError(model_id, list(self._adapters)) from None

    def infos(self) -> list[ModelInfo]:
        return [adapter.info for adapter in self._adapters.values()]


def package_folder(package: str, subdir: str = "") -> Path:
    """The folder of an installed package, found without importing (executing) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package '{package}' is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / subdir


def _entry_info(entry: ManifestEntry) -> ModelInfo:
    """The descriptive half of ModelInfo; adapters fill in the shape from the weights."""
    return ModelInfo(
        id=entry.id,
        name=entry.name,
        family="encoder",
        layers=0,
        heads=0,
        languages=entry.languages,
        description=entry.description,
        max_tokens=0,
        examples=[Example(e.text, e.target) for e in entry.examples],
        license=entry.license,
        source=entry.source,
    )


def _weights_folder(entry: ManifestEntry, models_dir: Path) -> Path:
    if entry.package:
        return package_folder(entry.package, entry.package_subdir)
    if entry.path:
        return models_dir / entry.path
    raise ValueError(f"manifest entry '{entry.id}' names neither a path nor a package")


def token_limit(entry: ManifestEntry, settings: Settings) -> int:
    """ATTN_MODEL_MAX_TOKENS for this model, else its manifest limit, else ATTN_MAX_TOKENS."""
    return settings.model_max_tokens.get(entry.id) or entry.max_tokens or settings.max_tokens


def _build_huggingface(entry: ManifestEntry, settings: Settings) -> ModelAdapter:
    folder = _weights_folder(entry, settings.models_dir)
    if entry.gguf_file:
        folder = dequantized_folder(folder / entry.gguf_file, settings.cache_dir)
    return load_huggingface(
        folder,
        _entry_info(entry),
        token_limit(entry, settings),
        packed_runs=settings.fast_path.packed_runs,
        onednn_linears=settings.fast_path.onednn_linears,
    )


def _build_seq2seq(entry: ManifestEntry, settings: Settings) -> ModelAdapter:
    return Seq2SeqAdapter.from_folder(
        _weights_folder(entry, settings.models_dir), _entry_info(entry)
    )


AdapterBuilder = Callable[[ManifestEntry, Settings], ModelAdapter]

BUILDERS: dict[str, AdapterBuilder] = {
    "huggingface": _build_huggingface,
    "seq2seq": _build_seq2seq,
}


def _local_hf_entry(model_id: str, path: Path) -> ManifestEntry:
    return ManifestEntry(
        id=model_id,
        name=path.name,
        adapter="huggingface",
        path=str(path.resolve()),
        source=f"local folder {path}",
        description=f"A local Hugging Face model served from {path}.",
    )


def load_registry(settings: Settings) -> Registry:
    """Load every configured model; one that fails to load is logged and left out."""
    words.warm_up()
    entries = read_manifest(settings.models_dir / "manifest.toml").models
    if settings.enabled_models is not None:
        entries = [e for e in entries if e.id in settings.enabled_models]
    entries += [_local_hf_entry(i, p) for i, p in settings.hf_models.items()]
    adapters: dict[str, ModelAdapter] = {}
    for entry in entries:
        builder = BUILDERS.get(entry.adapter)
        if builder is None:
            log.error("model %s: no adapter named %s", entry.id, entry.adapter)
            continue
        try:
            adapters[entry.id] = builder(entry, settings)
        except Exception:
            log.exception("model %s could not be loaded; it is not offered", entry.id)
            continue
        log.info("model %s loaded", entry.id)
    return Registry(adapters)

"""Settings, read once from ATTN_* environment variables."""

from functools import lru_cache
from pathlib import Path

from limits import parse_many
from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class FastPathSettings(BaseSettings):
    """The fast path: how the server runs models faster without changing what they compute.
    Each is an ATTN_<NAME> environment variable like the other settings; the defaults are the
    fast path, and each can be set back to the libraries' own behaviour.

    The first two are chosen per model as it loads (app/zoo/fast_path.py). The last two
    belong to the whole process: the server puts them into its environment as it starts,
    before anything loads torch (app/main.py, app/process_env.py), and a value already in the
    environment (GOMP_SPINCOUNT, TOKENIZERS_PARALLELISM) wins. Importing `app` or
    `app.client` changes nothing.
    """

    model_config = SettingsConfigDict(env_prefix="ATTN_")

    packed_runs: bool = Field(
        default=True,
        description=(
            "Run the texts of an encoder (MiniLM) packed into one row with no padding, "
            "stopped after the last layer's attention, where a start-up check finds the "
            "model's own eager weights (app/zoo/packing.py); false keeps padded batches and "
            "the model's own attention. It also decides oneDNN: only packed encoders use it."
        ),
    )
    onednn_linears: bool = Field(
        default=True,
        description=(
            "Run the linear layers of packed encoders (MiniLM) on oneDNN's kernels, checked "
            "against the model's own at start-up; false keeps PyTorch's default (MKL). On "
            "this project's 2-core AMD machine oneDNN runs them about 2x faster."
        ),
    )
    omp_spin_count: int = Field(
        default=10_000,
        ge=0,
        description=(
            "GOMP_SPINCOUNT for PyTorch's OpenMP threads: how long a worker spins after a "
            "parallel region before it sleeps (GNU OpenMP's default, 300,000, is several "
            "ms). 10,000 (about a quarter of a millisecond) still covers the gaps within one "
            "forward pass and frees the core sooner for the event loop. With PyTorch's "
            "default linear layers 16 clients got about 15% more requests a second; with "
            "oneDNN's it made no measurable difference. Read by OpenMP when torch loads; "
            "300000 restores OpenMP's own."
        ),
    )
    tokenizer_parallelism: bool = Field(
        default=False,
        description=(
            "TOKENIZERS_PARALLELISM for Hugging Face tokenizers. false: a text is read on "
            "the calling thread. true hands even one short text to a pool of worker threads "
            "(Rayon): a 25-token text then took 107 µs of CPU instead of 60, and under load "
            "it waited for a core busy with a model run."
        ),
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATTN_")

    models_dir: Path = Field(
        default=PROJECT_ROOT / "models",
        description="Folder with manifest.toml and the weights the project ships.",
    )
    hf_models: dict[str, Path] = Field(
        default_factory=dict,
        description=(
            "Extra local Hugging Face model folders to serve, as a JSON object "
            'id -> path, e.g. ATTN_HF_MODELS=\'{"my-bert": "/data/my-bert"}\'.'
        ),
    )
    enabled_models: list[str] | None = Field(
        default=None,
        description=(
            "If set, serve only these manifest ids (JSON list). Extra hf_models are always served."
        ),
    )

    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "attention-visualizer",
        description=(
            "Where weights converted at first start are kept (SmolLM2's dequantized GGUF, "
            "about 520 MB); outside the repository."
        ),
    )

    # Limits: every one is checked with a 4xx that names it, and shown in the API schema.
    max_chars: int = Field(
        default=20000,
        ge=1,
        description="Longest text accepted, in characters (2048 SmolLM2 tokens are ~11k).",
    )
    max_target_chars: int = Field(
        default=1000, ge=1, description="Longest target accepted, in characters."
    )
    max_tokens: int = Field(
        default=512,
        ge=1,
        description="Longest input accepted, in tokens; a model's own may be lower.",
    )
    model_max_tokens: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Per-model token limits that replace max_tokens (and the manifest's), as a JSON "
            "object id -> tokens, e.g. ATTN_MODEL_MAX_TOKENS='{\"smollm2\": 1024}'."
        ),
    )
    max_new_tokens: int = Field(
        default=48, ge=1, description="Most tokens a decoder may generate for one request."
    )
    max_response_weights: int = Field(
        default=32_000_000,
        ge=1,
        description=(
            "Most attention weights one response may carry (a 512-token MiniLM run has 19 "
            "million); beyond, a 422 asks for fewer layers or heads, a head mean or max_size."
        ),
    )
    report_max_weights: int = Field(
        default=2_000_000,
        ge=1,
        description=(
            "Most attention weights one standalone report embeds (about 2.7 bytes each); a "
            "larger run is pooled to fit, and the report says so. max_response_weights bounds "
            "it too."
        ),
    )
    max_json_weights: int = Field(
        default=2_000_000,
        ge=1,
        description=(
            "Most attention weights one response may carry as JSON (about 10 bytes each); "
            "beyond, a 422 asks for encoding uint8 or float16 (1 or 2.7 bytes a weight), "
            "fewer layers or heads, or max_size."
        ),
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body accepted (413 beyond)."
    )

    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description=(
            "Host names this server answers to (JSON list; '*' any, '*.example.org' a domain); "
            "others get a 400. On a public address set them, e.g. "
            "ATTN_ALLOWED_HOSTS='[\"attention.example.org\"]'."
        ),
    )

    # Serving: inference is CPU-bound, so requests beyond the limit wait their turn.
    inference_concurrency: int = Field(
        default=1,
        ge=1,
        description=(
            "Inference threads, and long runs in progress at once; more long work queues in "
            "fair order, and short work runs in its gaps (see short_run_gflop)."
        ),
    )
    queue_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest wait in the queue before a 503 asks to retry."
    )
    stream_send_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Longest a streamed event waits for its client to take it; a client slower than "
            "that loses its stream (the connection is closed)."
        ),
    )
    stream_buffer_events: int = Field(
        default=8,
        ge=1,
        description=(
            "Events a stream may write ahead of its client; when they are all waiting, the "
            "stream lets go of its model slot until the client takes one."
        ),
    )
    short_run_gflop: float = Field(
        default=20.0,
        gt=0,
        description=(
            "Work estimated at most this many GFLOP before it runs is short: it runs at once "
            "or in the gaps of a long run, between its layers, never queued behind it; a "
            "batch of encoder texts stays under it. Dearer work takes turns, "
            "ATTN_INFERENCE_CONCURRENCY at a time, in fair order between clients. 20 GFLOP "
            "is about 0.15 s on 2 cores: 16 MiniLM texts of 30 tokens are about 11."
        ),
    )
    client_cost_gflop: float = Field(
        default=2500.0,
        gt=0,
        description=(
            "Most estimated work (GFLOP) one client address may have queued or running at "
            "once; a request beyond it gets a 429 with Retry-After before anything of it "
            "runs, unless the client has nothing in flight. A 2,000-token SmolLM2 run "
            "writing 48 tokens is about 1,700."
        ),
    )
    max_batch: int = Field(
        default=16,
        ge=1,
        description=(
            "Most texts of one encoder model run as one padded batch when they wait for the "
            "gate together (1: no batching)."
        ),
    )
    render_concurrency: int = Field(
        default=1,
        ge=1,
        description=(
            "Responses of more than 100,000 weights encoded at once (cache hits included); "
            "more wait their turn, apart from model runs. Smaller ones need no slot."
        ),
    )
    response_cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Memory for the bytes of recent responses, served again as they are.",
    )
    cache_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="Memory for cached model runs, keyed by content; 0 turns the cache off.",
    )

    # Speed-ups that change no result; see FastPathSettings.
    fast_path: FastPathSettings = Field(
        default_factory=FastPathSettings,
        description="The fast path's settings (FastPathSettings): ATTN_PACKED_RUNS, "
        "ATTN_ONEDNN_LINEARS, ATTN_OMP_SPIN_COUNT, ATTN_TOKENIZER_PARALLELISM.",
    )
    # Several replicas behind a proxy (deploy/; docs/deploy.md, "Run several replicas").
    replica_name: str | None = Field(
        default=None,
        description=(
            "This replica's name, sent in every response's X-Replica header; unset: the host "
            "name and process id, e.g. web-1:4242."
        ),
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "A Redis shared by the replicas as the run cache's second tier, e.g. "
            "redis://127.0.0.1:6379/0; unset: each process caches only for itself."
        ),
    )
    redis_ttl_s: int = Field(
        default=24 * 3600, ge=1, description="How long a run stays in the shared cache."
    )
    redis_max_entry_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=0,
        description=(
            "Largest run written to the shared cache, encoded (a 256-token MiniLM run is 19 "
            "MB); larger runs stay in the local tier only."
        ),
    )
    redis_timeout_s: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Longest wait for Redis, the shared cache's or the rate limit's; beyond it the "
            "request computes the run itself, or is counted in this process's memory."
        ),
    )
    redis_retry_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "How long a Redis that failed or hung is left alone before one request asks it "
            "again; meanwhile runs are computed and cached here and the rate limit counts "
            "in this process's memory."
        ),
    )
    # The rate limit: docs/deploy.md, "The rate limit".
    rate_limit: str = Field(
        default="120/minute",
        description=(
            "Requests each client address may make to the computing routes (every POST under "
            "/api/v1, GET /api/v1/report and /api/v1/models/{id}/heads), in the notation of the "
            "`limits` package: '120/minute', '10/second;300/hour'. '' or '0' turns it off. "
            "Pages, static files, /healthz and /metrics are never limited."
        ),
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description=(
            "Where the rate limit's counters live: 'memory://' (this process), or a Redis URI "
            "('redis://host:6379') shared by replicas; while that Redis is away "
            "(ATTN_REDIS_RETRY_S at a time) each process counts in its own memory."
        ),
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description=(
            "Proxies (JSON list of IPs or CIDRs) whose X-Forwarded-For header names the client "
            "for the rate limit; by default none. From any other peer the header is ignored, "
            "since a client could write anything in it (uvicorn runs with --no-proxy-headers, "
            "so this is the only place it is read)."
        ),
    )
    metrics: bool = Field(default=True, description="Serve Prometheus metrics at GET /metrics.")

    @field_validator("rate_limit")
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        # Checked at start-up: a typo must stop the server, not switch the limit off.
        value = value.strip()
        if value in ("", "0"):
            return ""
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"rate_limit {value!r} is not a rate: write e.g. '120/minute' or "
                "'10/second;300/hour', or '' to turn the limit off"
            ) from None
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Benchmark: `make bench`. Prints Markdown tables of medians and keeps every figure in a JSON
file under bench/results/ (one a run, named by its UTC start): the benchmark's history. Not a
test.

For each model and input length n it measures, on this machine:
- forward: the bare model forward pass with attention output, no server (median ms): for a
  Hugging Face model, the stock model freshly loaded by transformers (PyTorch's default
  kernels), not the server's (packed, oneDNN);
- miss json / miss uint8: a POST /api/v1/attention over loopback whose run is not cached;
- hit: the same request again, served from the run cache (uint8), timed among the misses;
- hits in a row: the same, 30 times in a row after one;
- B/w: response bytes per attention weight, for json and uint8;
- page: Chromium, from clicking Run to the heatmap and overview drawn (MiniLM only);
- options: the analyses of issue 6 on a cache hit (uint8), each alone and all together,
  and value-norm weighting on a cache miss;
- long contexts (SmolLM2 at 128, 512 and 2048 tokens): the bare eager forward pass with
  attention output, the first overview (a new text: the run and every head pooled to 48×48,
  as the page asks), then one head of one layer at full resolution, and the server's peak
  RSS (a fresh server per length, serving only that model);
- throughput (MiniLM): 16 clients sending 400 distinct 20-30-token texts, against the bare
  forward rate, and beside the rates of the server's own runs of the same texts one at a time
  and batched (no HTTP); the median of five rounds.
"""

import argparse
import asyncio
import datetime
import functools
import http.client
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import torch
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.settings import Settings, get_settings  # noqa: E402

# torch is loaded before anything of the server's: the bare forward runs with the libraries'
# own OpenMP spin count, as in a notebook. The server's runs in this process (lone, batched)
# read their texts as the server does, on the calling thread; the servers it starts set up
# their own process (app/process_env.py).
os.environ.setdefault(
    "TOKENIZERS_PARALLELISM", str(get_settings().fast_path.tokenizer_parallelism).lower()
)

from app.zoo.registry import load_registry  # noqa: E402

LENGTHS = [16, 30, 64, 256, 512]
FILLER = (
    "the museum opened a new wing where children could build bridges from paper and test "
    "how much weight each design could carry before it folded under the load"
).split()
# Single-token words swapped into fixed positions so that every "miss" text is new but
# keeps its length.
SWAPS = "red blue green black white gray pink brown gold silver".split()
ROUNDS = 3  # see rounds_median_ms


def rounds_median_ms(
    actions: dict[str, Callable[[], object]], repeats: int, rounds: int = ROUNDS
) -> dict[str, float]:
    """The median of each action over `repeats` timings, taken in `rounds` rounds: in each
    round every action runs once untimed and then repeats // rounds times in a row.

    In a row, each action is timed warm (the two processes, bench and server, each keep an
    OpenMP pool on both cores: alternating them call by call times one while the other's
    threads still spin). Over rounds, the drift of a shared machine's speed reaches the bare
    forward pass and the requests it is compared with alike.
    """
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            action()  # warm-up
            for _ in range(max(1, repeats // rounds)):
                start = time.perf_counter()
                action()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


@functools.cache
def stock_model(path: str, model_class: type) -> Any:
    """The model as a user loads it in a notebook, with none of the server's changes (packed
    attention, oneDNN linear layers, hooks): eager attention, so that it returns weights."""
    model = model_class.from_pretrained(path, attn_implementation="eager", local_files_only=True)
    return model.eval()


def bare_forward(adapter: object, text: str) -> Callable[[], object]:
    """The model alone: a Hugging Face model, loaded afresh from the adapter's folder and
    called with output_attentions=True, as a user would in a notebook; for the project's own
    models, their attention run itself."""
    model = getattr(adapter, "model", None)
    tokenizer = getattr(adapter, "tokenizer", None)
    if model is not None and tokenizer is not None and not model.config.is_encoder_decoder:
        stock = stock_model(model.name_or_path, type(model))
        inputs = tokenizer(text, return_tensors="pt")

        def forward() -> object:
            with torch.inference_mode():
                return stock(**inputs, output_attentions=True)

        return forward
    return lambda: adapter.run(text, None, max_new_tokens=8)  # type: ignore[attr-defined]


def english_text(tokens: int, variant: int = 0) -> str:
    """About `tokens` MiniLM tokens ([CLS] and [SEP] included)."""
    words = [FILLER[i % len(FILLER)] for i in range(tokens - 2)]
    # two swapped words give 100 distinct texts; a digit suffix would add a token ("red1")
    words[0] = SWAPS[variant % len(SWAPS)]
    words[1] = SWAPS[variant // len(SWAPS) % len(SWAPS)]
    return " ".join(words)


CHINESE = "我爱吃苹果。今天天气很好，我们去公园散步吧。他每天早上六点起床，然后去学校上课。"


def chinese_text(tokens: int, variant: int = 0) -> str:
    text = (CHINESE * (tokens // len(CHINESE) + 1))[: tokens - 1]
    digits = "一二三四五六七八九十"  # two swapped characters: 100 distinct texts
    return digits[variant % 10] + digits[variant // 10 % 10] + text[2:]


@contextmanager
def server(port: int, models: list[str]) -> Iterator[tuple[str, int]]:
    """A server of `models` on `port`: its URL and process id."""
    env = {
        **os.environ,
        "ATTN_MAX_CHARS": "50000",
        "ATTN_ENABLED_MODELS": json.dumps(models),
        "ATTN_RATE_LIMIT": "",  # hundreds of timed requests from one address
        "ATTN_MAX_JSON_WEIGHTS": "100000000",  # the bench measures what JSON costs at 512 tokens
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def page_render_ms(url: str, text: str, repeats: int) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        times = []
        for i in range(repeats + 1):
            page.fill("#text", text + " " * i)  # a new text each time: a cache miss
            page.evaluate("document.querySelector('#heatmap').removeAttribute('data-layer')")
            start = time.perf_counter()
            page.click("#run")
            page.wait_for_selector("#heatmap[data-layer] .main-svg", timeout=120_000)
            page.wait_for_selector("#overview canvas")
            times.append(time.perf_counter() - start)
        browser.close()
    return statistics.median(times[1:]) * 1000


# The analysis options measured on a cache hit, by column name.
OPTIONS: dict[str, dict[str, str]] = {
    "word": {"granularity": "word"},
    "drop": {"special_tokens": "drop"},
    "heads": {"aggregate": "heads"},
    "rollout": {"aggregate": "rollout"},
    "value": {"weighting": "value_norm"},
    "all": {
        "granularity": "word",
        "special_tokens": "drop",
        "aggregate": "heads",
        "weighting": "value_norm",
    },
}


@dataclass
class Row:
    model: str
    tokens: int
    forward: float
    miss_json: float
    miss_uint8: float
    hit: float  # right after misses, as rounds_median_ms interleaves them
    hit_in_a_row: float  # the 2nd to 31st of 31 hits in a row (a class asking the same)
    bytes_json: float
    bytes_uint8: float
    page: float | None
    option_hits: dict[str, float]  # option column -> cache-hit ms
    miss_value: float | None  # value-norm weighting on a cache miss, ms


class KeepAlive:
    """One keep-alive HTTP/1.1 connection of Python's http.client for the timed requests: a
    client that costs little next to the server's work (httpx spends about 0.35 ms more a
    request, 4% of MiniLM's 30-token forward, which a cache hit's ratio would carry)."""

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)

    def post(self, path: str, body: dict[str, object]) -> bytes:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        try:
            self.connection.request("POST", path, payload, headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a connection idle for 5 s (uvicorn's keep-alive timeout), as
            # it is while the bench times long bare forwards: connect again, once.
            self.connection.close()
            self.connection.request("POST", path, payload, headers)
            response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
        return data

    def close(self) -> None:
        self.connection.close()


def measure(
    client: KeepAlive, url: str, adapter: Any, n: int, repeats: int, with_page: bool
) -> Row:
    model_id = adapter.info.id
    make_text = chinese_text if "zh" in adapter.info.languages else english_text
    text = make_text(n)
    run = adapter.run(text, None, max_new_tokens=8)
    fresh = iter(range(1, 10**6))

    def post(body: dict[str, object]) -> bytes:
        return client.post("/api/v1/attention", body)

    def miss(encoding: str, **options: str) -> Callable[[], object]:
        body = {"model": model_id, "encoding": encoding, **options}
        return lambda: post({**body, "text": make_text(n, next(fresh))})

    def offers(options: dict[str, str]) -> bool:
        return (
            options.get("weighting", "attention") in adapter.info.weightings
            and options.get("aggregate", "none") in adapter.info.aggregates
        )

    def bytes_per_weight(encoding: str) -> float:
        response = post({"model": model_id, "text": text, "encoding": encoding})
        weights = sum(math.prod(b["shape"]) for b in json.loads(response)["blocks"])
        return len(response) / weights

    hit_body = {"model": model_id, "text": text, "encoding": "uint8"}
    actions: dict[str, Callable[[], object]] = {
        "forward": bare_forward(adapter, text),
        "miss json": miss("json"),
        "miss uint8": miss("uint8"),
        "hit": lambda: post(hit_body),
    }
    for column, options in OPTIONS.items():
        if offers(options):
            actions[f"hit {column}"] = lambda options=options: post({**hit_body, **options})
    if offers(OPTIONS["value"]):
        actions["miss value"] = miss("uint8", **OPTIONS["value"])
    ms = rounds_median_ms(actions, repeats)
    # A model run just before leaves the CPU caches cold for the next request: a hit right
    # after misses costs about 1 ms more than one in a row, so both are shown.
    in_a_row = [0.0] * 31
    for i in range(len(in_a_row)):
        start = time.perf_counter()
        post(hit_body)
        in_a_row[i] = (time.perf_counter() - start) * 1000
    return Row(
        model=model_id,
        tokens=len(run.source) or len(run.target),
        forward=ms["forward"],
        miss_json=ms["miss json"],
        miss_uint8=ms["miss uint8"],
        hit=ms["hit"],
        hit_in_a_row=statistics.median(in_a_row[1:]),
        bytes_json=bytes_per_weight("json"),
        bytes_uint8=bytes_per_weight("uint8"),
        page=page_render_ms(url, text, max(3, repeats // 3)) if with_page else None,
        option_hits={c: ms[f"hit {c}"] for c in OPTIONS if f"hit {c}" in ms},
        miss_value=ms.get("miss value"),
    )


def print_table(rows: list[Row]) -> None:
    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}\n"
    )
    print(
        "| model | n | forward ms | miss json ms (×fwd) | miss uint8 ms (×fwd) | hit ms (×fwd) "
        "| hits in a row ms (×fwd) | B/w json | B/w uint8 | page ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        page = f"{r.page:.0f}" if r.page is not None else "–"
        print(
            f"| {r.model} | {r.tokens} | {r.forward:.1f} "
            f"| {r.miss_json:.1f} ({r.miss_json / r.forward:.2f}) "
            f"| {r.miss_uint8:.1f} ({r.miss_uint8 / r.forward:.2f}) "
            f"| {r.hit:.1f} ({r.hit / r.forward:.2f}) "
            f"| {r.hit_in_a_row:.2f} ({r.hit_in_a_row / r.forward:.2f}) "
            f"| {r.bytes_json:.2f} | {r.bytes_uint8:.2f} | {page} |"
        )
    print("\nOptions (uint8): cache hits with each analysis, and value-norm on a cache miss.\n")
    print(
        "| model | n | forward ms | "
        + " | ".join(f"hit {c} (×fwd)" for c in OPTIONS)
        + " | miss value (×fwd) |"
    )
    print("|---|---|---|" + "---|" * (len(OPTIONS) + 1))
    for r in rows:
        cells = [
            f"{r.option_hits[c]:.1f} ({r.option_hits[c] / r.forward:.2f})"
            if c in r.option_hits
            else "–"
            for c in OPTIONS
        ]
        miss_value = f"{r.miss_value:.1f} ({r.miss_value / r.forward:.2f})" if r.miss_value else "–"
        print(
            f"| {r.model} | {r.tokens} | {r.forward:.1f} | "
            + " | ".join(cells)
            + f" | {miss_value} |"
        )


THROUGHPUT_CLIENTS = 16
THROUGHPUT_REQUESTS = 400
THROUGHPUT_ROUNDS = 5  # the median round is reported: one round can meet a slow spell


def distinct_text(i: int) -> str:
    """Text number i of 10,000 distinct English texts of 20-30 MiniLM tokens."""
    words = [FILLER[(i + j) % len(FILLER)] for j in range(18 + i % 11)]
    for place in range(4):  # four swapped single-token words: 10,000 combinations
        words[place] = SWAPS[i // 10**place % 10]
    return " ".join(words)


@dataclass
class ThroughputRow:
    model: str
    bare_rate: float  # forward passes a second, back to back, one text at a time
    lone_rate: float  # texts a second through the server's own run, one at a time, no server
    batch_rate: float  # texts a second through run_batch, 16 at a time, no server
    rate: float  # requests a second, THROUGHPUT_CLIENTS clients
    ratio: float  # served / bare, the median of the rounds' ratios
    ratios: list[float]  # each round's
    p50: float  # ms, request latency
    p95: float
    p99: float
    errors: int


def measure_throughput(adapter: Any, url: str, offset: int) -> ThroughputRow:
    """16 clients (keep-alive connections of one aiohttp event loop on uvloop, so that the
    load generator takes little of the 2 cores the server needs) send 400 distinct 20-30-token
    texts (uint8, new runs) as fast as answers come, in each of five rounds (new texts each
    time). A round's bare rate is its 400 texts' forward passes back to back in this process
    (server idle), timed just before its load and again just after, so that a drift of the
    shared machine's speed reaches both; the round with the median ratio is reported."""

    def bare_seconds(forwards: list[Callable[[], object]]) -> float:
        forwards[0]()
        start = time.perf_counter()
        for forward in forwards:
            forward()
        return time.perf_counter() - start

    first = [distinct_text(offset + i) for i in range(THROUGHPUT_REQUESTS)]
    # The server's own run of one text at a time (packed, oneDNN, value norms), no HTTP: what
    # serving costs on top of it, apart from what the stock model's kernels cost.
    adapter.run(first[0], None, max_new_tokens=1)
    start = time.perf_counter()
    for text in first:
        adapter.run(text, None, max_new_tokens=1)
    lone_rate = len(first) / (time.perf_counter() - start)
    # The ceiling of batching: the server's own batched runs (16 texts a pass, value norms
    # and slicing included), back to back, with no HTTP at all.
    adapter.run_batch(first[:THROUGHPUT_CLIENTS])
    start = time.perf_counter()
    for begin in range(0, len(first), THROUGHPUT_CLIENTS):
        adapter.run_batch(first[begin : begin + THROUGHPUT_CLIENTS])
    batch_rate = len(first) / (time.perf_counter() - start)
    # Warm up: the server's first batches of each size and length are slow (allocations).
    warm_up = [distinct_text(offset + 9000 + i) for i in range(64)]
    uvloop.run(_load(url, adapter.info.id, warm_up))
    rounds = []
    latencies: list[float] = []
    errors = 0
    for r in range(THROUGHPUT_ROUNDS):
        texts = [distinct_text(offset + 1000 * (r + 1) + i) for i in range(THROUGHPUT_REQUESTS)]
        forwards = [bare_forward(adapter, text) for text in texts]
        bare_before = bare_seconds(forwards)
        rate, round_latencies, round_errors = uvloop.run(_load(url, adapter.info.id, texts))
        bare_rate = 2 * len(forwards) / (bare_before + bare_seconds(forwards))
        rounds.append((rate / bare_rate, rate, bare_rate))
        latencies += round_latencies
        errors += round_errors
    ratio, rate, bare_rate = sorted(rounds)[len(rounds) // 2]
    cuts = statistics.quantiles(latencies, n=100)
    return ThroughputRow(
        adapter.info.id,
        bare_rate,
        lone_rate,
        batch_rate,
        rate,
        ratio,
        [r[0] for r in rounds],
        cuts[49],
        cuts[94],
        cuts[98],
        errors,
    )


async def _load(url: str, model_id: str, texts: list[str]) -> tuple[float, list[float], int]:
    """Requests a second, latencies (ms) and errors of THROUGHPUT_CLIENTS clients that share
    out `texts`, each sending its next one when its answer has come."""
    queue = iter(texts)
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(url, timeout=timeout) as session:
            for text in queue:
                body = {"model": model_id, "text": text, "encoding": "uint8"}
                began = time.perf_counter()
                try:
                    async with session.post("/api/v1/attention", json=body) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - began) * 1000)
                errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(THROUGHPUT_CLIENTS)))
    return len(texts) / (time.perf_counter() - start), latencies, errors


def print_throughput(rows: list[ThroughputRow]) -> None:
    print(
        f"\nThroughput: {THROUGHPUT_CLIENTS} clients, {THROUGHPUT_REQUESTS} distinct 20-30-token "
        "texts (uint8, every one a new run), against the same texts' bare forward passes back "
        f"to back; the median of {THROUGHPUT_ROUNDS} rounds (each round's ratio in brackets); "
        "lone: the server's own runs one at a time, and batched: in batches of "
        f"{THROUGHPUT_CLIENTS}, both without a server. Latencies and errors: all rounds.\n"
    )
    print(
        "| model | bare forward /s | lone runs /s (×bare) | batched runs /s (×bare) "
        "| served /s (×bare) [rounds] | served ×lone | p50 ms | p95 ms | p99 ms | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        each = ", ".join(f"{ratio:.2f}" for ratio in r.ratios)
        print(
            f"| {r.model} | {r.bare_rate:.1f} "
            f"| {r.lone_rate:.1f} ({r.lone_rate / r.bare_rate:.2f}) "
            f"| {r.batch_rate:.1f} ({r.batch_rate / r.bare_rate:.2f}) "
            f"| {r.rate:.1f} ({r.ratio:.2f}) [{each}] | {r.rate / r.lone_rate:.2f} "
            f"| {r.p50:.0f} | {r.p95:.0f} | {r.p99:.0f} | {r.errors} |"
        )


LONG_LENGTHS = [128, 512, 2048]
LONG_REPEATS = {128: 5, 512: 3, 2048: 2}


@dataclass
class LongRow:
    model: str
    tokens: int
    forward: float  # ms: eager, output_attentions=True, in this process
    overview: float  # ms: a new text, every head pooled (the page's first request)
    focused: float  # ms: then one head of one layer at full resolution
    peak_rss_mib: float  # the server's


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_long(adapter: Any, n: int, port: int) -> LongRow:
    """One length of a long-context model, on a fresh server."""
    tokenizer = adapter.tokenizer
    words = " ".join(FILLER * (n // len(FILLER) + 2))
    ids = tokenizer(words)["input_ids"][: n - 1]  # and a one-token target: n tokens in all
    repeats = LONG_REPEATS[n]
    # a new first word per request (the rest decodes with its leading space)
    texts = [SWAPS[i] + tokenizer.decode(ids[1:]) for i in range(repeats + 1)]
    model = adapter.model
    inputs = torch.tensor([tokenizer(texts[0] + " end")["input_ids"]])

    def forward() -> object:
        with torch.inference_mode():
            return model(input_ids=inputs, output_attentions=True)

    forward_ms = rounds_median_ms({"forward": forward}, repeats, rounds=1)["forward"]
    body = {"model": adapter.info.id, "target": " end"}
    overview, focused = [], []
    with server(port, [adapter.info.id]) as (url, pid), httpx.Client(timeout=600) as client:
        for text in texts:
            start = time.perf_counter()
            response = client.post(
                f"{url}/api/v1/attention",
                json={**body, "text": text, "encoding": "uint8", "max_size": 48},
            )
            response.raise_for_status()
            overview.append(time.perf_counter() - start)
            tokens = len(response.json()["tokens"]["target"])
            start = time.perf_counter()
            client.post(
                f"{url}/api/v1/attention",
                json={**body, "text": text, "layers": [17], "heads": [4], "encoding": "float16"},
            ).raise_for_status()
            focused.append(time.perf_counter() - start)
        rss = peak_rss_mib(pid)
    # the first of each is a warm-up
    return LongRow(
        adapter.info.id,
        tokens,
        forward_ms,
        statistics.median(overview[1:]) * 1000,
        statistics.median(focused[1:]) * 1000,
        rss,
    )


def print_long_table(rows: list[LongRow]) -> None:
    print("\nLong contexts: the first overview and a focused head, against the eager forward.\n")
    print(
        "| model | n | eager forward ms | first overview ms (×fwd) | focused head ms "
        "| server peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.model} | {r.tokens} | {r.forward:.0f} | {r.overview:.0f} "
            f"({r.overview / r.forward:.2f}) | {r.focused:.0f} | {r.peak_rss_mib:.0f} |"
        )


RESULTS_DIR = ROOT / "bench" / "results"


def cpu_model() -> str:
    """The CPU's model name as lscpu shows it (from /proc/cpuinfo), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)
    return None


def build() -> dict[str, object]:
    """The commit measured, and whether the work tree differed from it."""

    def git(*arguments: str) -> str | None:
        try:
            done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        except OSError:
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(status)}


def ratios(figures: dict[str, Any], base: str, names: list[str]) -> dict[str, float]:
    """Each figure against the base, as the tables print them in brackets (×fwd, ×bare)."""
    return {name: figures[name] / figures[base] for name in names if figures.get(name)}


def request_record(row: Row) -> dict[str, Any]:
    figures = asdict(row)
    timed = ["miss_json", "miss_uint8", "hit", "hit_in_a_row", "miss_value"]
    figures["x_forward"] = ratios(figures, "forward", timed)
    figures["x_forward"]["option_hits"] = {
        column: ms / row.forward for column, ms in row.option_hits.items()
    }
    return figures


def throughput_record(row: ThroughputRow) -> dict[str, Any]:
    figures = asdict(row)
    figures["x_bare"] = ratios(figures, "bare_rate", ["lone_rate", "batch_rate"])
    figures["served_x_lone"] = row.rate / row.lone_rate
    return figures


def long_record(row: LongRow) -> dict[str, Any]:
    figures = asdict(row)
    if not math.isfinite(row.peak_rss_mib):  # /proc had no VmHWM: not measured
        figures["peak_rss_mib"] = None
    figures["x_forward"] = ratios(figures, "forward", ["overview"])
    return figures


def rounded(value: Any) -> Any:
    """Floats to 4 decimals, enough for any figure printed, so that files diff readably."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def machine_load() -> list[float] | None:
    """The 1, 5 and 15-minute load averages: how busy a shared machine was around the run."""
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except OSError:
        return None


def write_results(
    directory: Path,
    started: datetime.datetime,
    measured: dict[str, object],
    load_before: list[float] | None,
    arguments: argparse.Namespace,
    rows: list[Row],
    throughput: list[ThroughputRow],
    long_rows: list[LongRow],
) -> Path:
    """One JSON file for this run: when, which build (`measured`, taken as it began), on what
    machine and how busy it was, with which arguments, and every figure of the three tables."""
    record = {
        "started_utc": started.isoformat(timespec="seconds"),
        "units": (
            "ms for times (forward, miss_*, hit*, option_hits, overview, focused, p50-p99), "
            "texts or requests a second for *_rate, response bytes per weight for bytes_*, "
            "MiB for peak_rss_mib; x_forward and x_bare are ratios, as printed in brackets"
        ),
        "command": ["bench/bench.py", *sys.argv[1:]],
        "arguments": {key: value for key, value in vars(arguments).items() if key != "results_dir"},
        "build": measured,
        "machine": {
            "cpu": cpu_model(),
            "architecture": platform.machine(),
            "cpus": os.cpu_count(),
            "memory_gib": memory_gib(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "load_average_before": load_before,
            "load_average_after": machine_load(),
        },
        "requests": [request_record(row) for row in rows],
        "throughput": [throughput_record(row) for row in throughput],
        "long_contexts": [long_record(row) for row in long_rows],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(rounded(record), indent=2, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["minilm", "transformer-zh-en"])
    parser.add_argument("--long-models", nargs="*", default=["smollm2"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--no-page", action="store_true", help="skip the Chromium timings")
    parser.add_argument(
        "--only-throughput", action="store_true", help="only the throughput table (MiniLM)"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the run's JSON file goes"
    )
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.UTC)
    measured, load_before = build(), machine_load()

    registry = load_registry(Settings(enabled_models=args.models + args.long_models))
    rows = []
    with server(args.port, args.models) as (url, _):
        client = KeepAlive(url)
        for model_id in args.models:
            try:
                adapter = registry.get(model_id)
            except LookupError:
                print(f"skipping {model_id}: not available", file=sys.stderr)
                continue
            lengths = [] if args.only_throughput else LENGTHS
            for n in [n for n in lengths if n <= adapter.info.max_tokens]:
                repeats = args.repeats if n <= 64 else max(3, args.repeats // 3)
                with_page = model_id == "minilm" and not args.no_page
                rows.append(measure(client, url, adapter, n, repeats, with_page))
                print(f"done {model_id} n={n}", file=sys.stderr)
        throughput = []
        for offset, model_id in enumerate(m for m in args.models if m == "minilm"):
            throughput.append(measure_throughput(registry.get(model_id), url, 500 * offset))
            print(f"done throughput {model_id}", file=sys.stderr)
        client.close()
    long_rows = []
    for model_id in [] if args.only_throughput else args.long_models:
        try:
            adapter = registry.get(model_id)
        except LookupError:
            print(f"skipping {model_id}: not available", file=sys.stderr)
            continue
        for n in [n for n in LONG_LENGTHS if n <= adapter.info.max_tokens]:
            long_rows.append(measure_long(adapter, n, args.port + 1))
            print(f"done {model_id} n={n}", file=sys.stderr)
    print_table(rows)
    print_throughput(throughput)
    print_long_table(long_rows)
    path = write_results(
        args.results_dir, started, measured, load_before, args, rows, throughput, long_rows
    )
    print(f"\nEvery figure: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()

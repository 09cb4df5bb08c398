"""Runs the app as a small cluster on one machine, in the foreground: `make cluster`.

    redis-server (Debian's)  <-  N replicas (uvicorn app.main:app)  <-  nginx (Debian's) on PORT

Each program is the real one, started with a config written from this folder's templates
into the run folder (default .cluster/): redis.conf, nginx.conf and attention.conf, then
pids/*.pid, logs/*.log and state.json (ports, pids and names, for scripts and tests). The
replicas and Redis listen on free loopback ports; only nginx listens on PORT. Ctrl-C or
SIGTERM stops them all: nginx first, then the replicas, then Redis.

A replica that exits is reported and not restarted: nginx sends its share to the others. If
Redis or nginx exits, the whole cluster stops.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from string import Template
from types import FrameType
from typing import Any

DEPLOY = Path(__file__).resolve().parent
PROJECT = DEPLOY.parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def render(template: Path, target: Path, values: dict[str, str]) -> None:
    """`${NAME}` in the template replaced by values[NAME]; anything else, such as nginx's own
    `$host`, left as it is (what envsubst does with a list of names)."""
    target.write_text(Template(template.read_text()).safe_substitute(values))


def say(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


class Cluster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_dir: Path = args.run_dir.resolve()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.state: dict[str, object] = {}
        self.stopping = False

    def folder(self, name: str) -> Path:
        path = self.run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> int:
        log = (self.folder("logs") / f"{name}.log").open("ab")
        # A session of its own: Ctrl-C reaches this launcher only, which stops them in order.
        process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        (self.folder("pids") / f"{name}.pid").write_text(f"{process.pid}\n")
        return process.pid

    def wait_until(self, what: str, ready: Callable[[], bool], names: list[str]) -> None:
        deadline = time.monotonic() + self.args.start_timeout
        while not ready():
            for name in names:
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} exited while starting; see {self.log(name)}")
            if self.stopping:
                raise RuntimeError(f"stopped while {what} started")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start in {self.args.start_timeout} s")
            time.sleep(0.2)

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def write_state(self, **extra: object) -> None:
        self.state.update(extra)
        temporary = self.run_dir / "state.json.tmp"
        temporary.write_text(json.dumps(self.state, indent=2) + "\n")
        temporary.replace(self.run_dir / "state.json")

    def up(self) -> None:
        args = self.args
        for name in ("pids", "logs", "redis", "nginx"):
            self.folder(name)
        # Pid files outlive only a launcher that was killed outright (SIGKILL): its programs,
        # each in a session of its own, still run. Starting a second set beside them would
        # leave both half-managed.
        running = [
            f"{path.stem} ({pid})"
            for path in sorted((self.run_dir / "pids").glob("*.pid"))
            if (pid := int(path.read_text().strip() or 0)) and alive(pid)
        ]
        if running:
            raise RuntimeError(
                f"a cluster in {self.run_dir} still runs: {', '.join(running)}; stop those "
                "processes first (or remove pids/ if those ids now belong to others)"
            )
        (self.run_dir / "state.json").unlink(missing_ok=True)

        redis_port = args.redis_port or free_port()
        render(
            DEPLOY / "redis.conf.template",
            self.run_dir / "redis.conf",
            {
                "RUN_DIR": str(self.run_dir),
                "REDIS_PORT": str(redis_port),
                "REDIS_MAXMEMORY": args.redis_maxmemory,
            },
        )
        pid = self.start("redis", [args.redis_server, str(self.run_dir / "redis.conf")])
        self.wait_until("redis", lambda: redis_answers(redis_port), ["redis"])
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.write_state(redis={"pid": pid, "port": redis_port, "url": redis_url})
        say(f"redis {redis_url} (pid {pid})")

        replicas: list[dict[str, Any]] = []
        for i in range(1, args.replicas + 1):
            name, port = f"replica-{i}", free_port()
            env = {
                **os.environ,
                # The machine's cores shared out: N replicas each with every core's thread
                # pool would fight over them (on 2 cores, 2 replicas answered a MiniLM miss in
                # 84 ms with 2 threads each, 46 ms with 1). OMP_NUM_THREADS, if set, wins.
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(args.threads)),
                "ATTN_REDIS_URL": redis_url,
                "ATTN_REPLICA_NAME": name,
                # nginx, on this machine, names the client in X-Forwarded-For: the rate limit
                # keys on that client, not on nginx (unless the caller set it otherwise).
                "ATTN_TRUSTED_PROXIES": os.environ.get("ATTN_TRUSTED_PROXIES", '["127.0.0.1"]'),
                # ... and counts in the shared Redis, so that N replicas do not allow N times it.
                "ATTN_RATE_LIMIT_STORAGE": os.environ.get("ATTN_RATE_LIMIT_STORAGE", redis_url),
                "PYTHONUNBUFFERED": "1",
            }
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            pid = self.start(name, command, env)
            replicas.append({"name": name, "port": port, "pid": pid})
        names = [r["name"] for r in replicas]
        self.wait_until(
            "the replicas",
            lambda: all(healthy(int(r["port"])) for r in replicas),
            [str(n) for n in names],
        )
        self.write_state(replicas=replicas)
        for replica in replicas:
            say(f"{replica['name']} http://127.0.0.1:{replica['port']} (pid {replica['pid']})")

        servers = "\n    ".join(
            f"server 127.0.0.1:{r['port']} max_fails=1 fail_timeout=10s;" for r in replicas
        )
        values = {
            "RUN_DIR": str(self.run_dir),
            "ATTN_UPSTREAM_SERVERS": servers,
            "ATTN_LISTEN": f"{args.host}:{args.port}",
        }
        render(
            DEPLOY / "nginx" / "attention.conf.template", self.run_dir / "attention.conf", values
        )
        render(DEPLOY / "nginx" / "nginx.conf.template", self.run_dir / "nginx.conf", values)
        error_log = self.run_dir / "logs" / "nginx-error.log"
        nginx = [args.nginx, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf")]
        check = subprocess.run(
            [*nginx, "-e", str(error_log), "-t", "-q"], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx refuses its config: {check.stderr.strip()}")
        pid = self.start("nginx", [*nginx, "-e", str(error_log)])
        self.wait_until("nginx", lambda: healthy(args.port, args.host), ["nginx"])
        url = f"http://{args.host}:{args.port}"
        self.write_state(nginx={"pid": pid, "port": args.port}, url=url, ready=True)
        say(f"nginx {url} (pid {pid}): ready, {len(replicas)} replicas; Ctrl-C stops them all")

    def watch(self) -> int:
        """Until a signal, or Redis or nginx exits: report replicas that exit."""
        reported: set[str] = set()
        while not self.stopping:
            for name, process in self.processes.items():
                code = process.poll()
                if code is None or name in reported:
                    continue
                reported.add(name)
                if name in ("redis", "nginx"):
                    say(f"{name} exited ({code}); see {self.log(name)}; stopping the cluster")
                    return 1
                say(f"{name} exited ({code}); nginx sends its requests to the others")
            time.sleep(0.2)
        return 0

    def down(self) -> None:
        if not self.processes:
            return  # nothing started (another cluster's files are left as they are)
        order = ["nginx", *(n for n in self.processes if n.startswith("replica-")), "redis"]
        for name in order:
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        for name in order:
            process = self.processes.get(name)
            if process is None:
                continue
            try:
                process.wait(timeout=self.args.stop_timeout)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in {self.args.stop_timeout} s; killing it")
                process.kill()
                process.wait()
            (self.run_dir / "pids" / f"{name}.pid").unlink(missing_ok=True)
        self.write_state(ready=False)
        say("stopped")

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="app replicas (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="nginx's address (default loopback)")
    parser.add_argument("--run-dir", type=Path, default=PROJECT / ".cluster")
    parser.add_argument("--redis-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--redis-maxmemory", default="256mb", help="Redis's memory for runs")
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    # Debian puts nginx in /usr/sbin, which a user's PATH may lack.
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--start-timeout", type=float, default=600, help="seconds")
    parser.add_argument("--stop-timeout", type=float, default=20, help="seconds")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per replica (default: the cores divided among the replicas)",
    )
    args = parser.parse_args()
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.replicas)

    cluster = Cluster(args)
    signal.signal(signal.SIGINT, cluster.on_signal)
    signal.signal(signal.SIGTERM, cluster.on_signal)
    try:
        cluster.up()
        code = cluster.watch()
    except RuntimeError as error:
        say(f"error: {error}")
        code = 1
    finally:
        cluster.down()
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Runs the app as a small cluster on one machine, in the foreground: `make cluster`.

    redis-server (Debian's)  <-  N replicas (uvicorn app.main:app)  <-  nginx (Debian's) on PORT

all three kinds run by Debian's supervisord, which starts each again when it exits, whatever
killed it. This script writes every program's config from this folder's templates into the
run folder (default .cluster/): redis.conf, nginx.conf and attention.conf, supervisord.conf
and supervisor/replica-N.conf; starts supervisord; waits until every program answers; and
writes state.json (ports, pids, names, the supervisor's socket) for scripts and tests. Logs
go to logs/ (one per program, and supervisord's own: what exited, and when it was started
again). The replicas and Redis listen on free loopback ports; only nginx listens on PORT.

Ctrl-C or SIGTERM stops supervisord, which stops nginx, then the replicas, then Redis. While
it runs: `supervisorctl -c .cluster/supervisord.conf status` (or restart, stop NAME).
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
# supervisorctl status's states (supervisord's documentation, "Process States").
PROGRAM_STATES = {
    *("STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "UNKNOWN")
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def render(template: Path, target: Path, values: dict[str, str]) -> None:
    """`${NAME}` in the template replaced by values[NAME]; anything else, such as nginx's own
    `$host`, left as it is (what envsubst does with a list of names)."""
    target.write_text(Template(template.read_text()).safe_substitute(values))


def supervisor_values(values: dict[str, str]) -> dict[str, str]:
    """supervisord expands `%(name)s` in its config: a literal % is written %%."""
    return {name: value.replace("%", "%%") for name, value in values.items()}


def say(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


class Cluster:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_dir: Path = args.run_dir.resolve()
        self.config = self.run_dir / "supervisord.conf"
        self.supervisord: subprocess.Popen[bytes] | None = None
        self.state: dict[str, object] = {}
        self.stopping = False

    def folder(self, name: str) -> Path:
        path = self.run_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_state(self, **extra: object) -> None:
        self.state.update(extra)
        temporary = self.run_dir / "state.json.tmp"
        temporary.write_text(json.dumps(self.state, indent=2) + "\n")
        temporary.replace(self.run_dir / "state.json")

    def refuse_a_second_cluster(self) -> None:
        # A supervisord outlives only a launcher that was killed outright (SIGKILL): it and
        # its programs still run. Starting a second set beside them would leave both
        # half-managed.
        pid_file = self.run_dir / "pids" / "supervisord.pid"
        pid = int(pid_file.read_text().strip() or 0) if pid_file.exists() else 0
        if pid and alive(pid):
            raise RuntimeError(
                f"a cluster in {self.run_dir} still runs (supervisord, pid {pid}): stop it "
                f"with `kill {pid}` first (or remove {pid_file} if that id now belongs to "
                "another process)"
            )

    def write_configs(self) -> dict[str, Any]:
        """Every program's config, and the ports and URLs they were given."""
        args = self.args
        for name in ("pids", "logs", "redis", "nginx", "supervisor"):
            self.folder(name)
        for old in (self.run_dir / "supervisor").glob("replica-*.conf"):
            old.unlink()  # a previous run's replicas, perhaps more of them
        redis_port = args.redis_port or free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        common = {"RUN_DIR": str(self.run_dir), "STOP_WAIT_S": str(int(args.stop_timeout))}
        render(
            DEPLOY / "redis.conf.template",
            self.run_dir / "redis.conf",
            {**common, "REDIS_PORT": str(redis_port), "REDIS_MAXMEMORY": args.redis_maxmemory},
        )
        replicas = [
            {"name": f"replica-{i}", "port": free_port()} for i in range(1, args.replicas + 1)
        ]
        for replica in replicas:
            render(
                DEPLOY / "supervisor" / "replica.conf.template",
                self.run_dir / "supervisor" / f"{replica['name']}.conf",
                supervisor_values(
                    {
                        **common,
                        "NAME": str(replica["name"]),
                        "PORT": str(replica["port"]),
                        "PYTHON": sys.executable,
                        "PROJECT": str(PROJECT),
                    }
                ),
            )
        servers = "\n    ".join(
            f"server 127.0.0.1:{r['port']} max_fails=1 fail_timeout=10s;" for r in replicas
        )
        listen = f"{args.host}:{args.port}"
        nginx_values = {
            **common,
            "ATTN_UPSTREAM_SERVERS": servers,
            "ATTN_LISTEN": listen,
            # The replicas always see the address nginx serves, never a client's Host.
            "ATTN_PROXY_HOST": listen,
        }
        for name in ("attention.conf", "nginx.conf"):
            render(DEPLOY / "nginx" / f"{name}.template", self.run_dir / name, nginx_values)
        nginx = [args.nginx, "-p", str(self.run_dir), "-c", str(self.run_dir / "nginx.conf")]
        error_log = str(self.run_dir / "logs" / "nginx-error.log")
        check = subprocess.run(
            [*nginx, "-e", error_log, "-t", "-q"], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx refuses its config: {check.stderr.strip()}")
        render(
            DEPLOY / "supervisor" / "supervisord.conf.template",
            self.config,
            supervisor_values(
                {
                    **common,
                    "DEPLOY": str(DEPLOY),
                    "REDIS_SERVER": args.redis_server,
                    "NGINX": args.nginx,
                }
            ),
        )
        return {"redis_port": redis_port, "redis_url": redis_url, "replicas": replicas}

    def environment(self, redis_url: str) -> dict[str, str]:
        """supervisord's environment, which every program inherits."""
        return {
            **os.environ,
            # The machine's cores shared out: N replicas each with every core's thread pool
            # would fight over them (on 2 cores, 2 replicas answered a MiniLM miss in 84 ms
            # with 2 threads each, 46 ms with 1). OMP_NUM_THREADS, if set, wins.
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(self.args.threads)),
            "ATTN_REDIS_URL": redis_url,
            # nginx, on this machine, names the client in X-Forwarded-For: the rate limit
            # keys on that client, not on nginx (unless the caller set it otherwise).
            "ATTN_TRUSTED_PROXIES": os.environ.get("ATTN_TRUSTED_PROXIES", '["127.0.0.1"]'),
            # ... and counts in the shared Redis, so that N replicas do not allow N times it.
            "ATTN_RATE_LIMIT_STORAGE": os.environ.get("ATTN_RATE_LIMIT_STORAGE", redis_url),
            "PYTHONUNBUFFERED": "1",
        }

    def programs(self) -> dict[str, dict[str, Any]]:
        """supervisorctl status: each program's state and pid."""
        answer = subprocess.run(
            [self.args.supervisorctl, "-c", str(self.config), "status"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        programs = {}
        for line in answer.stdout.splitlines():
            fields = line.split(maxsplit=2)
            if len(fields) < 2 or fields[1] not in PROGRAM_STATES:
                continue  # not a program's line: supervisord is not answering yet
            name, state = fields[:2]
            details = fields[2] if len(fields) > 2 else ""
            pid = int(details.split(",")[0].split()[1]) if details.startswith("pid ") else None
            programs[name] = {"state": state, "pid": pid}
        return programs

    def wait_until(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.args.start_timeout
        next_check = time.monotonic() + 2
        while not ready():
            assert self.supervisord is not None
            if self.supervisord.poll() is not None:
                raise RuntimeError(f"supervisord exited; see {self.run_dir / 'logs'}")
            # supervisorctl is a Python process: asked every 2 s, not every 0.2, while the
            # replicas load on the same cores.
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + 2
                failed = [n for n, p in self.programs().items() if p["state"] == "FATAL"]
                if failed:
                    raise RuntimeError(
                        f"supervisord gave up starting {', '.join(failed)}; see "
                        f"{self.run_dir / 'logs'}/NAME.log"
                    )
            if self.stopping:
                raise RuntimeError(f"stopped while {what} started")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start in {self.args.start_timeout} s")
            time.sleep(0.2)

    def up(self) -> None:
        args = self.args
        self.folder("pids")
        self.refuse_a_second_cluster()
        (self.run_dir / "state.json").unlink(missing_ok=True)
        ports = self.write_configs()
        supervisord_log = (self.run_dir / "logs" / "supervisord.out").open("ab")
        # A session of its own: Ctrl-C reaches this launcher only, which stops supervisord
        # (and supervisord, its programs, in order).
        self.supervisord = subprocess.Popen(
            [args.supervisord, "-c", str(self.config)],
            cwd=PROJECT,
            env=self.environment(ports["redis_url"]),
            stdin=subprocess.DEVNULL,
            stdout=supervisord_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        supervisord_log.close()
        replicas = ports["replicas"]
        self.wait_until("redis", lambda: redis_answers(ports["redis_port"]))
        self.wait_until("the replicas", lambda: all(healthy(int(r["port"])) for r in replicas))
        self.wait_until("nginx", lambda: healthy(args.port, args.host))
        pids = {name: program["pid"] for name, program in self.programs().items()}
        for replica in replicas:
            replica["pid"] = pids[replica["name"]]
        url = f"http://{args.host}:{args.port}"
        self.write_state(
            redis={"pid": pids["redis"], "port": ports["redis_port"], "url": ports["redis_url"]},
            replicas=replicas,
            nginx={"pid": pids["nginx"], "port": args.port},
            supervisor={
                "pid": self.supervisord.pid,
                "config": str(self.config),
                "socket": str(self.run_dir / "supervisor.sock"),
            },
            url=url,
            ready=True,
        )
        say(f"redis {ports['redis_url']} (pid {pids['redis']})")
        for replica in replicas:
            say(f"{replica['name']} http://127.0.0.1:{replica['port']} (pid {replica['pid']})")
        say(f"nginx {url} (pid {pids['nginx']}): ready, {len(replicas)} replicas")
        say(f"supervisord (pid {self.supervisord.pid}) restarts any that exits; Ctrl-C stops all")

    def watch(self) -> int:
        """Until a signal, or supervisord exits."""
        assert self.supervisord is not None
        while not self.stopping:
            code = self.supervisord.poll()
            if code is not None:
                say(f"supervisord exited ({code}); see {self.run_dir / 'logs'}")
                return 1
            time.sleep(0.2)
        return 0

    def down(self) -> None:
        if self.supervisord is None:
            return  # nothing started (another cluster's files are left as they are)
        if self.supervisord.poll() is None:
            self.supervisord.send_signal(signal.SIGTERM)
        try:
            # supervisord waits up to stop_timeout for each program, nginx's and the replicas'
            # in turn, then kills it.
            self.supervisord.wait(timeout=self.args.stop_timeout * 3 + 10)
        except subprocess.TimeoutExpired:
            say(f"supervisord did not stop; killing it and its programs ({self.run_dir}/pids)")
            self.supervisord.kill()
            self.supervisord.wait()
        if self.state:
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
    parser.add_argument("--supervisord", default=shutil.which("supervisord") or "supervisord")
    parser.add_argument("--supervisorctl", default=shutil.which("supervisorctl") or "supervisorctl")
    parser.add_argument("--start-timeout", type=float, default=600, help="seconds")
    parser.add_argument(
        "--stop-timeout", type=float, default=20, help="seconds for each program to stop"
    )
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

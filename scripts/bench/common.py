"""What the benchmarks share: a granian server on a free port, a PostgreSQL schema of their own, and wrk
driven by a Lua script that prints one RESULT line (requests, seconds, p50, p95, p99 in ms, errors)."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scripts.web_server import granian

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://root@127.0.0.1:5432/test"

# Appended to each benchmark's Lua script: the figures wrk measured, in one line this module reads back.
LUA_RESULT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
    + summary.errors.timeout
  io.write(string.format("RESULT %d %.3f %.2f %.2f %.2f %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
"""


def benchmark_options(
    description: str, *, engines: str, connections: str, threads: int
) -> argparse.ArgumentParser:
    """The options every benchmark takes; a benchmark adds its own, then parses."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default=engines)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument(
        "--connections", default=connections, help="concurrent clients, one run each"
    )
    parser.add_argument("--workers", type=int, default=2, help="web workers (processes)")
    parser.add_argument("--threads", type=int, default=threads, help="threads per worker")
    return parser


def postgres_schema(server: str, schema: str, *, fresh: bool = False) -> str:
    """A SQLAlchemy URL working in `schema` of `server` (emptied first when `fresh`)."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        if fresh:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return (
        server.replace("postgresql://", "postgresql+psycopg://", 1)
        + f"?options=-csearch_path%3D{schema}"
    )


def fresh_database(engine: str, name: str) -> str:
    """An empty database for one benchmark: a scratch SQLite file, or a PostgreSQL schema of its own
    (on BENCH_DATABASE_URL, else the local server)."""
    if engine == "sqlite":
        folder = Path(tempfile.gettempdir()) / "agrilink-bench"
        folder.mkdir(exist_ok=True)
        for old in folder.glob(f"{name}.db*"):
            old.unlink()
        return f"sqlite:///{folder / f'{name}.db'}"
    server = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    return postgres_schema(server, f"agrilink_bench_{name}", fresh=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`with Server(url, "wsgi:app", workers=2, threads=4) as server:` granian serving the database at
    `url` on `server.base` (the benchmarks, and the tests that need real processes)."""

    def __init__(self, url: str, app: str, *, workers: int, threads: int, env: dict | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = granian(
            app,
            port=self.port,
            workers=workers,
            threads=threads,
            stop_seconds=3,
            more=("--log-level", "warning"),
        )
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "benchmark",
            **(env or {}),
        }

    def __enter__(self) -> "Server":
        # A session of its own, so that stopping it stops its workers too.
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, start_new_session=True
        )
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=1)  # noqa: S310 - our own server
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the server did not start")

    def worker_pids(self) -> list[int]:
        """The granian main process's children (its workers), read from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def __exit__(self, *_exc) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


@dataclass(frozen=True)
class Figures:
    rate: float  # requests per second
    p50: float
    p95: float
    p99: float
    errors: int
    requests: int


def wrk(base: str, lua: str, *, connections: int, seconds: int, warm_up: int = 0) -> Figures:
    """Drive `base` with wrk running `lua` (plus LUA_RESULT), after an unmeasured warm-up if asked."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + LUA_RESULT)
    try:
        if warm_up:
            _run_wrk(base, script.name, connections=connections, seconds=warm_up)
        output = _run_wrk(base, script.name, connections=connections, seconds=seconds)
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, duration, p50, p95, p99, errors = line.split()[1:]
    return Figures(
        int(requests) / float(duration),
        float(p50),
        float(p95),
        float(p99),
        int(errors),
        int(requests),
    )


def _run_wrk(base: str, script: str, *, connections: int, seconds: int) -> str:
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        script,
        base,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout

"""Catalog benchmark: search pages and the listings API on 100,000 listings, over HTTP, under load.

    .venv/bin/python scripts/bench/catalog.py                      # SQLite and PostgreSQL
    .venv/bin/python scripts/bench/catalog.py --engines sqlite --duration 20 --connections 8

For each database it fills a scratch database (kept for the next run), starts gunicorn serving the
platform plus a bare endpoint (scripts/bench/catalog_app.py), and drives it with wrk (Debian's `wrk`
package) over a mix of filtered searches. It prints requests per second and latency percentiles for the
search page, the listings API and the bare endpoint, and the API's share of the bare endpoint's throughput,
for each number of concurrent clients (--connections, default 2 and 4).
The floors (issue 3): p95 at or under 50 ms for the search page and the API; the API at least half as fast
as the bare endpoint. Each measurement gets a server of its own, warmed up by concurrent clients for half
as long as it is measured. The search page is measured twice: with the market cache as deployed, and cold
(MARKET_CACHE_SECONDS=0: every facet count and text match computed for each request).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://root@127.0.0.1:5432/test"
SCHEMA = "agrilink_bench"

SEARCHES = [
    {"q": "翠芽"},
    {"q": "翠芽", "grade": "first"},
    {"q": "cuiya", "sort": "price_asc"},
    {"q": "遵义红"},
    {"q": "green tea", "town": "兴隆镇"},
    {"q": "辣椒", "in_stock": "true"},
    {"q": "白菜", "grade": "first"},
    {"q": "猕猴桃"},
    {"q": "大米", "sort": "price_asc"},
    {"q": "茶", "certification": "green_food"},
    {"category": "vegetables", "town": "兴隆镇"},
    {"category": "tea", "sort": "price_desc"},
    {"category": "fruit", "certification": "organic"},
    {"category": "chili", "grade": "special"},
    {"town": "永兴镇", "in_stock": "true"},
    {"grade": "first", "min_price": "5", "max_price": "50"},
    {"category": "tea.black", "town": "湄江街道"},
    {"q": "土豆", "min_price": "2"},
    {"q": "明前"},
    {"certification": "geographical_indication", "sort": "price_asc"},
]
RATIO_SEARCHES = [  # the filters the bare endpoint also understands, with its one SQL query
    {"category": "vegetables", "town": "兴隆镇"},
    {"category": "tea", "sort": "price_desc"},
    {"category": "fruit"},
    {"town": "永兴镇"},
    {"grade": "first", "sort": "price_asc"},
    {"category": "chili"},
    {"grade": "special"},
    {"category": "tea.green", "town": "永兴镇"},
]


def main() -> int:
    arguments = _arguments()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk")
        return 2
    results = []
    for engine in arguments.engines.split(","):
        url = _prepare(engine, arguments.listings)
        results += _measure(engine, url, arguments)
    _report(results)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--connections", default="2,4", help="concurrent clients, one run for each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    return parser.parse_args()


# --- the data --------------------------------------------------------------------------------------


def _prepare(engine: str, listings: int) -> str:
    if engine == "sqlite":
        folder = Path(tempfile.gettempdir()) / "agrilink-bench"
        folder.mkdir(exist_ok=True)
        url = f"sqlite:///{folder / f'catalog-{listings}.db'}"
    else:
        url = _postgres_schema(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES)
    _fill_once(url, listings)
    return url


def _postgres_schema(server: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    return (
        server.replace("postgresql://", "postgresql+psycopg://", 1)
        + f"?options=-csearch_path%3D{SCHEMA}"
    )


def _fill_once(url: str, listings: int) -> None:
    from sqlalchemy import func, select, text

    from app import create_app
    from app.catalog.models import Listing
    from app.db import transaction
    from app.models import migrate
    from scripts.bench.catalog_data import fill

    app = create_app(overrides={"DATABASE_URL": url})
    database = app.extensions["agrilink.db"]
    migrate(database)
    with app.app_context(), transaction() as session:
        present = session.scalar(select(func.count()).select_from(Listing))
        if present < listings:
            print(
                f"filling {url.split('?')[0]} with {listings - present:,} listings ...", flush=True
            )
            fill(session, listings=listings - present)
    with (
        database.engine.connect() as connection
    ):  # fresh statistics, as autovacuum / PRAGMA optimize keep
        connection.execute(text("ANALYZE"))
        connection.commit()
    database.dispose()


# --- the measurements ------------------------------------------------------------------------------


def _measure(engine: str, url: str, arguments) -> list[tuple]:
    results = []
    pages = [f"/market?{urlencode(search, quote_via=quote)}" for search in SEARCHES]
    api = [f"/api/v1/listings?{urlencode(search, quote_via=quote)}" for search in SEARCHES]
    plain = [f"/api/v1/listings?{urlencode(search, quote_via=quote)}" for search in RATIO_SEARCHES]
    bare = [
        f"/bench/bare-listings?{urlencode(search, quote_via=quote)}" for search in RATIO_SEARCHES
    ]
    for connections in map(int, arguments.connections.split(",")):
        for label, paths, cache in (
            ("search page", pages, "30"),
            ("listings API, same searches", api, "30"),
            ("listings API, filters only", plain, "30"),
            ("bare endpoint, filters only", bare, "30"),
            ("search page, cold (no market cache)", pages, "0"),
        ):
            # A server of its own for each measurement, warmed up first: the window then sees the cache as
            # a steady stream of traffic does, where each popular search refreshes once every 30 seconds
            # (under 2% of requests here) rather than all of them at once, as one shared warm-up would.
            with _server(url, arguments, market_cache=cache) as base:
                results.append(
                    (engine, connections, label, *_wrk(base, paths, arguments, connections))
                )
    return results


class _server:
    def __init__(self, url: str, arguments, *, market_cache: str) -> None:
        self.port = _free_port()
        self.command = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(arguments.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(arguments.threads),
            "--log-level",
            "warning",
            "scripts.bench.catalog_app:app",
        ]
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "MARKET_CACHE_SECONDS": market_cache,
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "benchmark",
        }

    def __enter__(self) -> str:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env)
        base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310 - our own local server
                return base
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def __exit__(self, *_exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_LUA = """
local paths = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
    + summary.errors.timeout
  io.write(string.format("RESULT %%d %%.3f %%.2f %%.2f %%.2f %%d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
"""


def _wrk(base: str, paths: list[str], arguments, connections: int) -> tuple:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA % ", ".join(f'"{path}"' for path in paths))
    # Warm up with concurrent clients, so that every worker has served every search (as after a while
    # in production) before the measured run starts.
    warm_up = max(5, arguments.duration // 2)
    _run_wrk(base, script.name, connections=2 * arguments.workers, seconds=warm_up)
    output = _run_wrk(base, script.name, connections=connections, seconds=arguments.duration)
    os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, seconds, p50, p95, p99, errors = line.split()[1:]
    return round(int(requests) / float(seconds)), float(p50), float(p95), float(p99), int(errors)


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


def _report(results: list[tuple]) -> None:
    columns = ("req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    print(
        f"\n{'database':10} {'clients':>7}  {'what':37}" + "".join(f"{name:>8}" for name in columns)
    )
    for engine, connections, label, rate, p50, p95, p99, errors in results:
        figures = f"{rate:8}{p50:8.1f}{p95:8.1f}{p99:8.1f}{errors:8}"
        print(f"{engine:10} {connections:7}  {label:37}{figures}")
    print()
    for engine, connections in sorted({(row[0], row[1]) for row in results}):
        rates = {
            label: rate for e, c, label, rate, *_ in results if (e, c) == (engine, connections)
        }
        ratio = rates["listings API, filters only"] / rates["bare endpoint, filters only"]
        print(
            f"{engine}, {connections} clients: the listings API delivers {ratio:.2f} of the bare "
            "endpoint's throughput (floor 0.50)"
        )


if __name__ == "__main__":
    sys.exit(main())

"""Catalog benchmark: search pages and the listings API on 100,000 listings, over HTTP, under load.

    .venv/bin/python scripts/bench/catalog.py                      # SQLite and PostgreSQL
    .venv/bin/python scripts/bench/catalog.py --engines sqlite --duration 20 --connections 8

For each database it fills a scratch database (kept for the next run), starts granian serving the
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
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.common import DEFAULT_POSTGRES, Server, benchmark_options, postgres_schema, wrk

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
    parser = benchmark_options(__doc__, engines="sqlite,postgresql", connections="2,4", threads=4)
    parser.add_argument("--listings", type=int, default=100_000)
    return parser.parse_args()


# --- the data --------------------------------------------------------------------------------------


def _prepare(engine: str, listings: int) -> str:
    if engine == "sqlite":
        folder = Path(tempfile.gettempdir()) / "agrilink-bench"
        folder.mkdir(exist_ok=True)
        url = f"sqlite:///{folder / f'catalog-{listings}.db'}"
    else:
        url = postgres_schema(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES, SCHEMA)
    _fill_once(url, listings)
    return url


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
            server = Server(
                url,
                "scripts.bench.catalog_app:app",
                workers=arguments.workers,
                threads=arguments.threads,
                env={"MARKET_CACHE_SECONDS": cache},
            )
            with server:
                results.append(
                    (engine, connections, label, *_wrk(server.base, paths, arguments, connections))
                )
    return results


_LUA = """
local paths = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def _wrk(base: str, paths: list[str], arguments, connections: int) -> tuple:
    lua = _LUA % ", ".join(f'"{path}"' for path in paths)
    # Warm up with concurrent clients, so that every worker has served every search (as after a while
    # in production) before the measured run starts.
    wrk(base, lua, connections=2 * arguments.workers, seconds=max(5, arguments.duration // 2))
    figures = wrk(base, lua, connections=connections, seconds=arguments.duration)
    return round(figures.rate), figures.p50, figures.p95, figures.p99, figures.errors


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

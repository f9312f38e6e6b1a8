"""Orders benchmark: order placement over HTTP, money held on the embedded provider, under load.

    .venv/bin/python scripts/bench/orders.py                      # PostgreSQL and SQLite
    .venv/bin/python scripts/bench/orders.py --engines postgresql --duration 20 --connections 16

For each database it makes a fresh database (a scratch SQLite file, a PostgreSQL schema of its own) with
--buyers supermarkets, each with a funded wallet and an API token, and --listings listings with stock enough
for the run; starts granian serving the platform (wsgi:app); and drives POST /api/v1/orders with wrk, each
request a random buyer ordering 1 kg of a random listing, paid from the wallet (stock taken, money held in
the order's escrow). It prints orders per second and latency percentiles, then checks that every order has
its stock movement and its ledger hold, and that the ledger check passes.
The floor (issue 4): at least 500 orders per second on PostgreSQL with p99 at or under 200 ms.
"""

import argparse
import random
import shutil
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.common import Server, benchmark_options, fresh_database, wrk

_LUA = """
local tokens = {%(tokens)s}
local listings = {%(listings)s}
math.randomseed(%(seed)d)
request = function()
  local token = tokens[math.random(#tokens)]
  local body = string.format(
    '{"lines":[{"listing_id":%%d,"quantity":1}],"delivery_point":"bench","delivery_date":"%(day)s",'
    .. '"window_start":"08:00","window_end":"10:00"}', listings[math.random(#listings)])
  return wrk.format("POST", "/api/v1/orders",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


def main() -> int:
    arguments = _arguments()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk")
        return 2
    rows = []
    for engine in arguments.engines.split(","):
        for connections in map(int, arguments.connections.split(",")):
            url = fresh_database(engine, "orders")
            tokens, listings, day = _fill(url, arguments.buyers, arguments.listings)
            lua = _LUA % {
                "tokens": ", ".join(f'"{token}"' for token in tokens),
                "listings": ", ".join(map(str, listings)),
                "seed": random.randrange(1_000_000),
                "day": day,
            }
            server = Server(url, "wsgi:app", workers=arguments.workers, threads=arguments.threads)
            with server:
                figures = wrk(
                    server.base,
                    lua,
                    connections=connections,
                    seconds=arguments.duration,
                    warm_up=3,
                )
            rows.append((engine, connections, figures, _check(url)))
    _report(rows)
    return 0


def _arguments() -> argparse.Namespace:
    parser = benchmark_options(
        __doc__, engines="postgresql,sqlite", connections="16,32,64", threads=32
    )
    parser.add_argument("--buyers", type=int, default=300)
    parser.add_argument("--listings", type=int, default=200)
    return parser.parse_args()


def _fill(url: str, buyers: int, listings: int) -> tuple[list[str], list[int], str]:
    """Buyers with money and tokens, sellers with stock; the API tokens, listing ids and delivery day."""
    from app import create_app
    from app.db import local_date, transaction, utcnow
    from app.models import migrate
    from scripts.bench.orders_data import fill

    app = create_app(overrides={"DATABASE_URL": url})
    migrate(app.extensions["agrilink.db"])
    with app.app_context(), transaction() as session:
        tokens, listing_ids = fill(session, buyers=buyers, listings=listings)
    app.extensions["agrilink.db"].dispose()
    return tokens, listing_ids, (local_date(utcnow()) + timedelta(days=1)).isoformat()


def _check(url: str) -> str:
    """What the books say after the run: orders placed, and whether the ledger check passed."""
    from sqlalchemy import func, select

    from app import create_app
    from app.catalog.models import StockKind, StockMovement
    from app.db import get_session
    from app.orders.cli import problems
    from app.orders.models import Order
    from app.payments.models import LedgerTransaction

    app = create_app(overrides={"DATABASE_URL": url})
    with app.app_context():
        reads = get_session()
        orders = reads.scalar(select(func.count()).select_from(Order))
        moved = reads.scalar(select(func.count()).where(StockMovement.kind == StockKind.ordered))
        holds = reads.scalar(select(func.count()).where(LedgerTransaction.kind == "hold"))
        found = problems(reads)
    app.extensions["agrilink.db"].dispose()
    whole = orders == moved == holds and not found
    return f"{orders:,} orders, {'each with its stock and hold' if whole else 'INCOMPLETE'}, " + (
        "ledger check passed" if not found else f"ledger check: {len(found)} problems"
    )


def _report(rows) -> None:
    columns = ("orders/s", "p50 ms", "p95 ms", "p99 ms", "errors")
    print(f"\n{'database':10} {'clients':>7}" + "".join(f"{name:>10}" for name in columns))
    for engine, connections, figures, _books in rows:
        print(
            f"{engine:10} {connections:7}{figures.rate:10.0f}{figures.p50:10.1f}{figures.p95:10.1f}"
            f"{figures.p99:10.1f}{figures.errors:10}"
        )
    print()
    for engine, connections, _figures, books in rows:
        print(f"{engine}, {connections} clients: {books}")
    print("\nfloor (PostgreSQL): at least 500 orders/s with p99 at or under 200 ms")


if __name__ == "__main__":
    sys.exit(main())

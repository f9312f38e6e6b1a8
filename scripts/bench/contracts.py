"""Contracts benchmark: the scheduler's job that creates the due instalment orders of active contracts.

    .venv/bin/python scripts/bench/contracts.py                       # PostgreSQL and SQLite
    .venv/bin/python scripts/bench/contracts.py --engines sqlite --contracts 2000

For each database it makes a fresh database with --contracts active, signed contracts (schools buying from
cooperatives, 10% deposits, paid on acceptance from funded wallets), each with one instalment whose order is
due now, then runs the job `contracts.order_instalments` once, as the scheduler would, and prints how long it
took. It then checks that every instalment has exactly one order with its stock taken and its money held, that
a second run creates nothing, and that the ledger check passes.
The floor (issue 5): 10,000 contracts' orders in at most 30 seconds, on SQLite and on PostgreSQL.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.common import benchmark_options, fresh_database


def main() -> int:
    arguments = _arguments()
    rows = []
    for engine in arguments.engines.split(","):
        app = _app(fresh_database(engine, "contracts"))
        with app.app_context():
            _fill(arguments.contracts)
            rows.append((engine, *_run_job_twice(), _check(arguments.contracts)))
        app.extensions["agrilink.db"].dispose()
    print(
        f"\n{'database':10} {'contracts':>9} {'first run s':>12} {'orders/s':>9} {'second run s':>13}"
    )
    for engine, counts, seconds, again, again_seconds, books in rows:
        rate = counts["ordered"] / seconds
        print(
            f"{engine:10} {counts['ordered']:9,} {seconds:12.1f} {rate:9.0f} {again_seconds:13.2f}"
        )
        print(f"  {books}; second run ordered {again['ordered']}")
    print("\nfloor: 10,000 contracts' due orders in at most 30 s on each database")
    return 0


def _arguments():
    parser = benchmark_options(__doc__, engines="postgresql,sqlite", connections="1", threads=1)
    parser.add_argument("--contracts", type=int, default=10_000)
    return parser.parse_args()


def _app(url: str):
    from app import create_app
    from app.models import migrate

    app = create_app(overrides={"DATABASE_URL": url})
    migrate(app.extensions["agrilink.db"])
    return app


def _fill(count: int) -> None:
    from app.db import transaction
    from scripts.bench.contracts_data import fill

    with transaction() as session:
        fill(session, contracts=count)


def _run_job_twice():
    from app.contracts.jobs import order_due_instalments

    started = time.perf_counter()
    counts = order_due_instalments()
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = order_due_instalments()
    return counts, seconds, again, time.perf_counter() - started


def _check(count: int) -> str:
    from sqlalchemy import func, select

    from app.catalog.models import StockKind, StockMovement
    from app.contracts.models import Instalment
    from app.db import get_session
    from app.orders.cli import problems
    from app.orders.models import Order
    from app.payments.models import LedgerTransaction

    reads = get_session()
    orders = reads.scalar(select(func.count()).select_from(Order))
    linked = reads.scalar(select(func.count(func.distinct(Instalment.order_id))))
    moved = reads.scalar(select(func.count()).where(StockMovement.kind == StockKind.ordered))
    holds = reads.scalar(select(func.count()).where(LedgerTransaction.kind == "hold"))
    found = problems(reads)
    whole = count == orders == linked == moved == holds
    return (
        f"{orders:,} orders, {'one per instalment with its stock and hold' if whole else 'INCOMPLETE'}, "
        + ("ledger check passed" if not found else f"ledger check: {len(found)} problems")
    )


if __name__ == "__main__":
    sys.exit(main())

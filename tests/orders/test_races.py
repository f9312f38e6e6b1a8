"""Races against a real server: granian workers (processes) on a database of the test's own, many buyers at
once. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

import http.client
import json
import os
import signal
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from app.auth import OrgKind, Role
from app.catalog.models import Listing, ListingStatus, StockKind, StockMovement
from app.db import get_session, local_date, transaction, utcnow
from app.orders.cli import problems
from app.orders.models import Order, OrderLine, OrderStatus
from app.payments.models import LedgerTransaction
from scripts.bench.common import Server
from tests import processes

TOMORROW = (local_date(utcnow()) + timedelta(days=1)).isoformat()


def _set_up(database_url: str, *, buyers: int, stock: int, wallet_fen: int):
    """A cooperative with one listing, and `buyers` supermarkets with a funded wallet and an API token."""
    app = processes.migrated_app(database_url)
    tokens = []
    with app.app_context(), transaction() as session:
        coop = processes.organisation(session, 0, OrgKind.cooperative, "湄潭县竞速茶叶合作社")
        listing = processes.listing(session, coop, stock=stock, price_fen=1000, tea=True)
        for n in range(1, buyers + 1):
            buyer = processes.organisation(session, n, OrgKind.supermarket, f"竞速超市{n}号")
            secret = f"agl_race-buyer-{n:05d}-secret"
            user = processes.member_with_token(
                session, buyer, phone=f"139{n:08d}", secret=secret, role=Role.staff
            )
            processes.fund(session, buyer, wallet_fen, actor_id=user.id)
            tokens.append(secret)
        listing_id = listing.id
    return app, listing_id, tokens


def _order(base: str, token: str, listing_id, quantity: int = 1, key: str | None = None):
    """POST an order for `quantity` of a listing (or of each of several listings, in the order given)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    listing_ids = listing_id if isinstance(listing_id, list) else [listing_id]
    body = {
        "lines": [{"listing_id": one, "quantity": quantity} for one in listing_ids],
        "delivery_point": "超市收货区",
        "delivery_date": TOMORROW,
        "window_start": "08:00",
        "window_end": "10:00",
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    try:
        connection.request("POST", "/api/v1/orders", json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_200_buyers_racing_for_50_kg_exactly_50_get_one(empty_database_url):
    app, listing_id, tokens = _set_up(empty_database_url, buyers=200, stock=50, wallet_fen=10_000)
    start = threading.Barrier(len(tokens))
    results: list[tuple[int, dict]] = []

    def buy(token: str) -> None:
        start.wait()
        results.append(_order(server.base, token, listing_id))

    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        threads = [threading.Thread(target=buy, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    statuses = sorted(status for status, _body in results)
    assert statuses.count(201) == 50
    assert statuses.count(409) == 150, statuses
    refusals = {body["message"] for status, body in results if status == 409}
    assert refusals == {"“湄潭翠芽 一级”已售罄。"}
    with app.app_context():
        reads = get_session()
        listing = reads.get(Listing, listing_id)
        assert (listing.quantity, listing.status) == (0, ListingStatus.sold_out)
        assert reads.scalar(select(func.count()).select_from(Order)) == 50
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def test_the_same_idempotency_key_sent_three_times_at_once_makes_one_order(empty_database_url):
    app, listing_id, [token] = _set_up(empty_database_url, buyers=1, stock=50, wallet_fen=100_000)
    start = threading.Barrier(3)
    results = []

    def buy() -> None:
        start.wait()
        results.append(_order(server.base, token, listing_id, quantity=2, key="erp-po-20261128-7"))

    with Server(empty_database_url, "wsgi:app", workers=2, threads=4) as server:
        threads = [threading.Thread(target=buy) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(status for status, _ in results) == [200, 200, 201]
    assert len({body["orders"][0]["id"] for _, body in results}) == 1
    with app.app_context():
        reads = get_session()
        assert reads.get(Listing, listing_id).quantity == 48
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def test_a_worker_killed_mid_checkout_leaves_no_half_written_order(empty_database_url):
    stock = 100_000
    app, listing_id, tokens = _set_up(empty_database_url, buyers=16, stock=stock, wallet_fen=10**9)
    stop = threading.Event()
    placed = []

    def keep_buying(token: str) -> None:
        while not stop.is_set():
            try:
                status, _body = _order(server.base, token, listing_id)
                placed.append(status)
            except (OSError, http.client.HTTPException, json.JSONDecodeError):
                placed.append("broken")  # the worker serving it was killed

    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        threads = [threading.Thread(target=keep_buying, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join()
        assert victim not in server.worker_pids()

    assert placed.count(201) > 10  # load ran before and after the kill
    with app.app_context():
        reads = get_session()
        orders = reads.scalar(select(func.count()).select_from(Order))
        ordered = reads.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0)))
        orders_with_lines = reads.scalar(select(func.count(func.distinct(OrderLine.order_id))))
        taken = reads.scalar(
            select(func.coalesce(func.sum(StockMovement.delta), 0)).where(
                StockMovement.kind == StockKind.ordered
            )
        )
        holds = reads.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.kind == "hold")
        )
        assert orders == orders_with_lines == holds
        assert -taken == ordered
        assert reads.get(Listing, listing_id).quantity == stock - ordered
        assert reads.scalar(select(func.count()).where(Order.status != OrderStatus.paid)) == 0
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def test_carts_naming_two_listings_in_opposite_orders_never_deadlock(empty_database_url):
    app, first, tokens = _set_up(empty_database_url, buyers=40, stock=10_000, wallet_fen=10**7)
    with app.app_context(), transaction() as session:
        twin = processes.listing(
            session,
            session.get(Listing, first).seller,
            stock=10_000,
            price_fen=1000,
            tea=True,
            title="湄潭翠芽 一级 第二批",
        )
        second = twin.id
    start = threading.Barrier(len(tokens))
    statuses = []

    def buy(n: int, token: str) -> None:
        start.wait()
        statuses.append(
            _order(server.base, token, [first, second] if n % 2 else [second, first])[0]
        )

    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        threads = [threading.Thread(target=buy, args=pair) for pair in enumerate(tokens)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [201] * 40
    with app.app_context():
        reads = get_session()
        assert reads.get(Listing, first).quantity == reads.get(Listing, second).quantity == 9_960
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()

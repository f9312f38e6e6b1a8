"""A flash deal against a real server: granian workers on a database of the test's own, 300 buyers at once.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

import http.client
import json
import threading
from collections import defaultdict

from sqlalchemy import func, select

from app.auth import OrgKind, Role
from app.catalog.models import Listing, StockReserve
from app.db import get_session, transaction
from app.live.models import LiveSale
from app.orders.cli import problems
from app.orders.models import Order, OrderLine, OrderStatus
from scripts.bench.common import Server
from tests import processes


def _set_up(database_url: str, *, buyers: int):
    """A cooperative's host live with a deal of 100 kg at 2 per customer that has just opened, and
    `buyers` supermarkets with money and API tokens."""
    app = processes.migrated_app(database_url)
    tokens = []
    with app.app_context(), transaction() as session:
        ids = processes.live_deal(session, stock=100, per_customer_limit=2)
        for n in range(1, buyers + 1):
            buyer = processes.organisation(session, n, OrgKind.supermarket, f"直播超市{n}号")
            secret = f"agl_live-race-{n:05d}-secret"
            user = processes.member_with_token(
                session, buyer, phone=f"139{n:08d}", secret=secret, role=Role.staff
            )
            processes.fund(session, buyer, 100_000, actor_id=user.id)
            tokens.append(secret)
    return app, ids, tokens


def _buy(base: str, token: str, session_id: int, deal_id: int, quantity: int, key: str):
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Idempotency-Key": key,
    }
    body = json.dumps({"deal_id": deal_id, "quantity": quantity})
    try:
        connection.request("POST", f"/api/v1/live/sessions/{session_id}/orders", body, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _asks(tokens: list[str]) -> list[tuple[str, int, str]]:
    """Every 10th buyer asks for 3 (over the limit); every 3rd taps twice at once (2, then 1 more);
    the rest ask for 2."""
    asks = []
    for n, token in enumerate(tokens, start=1):
        if n % 10 == 0:
            asks.append((token, 3, f"tap-{n}"))
        elif n % 3 == 0:
            asks += [(token, 2, f"tap-{n}-a"), (token, 1, f"tap-{n}-b")]
        else:
            asks.append((token, 2, f"tap-{n}"))
    return asks


def test_300_buyers_at_a_deal_of_100_sell_at_most_100_and_nobody_passes_the_limit(
    empty_database_url,
):
    app, ids, tokens = _set_up(empty_database_url, buyers=300)
    asks = _asks(tokens)
    start = threading.Barrier(len(asks))
    results: list[tuple[str, int, int, dict]] = []

    def tap(token: str, quantity: int, key: str) -> None:
        start.wait()
        status, body = _buy(server.base, token, ids["session"], ids["deal"], quantity, key)
        results.append((token, quantity, status, body))

    with Server(empty_database_url, "wsgi:app", workers=2, threads=16) as server:
        threads = [threading.Thread(target=tap, args=ask) for ask in asks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    sold = [(token, quantity) for token, quantity, status, _ in results if status == 201]
    assert sum(quantity for _, quantity in sold) == 100  # demand far exceeds it: all of it sells
    per_buyer = defaultdict(int)
    for token, quantity in sold:
        per_buyer[token] += quantity
    assert max(per_buyer.values()) <= 2
    refusals = [(status, body) for _, _, status, body in results if status != 201]
    assert {status for status, _ in refusals} <= {409, 422}
    for status, body in refusals:
        said = body["message"] + " ".join(body.get("fields", {}).get("quantity", []))
        assert ("最多" in said) if status == 422 else ("售罄" in said or "仅剩" in said), body
    over_limit = [body for token, quantity, status, body in results if quantity == 3]
    assert all("最多" in " ".join(body["fields"]["quantity"]) for body in over_limit)

    with app.app_context():
        reads = get_session()
        reserve = reads.get(StockReserve, ids["reserve"])
        assert (reserve.taken, reserve.left) == (100, 0)
        # The listing keeps what it had less the deal's stock, all of which sold.
        assert reads.get(Listing, ids["listing"]).quantity == 1_000_000 - 100
        in_orders = reads.scalar(
            select(func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.reserve_id == ids["reserve"], Order.status != OrderStatus.cancelled)
        )
        assert in_orders == 100
        attributed = reads.scalar(
            select(func.count()).select_from(LiveSale).where(LiveSale.deal_id == ids["deal"])
        )
        assert attributed == len(sold)
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()

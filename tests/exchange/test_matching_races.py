"""One book traded by forty traders at once through two workers: no order over-filled, the book never
crossed, the stored order log replays to exactly the stored trades, and the money and tea add up.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

import csv
import io
import random
import threading
from collections import Counter

from sqlalchemy import func, select

from app.db import get_session
from app.exchange import instruments, replay, trading
from app.exchange.matching import Book
from app.exchange.models import (
    ExchangeOrder,
    OrderStatus,
    Receipt,
    Side,
    Trade,
)
from app.orders.cli import problems
from scripts.bench.common import Server
from tests.exchange.races import (
    CLOSE_FEN,
    LOT_KG,
    SYMBOL,
    Trader,
    call,
    exchange_with_traders,
    free_and_reserved,
    yuan,
)


def _trade_for_a_while(base: str, trader: Trader, rng: random.Random, orders: int) -> list[tuple]:
    """A trader's session on the book: limit orders either side of ¥800.00, one in five IOC, and now and then
    a cancel of its oldest resting order. (kind, status, body) of each call."""
    calls, resting = [], []
    for _ in range(orders):
        side = rng.choice(["buy", "sell"])
        body = {
            "symbol": SYMBOL,
            "side": side,
            "price_yuan": yuan(CLOSE_FEN + 10 * rng.randint(-5, 5)),
            "lots": rng.randint(1, 3),
            "time_in_force": "ioc" if rng.random() < 0.2 else "gtc",
        }
        if side == "sell":
            body["receipt_id"] = trader.receipt_id
        status, placed = call(base, trader.token, "POST", "/api/v1/exchange/orders", body)
        calls.append(("place", status, placed))
        if status == 201 and placed["order"]["status"] == "open":
            resting.append(placed["order"]["id"])
        if resting and rng.random() < 0.3:
            path = f"/api/v1/exchange/orders/{resting.pop(0)}"
            calls.append(("cancel", *call(base, trader.token, "DELETE", path)))
    return calls


def _watch_the_spread(database, instrument_id: int, stop: threading.Event, seen: list) -> None:
    """Read the best bid and the best ask in one statement (one snapshot) until told to stop."""
    is_open = (ExchangeOrder.instrument_id == instrument_id) & (
        ExchangeOrder.status == OrderStatus.open
    )
    best = {
        side: select(aggregate(ExchangeOrder.price_fen))
        .where(is_open, ExchangeOrder.side == side)
        .scalar_subquery()
        for side, aggregate in ((Side.buy, func.max), (Side.sell, func.min))
    }
    while not stop.is_set():
        with database.read_session() as reads:
            seen.append(tuple(reads.execute(select(best[Side.buy], best[Side.sell])).one()))
        stop.wait(0.01)


def _replayed(rows: list[tuple]) -> tuple[list[tuple], list[tuple]]:
    """The order log run through the matching core as `flask exchange replay` runs it: its trades, and the
    book it leaves (order id and open lots of every resting order)."""
    log = io.StringIO()
    writer = csv.writer(log)
    writer.writerow(replay.INPUT_HEADER)
    writer.writerows(rows)
    log.seek(0)
    book = Book()
    trades = [tuple(trade[:4]) for trade in replay.replay(replay.read_log(log), book)]
    return trades, sorted((order.order_id, order.quantity) for order in book.resting())


def _trade_and_watch(database_url: str, database, instrument_id: int, traders: list[Trader]):
    """Every trader trading at once through two granian workers while the spread is watched: every call's
    (kind, status, body), and every (best bid, best ask) seen."""
    stop, spreads, calls = threading.Event(), [], []
    watcher = threading.Thread(
        target=_watch_the_spread, args=(database, instrument_id, stop, spreads)
    )
    start = threading.Barrier(len(traders))

    def trade(n: int, trader: Trader) -> None:
        start.wait()
        calls.extend(_trade_for_a_while(server.base, trader, random.Random(n), orders=10))

    with Server(database_url, "wsgi:app", workers=2, threads=16) as server:
        threads = [threading.Thread(target=trade, args=pair) for pair in enumerate(traders)]
        watcher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        watcher.join()
    return calls, spreads


def _crossed(bid: int | None, ask: int | None) -> bool:
    return bid is not None and ask is not None and bid >= ask


def _check_fills(orders: list[ExchangeOrder], trades: list[Trade]) -> None:
    """No order traded more than it asked for, and each says what it traded and what is left."""
    traded = Counter()
    for trade in trades:
        traded[trade.buy_order_id] += trade.lots
        traded[trade.sell_order_id] += trade.lots
    for order in orders:
        assert order.filled_lots == traded[order.id] <= order.lots
        left = order.lots - order.filled_lots if order.status == OrderStatus.open else 0
        assert order.open_lots == left
        assert (order.status == OrderStatus.filled) == (order.filled_lots == order.lots)


def _check_deposits_and_receipts(reads, traders, open_orders, trades, deposit_fen: int) -> None:
    """Each trader's reserved money is what its open buys still set aside, its free money the rest of what
    it paid in; each resting sell's receipt holds exactly what the sell still offers."""
    for trader in traders:
        mine = [order for order in open_orders if order.organisation_id == trader.organisation_id]
        buying = [order for order in mine if order.side == Side.buy]
        assert all(o.reserved_fen == o.open_lots * o.price_fen * LOT_KG for o in buying)
        reserved = sum(order.reserved_fen for order in buying)
        paid = sum(t.value_fen for t in trades if t.buyer_id == trader.organisation_id)
        free = deposit_fen - paid - reserved
        assert free_and_reserved(reads, trader.organisation_id) == (free, reserved)
        for order in mine:
            if order.side == Side.sell:
                assert reads.get(Receipt, order.receipt_id).net_kg == order.open_lots * LOT_KG


def test_forty_traders_on_one_book_through_two_workers_leave_the_book_its_order_log_replays_to(
    empty_database_url,
):
    app, traders = exchange_with_traders(empty_database_url, traders=40, deposit_fen=20_000_000)
    database = app.extensions["agrilink.db"]
    with app.app_context():
        instrument_id = instruments.instrument_by_symbol(get_session(), SYMBOL).id
    calls, spreads = _trade_and_watch(empty_database_url, database, instrument_id, traders)

    placed = [body for kind, status, body in calls if kind == "place" and status == 201]
    assert len(placed) == 400, [step for step in calls if step[1] not in (200, 201)][:5]
    cancels = Counter(
        (status, body.get("message")) for kind, status, body in calls if kind == "cancel"
    )
    assert set(cancels) <= {(200, None), (409, "该委托已不在簿：已成交或已撤销。")}, cancels
    assert cancels[(200, None)] > 0
    assert len(spreads) > 20  # the book was watched all along
    assert [spread for spread in spreads if _crossed(*spread)] == []

    with app.app_context():
        reads = get_session()
        orders = reads.scalars(
            select(ExchangeOrder).where(ExchangeOrder.instrument_id == instrument_id)
        ).all()
        trades = reads.scalars(
            select(Trade).where(Trade.instrument_id == instrument_id).order_by(Trade.id)
        ).all()
        assert len(trades) > 50  # orders either side of one price cross often
        _check_fills(orders, trades)
        open_orders = [order for order in orders if order.status == OrderStatus.open]
        best_bid = max((o.price_fen for o in open_orders if o.side == Side.buy), default=None)
        best_ask = min((o.price_fen for o in open_orders if o.side == Side.sell), default=None)
        assert not _crossed(best_bid, best_ask)

        again, book = _replayed(trading.order_log(reads, instrument_id))
        assert again == [(t.buy_order_id, t.sell_order_id, t.price_fen, t.lots) for t in trades]
        assert book == sorted((order.id, order.open_lots) for order in open_orders)

        assert problems(reads) == []
        _check_deposits_and_receipts(reads, traders, open_orders, trades, 20_000_000)
        # What traded moved from the sellers' receipts to the buyers'; no tea appeared or vanished.
        assert reads.scalar(select(func.sum(Receipt.net_kg))) == 500 * len(traders)
    database.dispose()

"""The matching core against a reference written for obviousness, not speed, and its rules one by one."""

import io
import random
from bisect import insort

import pytest

from app.exchange.matching import Book, Side, TimeInForce, Trade
from app.exchange.replay import BadLog, read_log, replay, write_trades


class ReferenceBook:
    """Each side a list kept sorted best first (price, then arrival); matching walks it from the front."""

    def __init__(self) -> None:
        self.bids: list[tuple] = []  # (-price, arrival, order_id, account, quantity)
        self.asks: list[tuple] = []  # (price, arrival, order_id, account, quantity)
        self.arrivals = 0

    def submit(self, order_id, account, side, price, quantity, time_in_force) -> list[Trade]:
        buying = side == Side.buy
        other = self.asks if buying else self.bids
        trades = []
        while quantity and other:
            key, arrival, resting_id, resting_account, resting_quantity = other[0]
            resting_price = key if buying else -key
            if (resting_price > price) if buying else (resting_price < price):
                break
            if resting_account == account:
                return trades  # self-trade prevention: the rest of the incoming order is cancelled
            traded = min(quantity, resting_quantity)
            quantity -= traded
            if traded == resting_quantity:
                other.pop(0)
            else:
                other[0] = (key, arrival, resting_id, resting_account, resting_quantity - traded)
            buy_id, sell_id = (order_id, resting_id) if buying else (resting_id, order_id)
            trades.append(Trade(buy_id, sell_id, resting_price, traded, side))
        if quantity and time_in_force == TimeInForce.gtc:
            self.arrivals += 1
            entry = (-price if buying else price, self.arrivals, order_id, account, quantity)
            insort(self.bids if buying else self.asks, entry)
        return trades

    def cancel(self, order_id) -> None:
        for side in (self.bids, self.asks):
            side[:] = [entry for entry in side if entry[2] != order_id]

    def resting(self) -> list[tuple]:
        return [(entry[2], entry[4]) for entry in self.bids + self.asks]


def random_stream(seed: int, count: int):
    """Limit orders around ¥100.00 from 20 accounts (so some would trade with themselves), a tenth of them
    immediate-or-cancel, and cancels of random earlier orders."""
    rng = random.Random(seed)
    issued = []
    for order_id in range(1, count + 1):
        if issued and rng.random() < 0.25:
            yield ("cancel", rng.choice(issued))
            continue
        side = Side.buy if rng.random() < 0.5 else Side.sell
        price = 10_000 + rng.randint(-20, 20) * 10
        time_in_force = TimeInForce.ioc if rng.random() < 0.1 else TimeInForce.gtc
        yield ("new", order_id, rng.randint(1, 20), side, price, rng.randint(1, 50), time_in_force)
        issued.append(order_id)


@pytest.mark.parametrize("seed", [2026, 7])
def test_the_core_trades_exactly_as_the_reference_over_100_000_random_orders(seed):
    book, reference = Book(), ReferenceBook()
    core_trades, reference_trades = [], []
    for step in random_stream(seed, 100_000):
        if step[0] == "cancel":
            book.cancel(step[1])
            reference.cancel(step[1])
        else:
            core_trades += book.submit(*step[1:]).trades
            reference_trades += reference.submit(*step[1:])
    assert len(core_trades) > 10_000  # the stream crosses often enough to test something
    assert core_trades == reference_trades
    assert [(order.order_id, order.quantity) for order in book.resting()] == reference.resting()


def test_a_buyer_takes_the_cheapest_offers_oldest_first_at_the_resting_price():
    book = Book()
    book.submit(1, account=10, side=Side.sell, price=10_100, quantity=5)
    book.submit(2, account=11, side=Side.sell, price=10_000, quantity=5)
    book.submit(3, account=12, side=Side.sell, price=10_000, quantity=5)
    outcome = book.submit(4, account=20, side=Side.buy, price=10_100, quantity=12)
    assert [(t.sell_order_id, t.price, t.quantity) for t in outcome.trades] == [
        (2, 10_000, 5),
        (3, 10_000, 5),
        (1, 10_100, 2),
    ]
    assert book.depth(Side.sell) == [(10_100, 3, 1)] and outcome.rested == 0


def test_an_order_that_would_trade_with_its_own_account_has_its_rest_cancelled():
    book = Book()
    book.submit(1, account=10, side=Side.sell, price=10_000, quantity=5)
    book.submit(2, account=20, side=Side.sell, price=10_000, quantity=5)
    outcome = book.submit(3, account=20, side=Side.buy, price=10_000, quantity=8)
    assert [(t.sell_order_id, t.quantity) for t in outcome.trades] == [(1, 5)]
    assert (outcome.self_trade, outcome.cancelled, outcome.rested) == (True, 3, 0)
    assert book.depth(Side.sell) == [(10_000, 5, 1)]  # the own account's order is untouched


def test_immediate_or_cancel_never_rests_and_a_cancelled_order_never_trades():
    book = Book()
    book.submit(1, account=10, side=Side.sell, price=10_000, quantity=5)
    outcome = book.submit(2, 20, Side.buy, 10_000, 8, TimeInForce.ioc)
    assert (sum(t.quantity for t in outcome.trades), outcome.cancelled) == (5, 3)
    assert book.depth(Side.buy) == []
    book.submit(3, account=10, side=Side.sell, price=9_900, quantity=5)
    assert book.cancel(3) == 5 and book.cancel(3) == 0
    assert book.submit(4, 20, Side.buy, 10_000, 5).trades == []


ORDERS = """seq,action,order_id,account,side,price,quantity
1,new,101,7,sell,10000,10
2,new,102,8,sell,9900,4
3,new,103,9,buy,10000,6
4,cancel,101,,,,
5,new,104,9,buy,10000,5
"""


def test_a_replayed_log_gives_the_same_trades_byte_for_byte_every_time():
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        write_trades(replay(read_log(io.StringIO(ORDERS))), out)
        outputs.append(out.getvalue())
    assert (
        outputs[0]
        == outputs[1]
        == (
            "trade_seq,buy_order_id,sell_order_id,price,quantity\n"
            "1,103,102,9900,4\n"
            "2,103,101,10000,2\n"
        )
    )


def test_rows_run_in_seq_order_whatever_order_the_file_has():
    lines = ORDERS.splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"
    out = io.StringIO()
    write_trades(replay(read_log(io.StringIO(shuffled))), out)
    assert out.getvalue().count("\n") == 3


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("6,new,105,9,hold,10000,5", "side must be buy or sell"),
        ("6,new,105,9,buy,ten,5", "whole numbers"),
        ("6,new,105,9,buy,10000,0", "must be positive"),
        ("6,amend,105,9,buy,10000,5", "action must be new or cancel"),
        ("6,new,105", "7 fields expected"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line(row, words):
    with pytest.raises(BadLog, match=words) as refused:
        read_log(io.StringIO(ORDERS + row + "\n"))
    assert "line 7" in str(refused.value)


def test_flask_exchange_replay_writes_the_trades_file(app, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS, encoding="utf-8")
    trades = tmp_path / "trades.csv"
    result = app.test_cli_runner().invoke(
        args=["exchange", "replay", str(orders), "--out", str(trades)]
    )
    assert result.exit_code == 0, result.output
    assert trades.read_text(encoding="utf-8").splitlines()[1:] == [
        "1,103,102,9900,4",
        "2,103,101,10000,2",
    ]
    broken = tmp_path / "broken.csv"
    broken.write_text(ORDERS + "6,new,105,9,hold,10000,5\n", encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["exchange", "replay", str(broken)])
    assert refused.exit_code == 1 and "line 7" in refused.output

"""The matching core: a limit order book with price-time priority, pure and deterministic.

No clock, no I/O, no database: the same orders in the same order always give the same trades and the same
book, so the live service and `flask exchange replay` share it, and an audit replays a day exactly. The
service around it serialises each instrument and applies what the core does not know (price bands, sessions,
funds, receipts).

Rules: an incoming order trades with the best resting orders of the other side while prices cross, oldest
first at each price, at the resting order's price. A good-till-cancelled remainder rests; an
immediate-or-cancel remainder is cancelled. Self-trade prevention: when the next resting order to trade with
belongs to the incoming order's own account, the incoming order's remaining quantity is cancelled (what it
already traded stands) and the resting order stays.

Speed: each side keeps a dict of price levels (a deque of orders each) and a heap of its prices, best first.
Cancelled orders are left where they are and skipped when reached; emptied levels are dropped from the dict
and their stale heap entries popped when they come to the top.
"""

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from heapq import heappop, heappush
from typing import NamedTuple


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class TimeInForce(StrEnum):
    gtc = "gtc"  # good till cancelled: what does not trade rests on the book
    ioc = "ioc"  # immediate or cancel: what does not trade at once is cancelled


class Trade(NamedTuple):
    buy_order_id: int
    sell_order_id: int
    price: int
    quantity: int
    aggressor: Side  # the side of the incoming order


@dataclass(slots=True)
class Resting:
    order_id: int
    account: int
    side: Side
    price: int
    quantity: int  # still open; 0 once cancelled or filled


class Outcome(NamedTuple):
    trades: list[Trade]
    rested: int  # quantity left on the book
    cancelled: int  # quantity cancelled (immediate-or-cancel remainder, or self-trade prevention)
    self_trade: (
        bool  # the remainder was cancelled because it would have traded with its own account
    )


class _Side:
    """One side of the book: levels by price, and a heap of prices best first."""

    __slots__ = ("heap", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign  # +1 for asks (lowest first), -1 for bids (highest first)
        self.levels: dict[int, deque[Resting]] = {}
        self.heap: list[int] = []

    def best(self) -> deque[Resting] | None:
        """The best price level that still holds an open order (stale entries are dropped on the way)."""
        heap, levels = self.heap, self.levels
        while heap:
            level = levels.get(heap[0] * self.sign)
            if level is not None:
                while level and level[0].quantity == 0:
                    level.popleft()
                if level:
                    return level
                del levels[heap[0] * self.sign]
            heappop(heap)
        return None

    def add(self, order: Resting) -> None:
        level = self.levels.get(order.price)
        if level is None:
            self.levels[order.price] = level = deque()
            heappush(self.heap, order.price * self.sign)
        level.append(order)


class Book:
    """One instrument's order book."""

    def __init__(self) -> None:
        self.bids = _Side(-1)
        self.asks = _Side(+1)
        self.orders: dict[int, Resting] = {}  # open orders by id

    def submit(
        self,
        order_id: int,
        account: int,
        side: Side,
        price: int,
        quantity: int,
        time_in_force: TimeInForce = TimeInForce.gtc,
    ) -> Outcome:
        """Match an incoming limit order, then rest or cancel what is left of it."""
        if order_id in self.orders:
            raise ValueError(f"order {order_id} is already on the book")
        if quantity <= 0 or price <= 0:
            raise ValueError("price and quantity must be positive")
        buying = side == Side.buy
        other = self.asks if buying else self.bids
        trades: list[Trade] = []
        left = quantity
        while left:
            level = other.best()
            if level is None:
                break
            resting = level[0]
            if (resting.price > price) if buying else (resting.price < price):
                break
            if resting.account == account:
                return Outcome(trades, 0, left, True)
            traded = min(left, resting.quantity)
            left -= traded
            resting.quantity -= traded
            if not resting.quantity:
                level.popleft()
                del self.orders[resting.order_id]
            if buying:
                trades.append(Trade(order_id, resting.order_id, resting.price, traded, side))
            else:
                trades.append(Trade(resting.order_id, order_id, resting.price, traded, side))
        if not left or time_in_force == TimeInForce.ioc:
            return Outcome(trades, 0, left, False)
        resting = Resting(order_id, account, side, price, left)
        self.orders[order_id] = resting
        (self.bids if buying else self.asks).add(resting)
        return Outcome(trades, left, 0, False)

    def cancel(self, order_id: int) -> int:
        """Take an open order off the book: the quantity it still had (0 if it was not open)."""
        resting = self.orders.pop(order_id, None)
        if resting is None:
            return 0
        left, resting.quantity = resting.quantity, 0
        return left

    def depth(self, side: Side, levels: int = 10) -> list[tuple[int, int, int]]:
        """(price, open quantity, orders) of the best `levels` price levels of one side."""
        book = self.bids if side == Side.buy else self.asks
        prices = sorted(book.levels, reverse=side == Side.buy)
        found = []
        for price in prices:
            open_orders = [order for order in book.levels[price] if order.quantity]
            if open_orders:
                found.append(
                    (price, sum(order.quantity for order in open_orders), len(open_orders))
                )
                if len(found) == levels:
                    break
        return found

    def resting(self) -> list[Resting]:
        """Every open order, bids best first then asks best first, oldest first at each price."""
        found = []
        for book, best_first in ((self.bids, True), (self.asks, False)):
            for price in sorted(book.levels, reverse=best_first):
                found += [order for order in book.levels[price] if order.quantity]
        return found

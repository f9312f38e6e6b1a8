"""The surveillance rules, evaluated event by event over windows kept in memory.

`Watcher.feed(event)` takes one exchange event (a trade, an order placed or cancelled, an auction bid, a
tender closed) and returns what looks wrong now, as Findings. A Finding's dedupe key names the thing it is
about (a pair of trades, a member's window, an instrument's day), so feeding the same events again, after a
restart or for a backfill, finds the same keys and raises nothing twice. Thresholds are a supervisor's
setting; DEFAULTS are where they start.
"""

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from app.db import LOCAL_TIME
from app.surveillance.models import Severity

DEFAULTS: dict[str, dict[str, float]] = {
    "self_trade": {"attempts": 1, "window_minutes": 60},
    "wash_trade": {"window_minutes": 10},  # A sells to B, then B the same kg back to A
    "related_trade": {},
    "spoofing": {"window_minutes": 10, "min_orders": 20, "order_to_trade": 10},
    "rapid_cancel": {"window_minutes": 10, "within_seconds": 5, "cancels": 10},
    "price_move": {"window_minutes": 30, "percent": 5},
    "volume_spike": {"times_average": 5, "days": 20, "min_days": 5},
    "shill_bidding": {},
    "bid_rotation": {"tenders": 6, "min_tenders": 4, "max_bidders": 4},
    "concentration": {"percent": 50, "min_kg": 500},
}
RULES = tuple(DEFAULTS)
SEVERITY = {
    "self_trade": Severity.low,
    "wash_trade": Severity.high,
    "related_trade": Severity.medium,
    "spoofing": Severity.medium,
    "rapid_cancel": Severity.medium,
    "price_move": Severity.medium,
    "volume_spike": Severity.low,
    "shill_bidding": Severity.high,
    "bid_rotation": Severity.high,
    "concentration": Severity.medium,
}


@dataclass(frozen=True)
class Finding:
    rule: str
    key: str
    instrument_id: int | None
    member_ids: tuple[int, ...]
    facts: dict[str, Any]
    evidence: dict[str, list[int]]

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.rule]


@dataclass(frozen=True)
class Seen:
    """An event as the rules read it."""

    id: int
    kind: str
    at: datetime
    organisation_id: int | None
    subject: str | None
    payload: dict[str, Any]

    @property
    def instrument_id(self) -> int:
        """The instrument an order or trade event is about (its subject is "instrument:<id>")."""
        return int((self.subject or "instrument:0").rsplit(":", 1)[1])


@dataclass
class _Trade:
    id: int
    at: datetime
    buyer: int
    seller: int
    price: int
    kg: int


@dataclass
class _Market:
    """One instrument's recent trades and today's volume, overall and by member."""

    trades: deque = field(default_factory=deque)
    day: date | None = None
    kg_today: int = 0
    kg_by_member: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _Member:
    """One member's recent orders, cancels and trades on one instrument."""

    orders: deque = field(default_factory=deque)  # (at, order_id)
    cancels: deque = field(default_factory=deque)  # (at, order_id, rapid)
    trades: deque = field(default_factory=deque)  # at
    self_trades: deque = field(default_factory=deque)  # (at, order_id)


class Watcher:
    """The rules' memory of the recent market, fed one event at a time."""

    def __init__(
        self,
        thresholds: dict[str, dict[str, float]],
        *,
        related: Callable[[int, int], bool],
        average_kg: Callable[[int, date], tuple[float, int]],
        tender_history: Callable[[dict], list[dict]],
    ) -> None:
        self.limits = {rule: {**DEFAULTS[rule], **thresholds.get(rule, {})} for rule in DEFAULTS}
        self.related = (
            related  # are two organisations related (same owner, representative, phone, address)?
        )
        self.average_kg = (
            average_kg  # an instrument's average daily kg before a day, over how many days
        )
        self.tender_history = (
            tender_history  # the recent awarded tenders like this one, with their bids
        )
        self.markets: dict[int, _Market] = defaultdict(_Market)
        self.members: dict[tuple[int, int], _Member] = defaultdict(_Member)
        self.placed: dict[int, datetime] = {}  # order id -> when it was placed (for rapid cancels)
        self.placed_order: deque = deque()  # (when, order id), to forget orders too old to matter

    def feed(self, event: Seen) -> list[Finding]:
        handler = {
            "exchange.trade": self._trade,
            "exchange.order_placed": self._placed,
            "exchange.order_cancelled": self._cancelled,
            "exchange.bid": self._bid,
            "exchange.tender_closed": self._tender_closed,
        }.get(event.kind)
        return handler(event) if handler else []

    # --- trades ----------------------------------------------------------------------------------------

    def _trade(self, event: Seen) -> list[Finding]:
        p = event.payload
        instrument = event.instrument_id
        trade = _Trade(
            p["trade_id"], event.at, p["buyer_id"], p["seller_id"], p["price_fen"], p["kg"]
        )
        market = self.markets[instrument]
        self._roll_day(market, event.at)
        keep = max(
            self.limits["wash_trade"]["window_minutes"], self.limits["price_move"]["window_minutes"]
        )
        _drop_older(market.trades, event.at - timedelta(minutes=keep), key=lambda t: t.at)
        found = [
            *self._wash(instrument, market, trade),
            *self._related(instrument, trade),
            *self._price_move(instrument, market, trade),
        ]
        market.trades.append(trade)
        market.kg_today += trade.kg
        for member in (trade.buyer, trade.seller):
            market.kg_by_member[member] += trade.kg
            trades = self.members[(member, instrument)].trades
            _drop_older(trades, event.at - self._longest_member_window(), key=lambda at: at)
            trades.append(event.at)
        found += self._volume(instrument, market, trade)
        found += self._concentration(instrument, market, trade)
        return found

    def _wash(self, instrument: int, market: _Market, trade: _Trade) -> list[Finding]:
        since = trade.at - timedelta(minutes=self.limits["wash_trade"]["window_minutes"])
        for earlier in reversed(market.trades):
            if earlier.at < since:
                break
            if (earlier.buyer, earlier.seller) == (
                trade.seller,
                trade.buyer,
            ) and earlier.kg == trade.kg:
                return [
                    Finding(
                        "wash_trade",
                        f"wash_trade:{earlier.id}:{trade.id}",
                        instrument,
                        tuple(sorted({trade.buyer, trade.seller})),
                        {"minutes": round((trade.at - earlier.at).total_seconds() / 60, 1)},
                        {"trades": [earlier.id, trade.id]},
                    )
                ]
        return []

    def _related(self, instrument: int, trade: _Trade) -> list[Finding]:
        if trade.buyer == trade.seller or not self.related(trade.buyer, trade.seller):
            return []
        return [
            Finding(
                "related_trade",
                f"related_trade:{trade.id}",
                instrument,
                tuple(sorted({trade.buyer, trade.seller})),
                {},
                {"trades": [trade.id]},
            )
        ]

    def _price_move(self, instrument: int, market: _Market, trade: _Trade) -> list[Finding]:
        limits = self.limits["price_move"]
        since = trade.at - timedelta(minutes=limits["window_minutes"])
        first = next((t for t in market.trades if t.at >= since), None)
        if first is None:
            return []
        move = (trade.price - first.price) * 100 / first.price
        if abs(move) < limits["percent"]:
            return []
        bucket = int(trade.at.timestamp() // (limits["window_minutes"] * 60))
        return [
            Finding(
                "price_move",
                f"price_move:{instrument}:{bucket}",
                instrument,
                (),
                {"percent": round(move, 2), "from_fen": first.price, "to_fen": trade.price},
                {"trades": [first.id, trade.id]},
            )
        ]

    def _volume(self, instrument: int, market: _Market, trade: _Trade) -> list[Finding]:
        limits = self.limits["volume_spike"]
        average, days = self.average_kg(instrument, market.day)
        if (
            days < limits["min_days"]
            or average <= 0
            or market.kg_today <= limits["times_average"] * average
        ):
            return []
        return [
            Finding(
                "volume_spike",
                f"volume_spike:{instrument}:{market.day.isoformat()}",
                instrument,
                (),
                {"kg": market.kg_today, "average_kg": round(average, 1), "days": days},
                {"trades": [trade.id]},
            )
        ]

    def _concentration(self, instrument: int, market: _Market, trade: _Trade) -> list[Finding]:
        limits = self.limits["concentration"]
        if market.kg_today < limits["min_kg"]:
            return []
        found = []
        for member in {trade.buyer, trade.seller}:
            # Each trade has two sides: a member's share is of both sides of the day's volume.
            share = market.kg_by_member[member] * 100 / (2 * market.kg_today)
            if share >= limits["percent"]:
                found.append(
                    Finding(
                        "concentration",
                        f"concentration:{member}:{instrument}:{market.day.isoformat()}",
                        instrument,
                        (member,),
                        {
                            "percent": round(share, 1),
                            "kg": market.kg_by_member[member],
                            "of_kg": market.kg_today,
                        },
                        {"trades": [trade.id]},
                    )
                )
        return found

    def _roll_day(self, market: _Market, at: datetime) -> None:
        day = at.astimezone(LOCAL_TIME).date()
        if market.day != day:
            market.day, market.kg_today = day, 0
            market.kg_by_member = defaultdict(int)

    # --- orders ----------------------------------------------------------------------------------------

    def _placed(self, event: Seen) -> list[Finding]:
        p = event.payload
        instrument, member = event.instrument_id, event.organisation_id
        self._remember_placed(p["order_id"], event.at)
        state = self.members[(member, instrument)]
        _drop_older(
            state.orders, event.at - self._longest_member_window(), key=lambda item: item[0]
        )
        state.orders.append((event.at, p["order_id"]))
        if not p.get("self_trade"):
            return []
        limits = self.limits["self_trade"]
        window = timedelta(minutes=limits["window_minutes"])
        _drop_older(state.self_trades, event.at - window, key=lambda item: item[0])
        state.self_trades.append((event.at, p["order_id"]))
        if len(state.self_trades) < limits["attempts"]:
            return []
        bucket = int(event.at.timestamp() // window.total_seconds())
        return [
            Finding(
                "self_trade",
                f"self_trade:{member}:{instrument}:{bucket}",
                instrument,
                (member,),
                {"attempts": len(state.self_trades)},
                {"orders": [order_id for _at, order_id in state.self_trades]},
            )
        ]

    def _remember_placed(self, order_id: int, at: datetime) -> None:
        self.placed[order_id] = at
        self.placed_order.append((at, order_id))
        forget = at - timedelta(seconds=self.limits["rapid_cancel"]["within_seconds"] + 60)
        while self.placed_order and self.placed_order[0][0] < forget:
            self.placed.pop(self.placed_order.popleft()[1], None)

    def _longest_member_window(self) -> timedelta:
        minutes = max(
            self.limits[rule]["window_minutes"]
            for rule in ("spoofing", "rapid_cancel", "self_trade")
        )
        return timedelta(minutes=minutes)

    def _cancelled(self, event: Seen) -> list[Finding]:
        p = event.payload
        instrument, member = event.instrument_id, event.organisation_id
        state = self.members[(member, instrument)]
        placed = self.placed.pop(p["order_id"], None)
        rapid = (
            placed is not None
            and (event.at - placed).total_seconds() <= self.limits["rapid_cancel"]["within_seconds"]
        )
        state.cancels.append((event.at, p["order_id"], rapid))
        return [
            *self._spoofing(event, instrument, member, state),
            *self._rapid(event, instrument, member, state),
        ]

    def _spoofing(self, event: Seen, instrument: int, member: int, state: _Member) -> list[Finding]:
        limits = self.limits["spoofing"]
        window = timedelta(minutes=limits["window_minutes"])
        since = event.at - window
        for queue in (state.orders, state.trades):
            _drop_older(queue, since, key=lambda item: item[0] if isinstance(item, tuple) else item)
        orders, trades = len(state.orders), len(state.trades)
        if orders < limits["min_orders"] or orders / max(1, trades) < limits["order_to_trade"]:
            return []
        bucket = int(event.at.timestamp() // window.total_seconds())
        return [
            Finding(
                "spoofing",
                f"spoofing:{member}:{instrument}:{bucket}",
                instrument,
                (member,),
                {"orders": orders, "trades": trades, "ratio": round(orders / max(1, trades), 1)},
                {"orders": [order_id for _at, order_id in list(state.orders)[-50:]]},
            )
        ]

    def _rapid(self, event: Seen, instrument: int, member: int, state: _Member) -> list[Finding]:
        limits = self.limits["rapid_cancel"]
        window = timedelta(minutes=limits["window_minutes"])
        _drop_older(state.cancels, event.at - window, key=lambda item: item[0])
        rapid = [order_id for _at, order_id, quick in state.cancels if quick]
        if len(rapid) < limits["cancels"]:
            return []
        bucket = int(event.at.timestamp() // window.total_seconds())
        return [
            Finding(
                "rapid_cancel",
                f"rapid_cancel:{member}:{instrument}:{bucket}",
                instrument,
                (member,),
                {"cancels": len(rapid), "seconds": limits["within_seconds"]},
                {"orders": rapid[-50:]},
            )
        ]

    # --- auctions and tenders --------------------------------------------------------------------------

    def _bid(self, event: Seen) -> list[Finding]:
        p = event.payload
        seller, bidder = event.organisation_id, p.get("bidder_id")
        if bidder is None or not self.related(seller, bidder):
            return []
        return [
            Finding(
                "shill_bidding",
                f"shill_bidding:{p['auction_id']}:{bidder}",
                None,
                (seller, bidder),
                {"auction_id": p["auction_id"], "price_fen": p.get("price_fen")},
                {"bids": [p["bid_id"]], "auctions": [p["auction_id"]]},
            )
        ]

    def _tender_closed(self, event: Seen) -> list[Finding]:
        p = event.payload
        if p.get("status") != "awarded":
            return []
        limits = self.limits["bid_rotation"]
        history = self.tender_history(p)[: int(limits["tenders"])]
        if len(history) < limits["min_tenders"]:
            return []
        bidders = set().union(*(set(tender["bidders"]) for tender in history))
        winners = [tender["winner"] for tender in history]
        rotating = all(a != b for a, b in pairwise(winners)) and len(set(winners)) >= 3
        if len(bidders) > limits["max_bidders"] or not rotating:
            return []
        return [
            Finding(
                "bid_rotation",
                f"bid_rotation:{p['tender_id']}",
                None,
                tuple(sorted(bidders)),
                {"tenders": len(history), "bidders": len(bidders)},
                {"tenders": [tender["id"] for tender in history]},
            )
        ]


def _drop_older(queue: deque, since: datetime, *, key) -> None:
    while queue and key(queue[0]) < since:
        queue.popleft()

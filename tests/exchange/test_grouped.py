"""Exchange orders written in batches (app.exchange.grouped): a batch leaves the trades, books, money,
receipts and events that placing its orders one at a time (trading.place_order) leaves; what a rule
refuses, or a key used before, is left to place_order."""

import dataclasses
import io
import random
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from app.errors import DomainError
from app.events import Event
from app.exchange import deposits, grouped, instruments, replay, trading
from app.exchange.matching import Book, TimeInForce
from app.exchange.models import (
    ClosedDay,
    ExchangeOrder,
    Instrument,
    OrderStatus,
    Receipt,
    ReceiptMove,
    ReceiptStatus,
    Side,
    Suspension,
    SuspensionStatus,
    Trade,
)
from tests.exchange.steps import (
    AROUND_THE_CLOCK,
    cuiya,
    receipt_for,
    trader_with_deposit,
    warehouse,
)
from tests.factories import member
from tests.helpers import ledger_problems


def request(who, instrument, side, price_fen, lots, *, receipt=None, ioc=False, key=None):
    return grouped.OrderRequest(
        organisation_id=who.organisation_id,
        actor_id=who.user_id,
        symbol=instrument.symbol,
        side=Side(side),
        price_fen=price_fen,
        lots=lots,
        time_in_force=TimeInForce.ioc if ioc else TimeInForce.gtc,
        receipt_id=receipt.id if receipt else None,
        key=key,
    )


def alone(session, wanted: grouped.OrderRequest) -> trading.Placed:
    """The request placed on its own by place_order, at the real time as a batch places it."""
    asked = dataclasses.asdict(wanted)
    return trading.place_order(session, idempotency_key=asked.pop("key"), **asked)


# --- one at a time and in one batch give the same market ---------------------------------------------

# (trader, side, price, lots, ioc) resting on both books before the run; none of them cross.
RESTING = [
    (0, "sell", 80_050, 1, False),
    (1, "sell", 80_050, 1, False),
    (3, "sell", 80_080, 1, False),
    (1, "sell", 80_090, 1, False),
    (0, "sell", 80_100, 2, False),
    (2, "sell", 80_100, 1, False),
    (2, "buy", 79_950, 1, False),
    (3, "buy", 79_950, 1, False),
    (0, "buy", 79_900, 2, False),
]
# (trader, side, price, lots, ioc): buys of five lots taking five of the six resting sells, so the batch
# must read as many resting orders as it asks lots; a sell meeting its own buy; an IOC crossing nothing.
REACHING_EVERY_LOT = [
    (2, "buy", 80_100, 3, True),
    (3, "buy", 80_100, 2, False),
    (3, "sell", 79_900, 4, False),
    (0, "sell", 80_200, 1, True),
]
ORDER_STATE = ("organisation_id", "side", "price_fen", "lots", "time_in_force", "status")
ORDER_STATE += ("open_lots", "filled_lots", "reserved_fen", "seq", "cancelled_seq")
TRADE_TERMS = ("buyer_id", "seller_id", "price_fen", "lots", "value_fen", "fee_fen")


def random_orders(count: int) -> list[tuple]:
    """Traders 0-3 buying and selling 1-3 lots either side of ¥800.00 on the tick, one in four IOC."""
    rng = random.Random(20261130)
    return [
        (
            rng.randrange(4),
            rng.choice(["buy", "sell"]),
            80_000 + 10 * rng.randint(-8, 8),
            rng.randint(1, 3),
            rng.random() < 0.25,
        )
        for _ in range(count)
    ]


def requests_on(instrument, traders, receipts, steps) -> list[grouped.OrderRequest]:
    """The steps as requests on `instrument`, each sell offering its trader's receipt in `receipts`."""
    return [
        request(traders[n], instrument, side, price, lots, ioc=ioc)
        if side == "buy"
        else request(traders[n], instrument, side, price, lots, receipt=receipts[n], ioc=ioc)
        for n, side, price, lots, ioc in steps
    ]


def state(row, columns: tuple[str, ...]) -> tuple:
    return tuple(getattr(row, column) for column in columns)


def trade_of(trade: Trade, names: dict[int, str]) -> tuple:
    return (names[trade.buy_order_id], names[trade.sell_order_id], *state(trade, TRADE_TERMS))


def answer(placed: trading.Placed, names: dict[int, str]) -> tuple:
    """What the member is told: the order's state and its trades, orders named by their place in the run."""
    told = state(placed.order, ("status", "open_lots", "filled_lots", "reserved_fen"))
    return told, [trade_of(trade, names) for trade in placed.trades]


def market_of(session, instrument: Instrument, names: dict[int, str], roots: list[Receipt]) -> dict:
    """What is stored of the run on `instrument`, orders named by their place in the run, and the receipts
    descending from `roots` with their histories."""
    on_it = ExchangeOrder.instrument_id == instrument.id
    orders = session.scalars(select(ExchangeOrder).where(on_it))
    trades = session.scalars(
        select(Trade).where(Trade.instrument_id == instrument.id).order_by(Trade.id)
    )
    events = session.scalars(
        select(Event)
        .where(
            Event.subject == f"instrument:{instrument.id}",
            Event.kind != "exchange.instrument_opened",
        )
        .order_by(Event.id)
    )
    found, parents = [root.id for root in roots], [root.id for root in roots]
    while parents:
        parents = session.scalars(select(Receipt.id).where(Receipt.parent_id.in_(parents))).all()
        found += parents
    held = select(Receipt.holder_id, Receipt.net_kg, Receipt.packages, Receipt.status)
    moved = select(ReceiptMove.kind, ReceiptMove.kg, ReceiptMove.holder_id, ReceiptMove.actor_id)
    return {
        "orders": sorted((names[order.id], *state(order, ORDER_STATE)) for order in orders),
        "trades": [(*trade_of(t, names), t.settle_due_at - t.executed_at) for t in trades],
        "log": (instrument.seq, instrument.last_price_fen),
        "events": [event_of(event, names) for event in events],
        "receipts": counted(session, held.where(Receipt.id.in_(found))),
        "moves": counted(session, moved.where(ReceiptMove.receipt_id.in_(found))),
    }


def counted(session, query) -> Counter:
    return Counter(map(tuple, session.execute(query)))


def event_of(event: Event, names: dict[int, str]) -> tuple:
    """The event without what names its instrument, trade or time."""
    payload = dict(event.payload)
    for named in ("trade_id", "instrument_id", "symbol", "placed_at"):
        payload.pop(named, None)
    order = names.get(payload.pop("order_id", None))
    return event.kind, event.organisation_id, event.actor_id, order, sorted(payload.items())


def money_of(session, traders) -> list[tuple[int, int]]:
    found = (deposits.deposit_of(session, trader.organisation_id) for trader in traders)
    return [(deposit.free_fen, deposit.reserved_fen) for deposit in found]


def replayed_log(session, instrument: Instrument) -> tuple[list[tuple], list[tuple]]:
    """`flask exchange replay` on the stored order log: its trades, and the book it leaves."""
    log = io.StringIO()
    log.write(",".join(replay.INPUT_HEADER) + "\n")
    for row in trading.order_log(session, instrument.id):
        log.write(",".join(str(field) for field in row) + "\n")
    log.seek(0)
    book = Book()
    trades = [tuple(trade[:4]) for trade in replay.replay(replay.read_log(log), book)]
    return trades, sorted((order.order_id, order.quantity) for order in book.resting())


@pytest.mark.parametrize(
    ("steps", "ids_drawn"),
    [
        (random_orders(40), "enough"),
        (REACHING_EVERY_LOT, "enough"),
        (random_orders(40), "one of each"),
    ],
    ids=[
        "forty random orders",
        "buys reaching as many resting sells as they ask lots",
        "forty random orders, the ids drawn ahead running out",
    ],
)
def test_a_batch_leaves_the_market_that_placing_its_orders_one_at_a_time_leaves(
    session, monkeypatch, steps, ids_drawn
):
    if ids_drawn == "one of each":  # the batch draws more as it goes, still in the log's order
        tables = grouped._most_ids([], reached=0)
        monkeypatch.setattr(grouped, "_most_ids", lambda *_, **__: dict.fromkeys(tables, 1))
    one_by_one, batched = (cuiya(session, symbol=s, **AROUND_THE_CLOCK) for s in ("TEA-A", "TEA-B"))
    traders = [trader_with_deposit(session, fen=50_000_000) for _ in range(4)]
    store, officer = warehouse(), member(kind=OrgKind.exchange, role=Role.officer)
    holiday = local_date(utcnow()) + timedelta(days=2)  # T+N counts past it
    instruments.close_day(session, actor_id=officer.user_id, day=holiday, name="国庆节")
    held, names = {}, {}
    for tea in (one_by_one, batched):  # the same traders, each with a receipt for each book
        held[tea] = [receipt_for(session, tea, trader, kg=500, store=store) for trader in traders]
        names[tea] = {
            alone(session, wanted).order.id: f"resting {n}"
            for n, wanted in enumerate(requests_on(tea, traders, held[tea], RESTING))
        }
    money = [money_of(session, traders)]

    told_alone = []
    for n, wanted in enumerate(requests_on(one_by_one, traders, held[one_by_one], steps)):
        placed = alone(session, wanted)
        names[one_by_one][placed.order.id] = f"order {n}"
        told_alone.append(answer(placed, names[one_by_one]))
    money.append(money_of(session, traders))
    placed = grouped.place_orders(session, requests_on(batched, traders, held[batched], steps))
    money.append(money_of(session, traders))

    assert None not in placed
    names[batched] |= {p.order.id: f"order {n}" for n, p in enumerate(placed)}
    assert [answer(p, names[batched]) for p in placed] == told_alone
    session.flush()  # the lone orders' last changes, before what the batch wrote is read afresh
    session.expire_all()
    stored = market_of(session, one_by_one, names[one_by_one], held[one_by_one])
    assert market_of(session, batched, names[batched], held[batched]) == stored
    # Each trader's deposit, free and reserved, moved by as much in the batch as one at a time.
    alone_moved, batch_moved = (
        [(f - e, r - s) for (e, s), (f, r) in zip(before, after, strict=True)]
        for before, after in pairwise(money)
    )
    assert batch_moved == alone_moved
    # The run shows what matters: trades, IOC rests cancelled (a cancel in the log) and orders cancelled
    # as they met their own (none).
    on_it = ExchangeOrder.instrument_id == batched.id
    cancelled = ExchangeOrder.status == OrderStatus.cancelled
    cancels = set(session.scalars(select(ExchangeOrder.cancelled_seq).where(on_it, cancelled)))
    assert stored["trades"] and None in cancels and cancels - {None}
    # The batch's stored order log replays to exactly its stored trades, and to its book.
    trades = session.scalars(
        select(Trade).where(Trade.instrument_id == batched.id).order_by(Trade.id)
    )
    resting = session.scalars(select(ExchangeOrder).where(on_it, ExchangeOrder.status == "open"))
    assert replayed_log(session, batched) == (
        [(t.buy_order_id, t.sell_order_id, t.price_fen, t.lots) for t in trades],
        sorted((order.id, order.open_lots) for order in resting),
    )
    assert ledger_problems(session) == []


# --- what a batch leaves to place_order --------------------------------------------------------------


@pytest.fixture
def market(session) -> SimpleNamespace:
    """Cuiya in session and a halted instrument; a funded buyer, a seller with 100 kg, and a poor member
    with ¥1,000 in its deposit and a receipt for 10 kg."""
    tea = cuiya(session, **AROUND_THE_CLOCK)
    halted = cuiya(session, symbol="CUIYA-H", **AROUND_THE_CLOCK)
    officer = member(kind=OrgKind.exchange, role=Role.officer)
    instruments.set_halt(
        session, actor_id=officer.user_id, symbol=halted.symbol, halted=True, reason="审查"
    )
    buyer, seller, poor = (trader_with_deposit(session, fen) for fen in (10_000_000, 1, 100_000))
    return SimpleNamespace(
        tea=tea,
        halted=halted,
        buyer=buyer,
        seller=seller,
        seller_receipt=receipt_for(session, tea, seller, kg=100),
        poor=poor,
        poor_receipt=receipt_for(session, tea, poor, kg=10),
    )


# What the poor member asks: (on, side, price, lots, the receipt it names).
REFUSED = {
    "an unfunded buy": ("tea", "buy", 80_000, 1, None),
    "a sell of another member's receipt": ("tea", "sell", 80_000, 1, "seller_receipt"),
    "a price off the tick": ("tea", "sell", 80_005, 1, "poor_receipt"),
    "a price outside the band": ("tea", "sell", 89_000, 1, "poor_receipt"),
    "a halted instrument": ("halted", "sell", 80_000, 1, "poor_receipt"),
    "a sell naming no receipt": ("tea", "sell", 80_000, 1, None),
    "more than the receipt holds": ("tea", "sell", 80_000, 3, "poor_receipt"),
}


@pytest.mark.parametrize("refused", REFUSED.values(), ids=REFUSED.keys())
def test_a_request_a_rule_refuses_is_left_out_and_the_others_are_placed(session, market, refused):
    m = market
    on, side, price, lots, receipt = refused
    before = deposits.deposit_of(session, m.poor.organisation_id)
    batch = [
        request(m.buyer, m.tea, "buy", 79_000, 2),
        request(m.poor, getattr(m, on), side, price, lots, receipt=receipt and getattr(m, receipt)),
        request(m.seller, m.tea, "sell", 81_000, 2, receipt=m.seller_receipt),
    ]

    placed = grouped.place_orders(session, batch)

    assert placed[1] is None
    assert [state(p.order, ("status", "open_lots")) for p in placed if p] == [("open", 2)] * 2
    session.expire_all()
    # Nothing of the refused request: no order, no place in a log, no money or tea set aside.
    orders = session.execute(select(ExchangeOrder.organisation_id, ExchangeOrder.seq)).all()
    assert sorted(orders) == sorted([(m.buyer.organisation_id, 1), (m.seller.organisation_id, 2)])
    assert (m.tea.seq, m.halted.seq) == (2, 0)
    assert deposits.deposit_of(session, m.poor.organisation_id) == before
    offered = session.execute(
        select(Receipt.holder_id, Receipt.net_kg).where(Receipt.status == ReceiptStatus.offered)
    ).all()
    assert offered == [(m.seller.organisation_id, 10)]
    assert (m.poor_receipt.net_kg, m.poor_receipt.status) == (10, ReceiptStatus.held)
    assert ledger_problems(session) == []
    with pytest.raises(DomainError):  # place_order refuses it, with the reason
        alone(session, batch[1])


def test_a_key_used_before_or_earlier_in_the_batch_is_left_to_place_order(session, market):
    m = market
    [first] = grouped.place_orders(session, [request(m.buyer, m.tea, "buy", 79_000, 1, key="a")])

    placed = grouped.place_orders(
        session,
        [
            request(m.buyer, m.tea, "buy", 79_100, 1, key="b"),
            request(m.buyer, m.tea, "buy", 79_200, 1, key="b"),  # a retry of the one before
            request(m.buyer, m.tea, "buy", 79_300, 1, key="a"),  # a retry of the first batch's
            request(m.poor, m.tea, "sell", 81_000, 1, receipt=m.poor_receipt, key="b"),
        ],
    )

    assert [p is not None for p in placed] == [True, False, False, True]
    session.expire_all()
    prices = session.scalars(select(ExchangeOrder.price_fen).order_by(ExchangeOrder.seq)).all()
    assert prices == [79_000, 79_100, 81_000]
    reserved = deposits.deposit_of(session, m.buyer.organisation_id).reserved_fen
    assert reserved == (79_000 + 79_100) * 5  # each placed order's money set aside once
    # place_order answers each retry with the order its key placed, and places nothing more.
    retried = alone(session, request(m.buyer, m.tea, "buy", 79_200, 1, key="b"))
    assert retried.replayed and retried.order.id == placed[0].order.id
    retried = alone(session, request(m.buyer, m.tea, "buy", 79_300, 1, key="a"))
    assert retried.replayed and retried.order.id == first.order.id
    assert session.scalar(select(func.count(ExchangeOrder.id))) == 3


def test_an_ioc_buy_that_trades_nothing_leaves_the_buyers_deposit_as_it_was(session, market):
    m = market
    before = deposits.deposit_of(session, m.buyer.organisation_id)

    [placed] = grouped.place_orders(session, [request(m.buyer, m.tea, "buy", 80_000, 2, ioc=True)])

    # Its money was set aside and freed again in the one batch: the ledger's moves cancel out.
    assert placed.trades == []
    assert state(placed.order, ("status", "open_lots", "reserved_fen")) == ("cancelled", 0, 0)
    session.expire_all()
    stored = session.get(ExchangeOrder, placed.order.id)
    assert state(stored, ("status", "seq", "cancelled_seq")) == (OrderStatus.cancelled, 1, 2)
    assert deposits.deposit_of(session, m.buyer.organisation_id) == before
    assert ledger_problems(session) == []


def test_a_suspended_member_and_a_closed_day_are_left_to_place_order(session, market):
    m = market
    officer = member(kind=OrgKind.exchange, role=Role.officer)
    session.add(
        Suspension(
            organisation_id=m.poor.organisation_id,
            reason="操纵价格",
            status=SuspensionStatus.active,
            proposed_by_id=officer.user_id,
        )
    )
    session.flush()

    placed = grouped.place_orders(
        session,
        [
            request(m.poor, m.tea, "sell", 80_000, 1, receipt=m.poor_receipt),
            request(m.buyer, m.tea, "buy", 79_000, 1),
        ],
    )

    assert [p is not None for p in placed] == [False, True]
    with pytest.raises(DomainError, match="操纵价格"):  # place_order refuses it, with the reason
        alone(session, request(m.poor, m.tea, "sell", 80_000, 1, receipt=m.poor_receipt))

    # A holiday closed ahead of time has come: nothing is placed in a batch, place_order says why.
    session.add(ClosedDay(day=local_date(utcnow()), name="国庆节", created_by_id=officer.user_id))
    session.flush()
    on_holiday = request(m.buyer, m.tea, "buy", 79_100, 1)

    assert grouped.place_orders(session, [on_holiday]) == [None]
    with pytest.raises(DomainError, match="国庆节"):
        alone(session, on_holiday)
    assert session.scalar(select(func.count(ExchangeOrder.id))) == 1

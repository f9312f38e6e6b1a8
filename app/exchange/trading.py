"""Continuous matching (撮合): limit orders on an instrument's book, for instruments that enable it.

The service checks what the matching core does not know (the mode, a halt, the session, the tick, the price
band and daily limit, the member's money or receipt), then takes the instrument's next order-log number,
which locks the instrument's row until commit: every order and cancel of one instrument runs one at a time,
whichever process or host serves it, so the book in the database is one consistent book. Under that lock it
reads the resting orders the new one could trade with (at most one per lot it asks for, best first), runs
them through the pure core (app/exchange/matching.py), and writes what the core decided: the trades (each
settled into escrow, with the receipt moving to the buyer), the resting orders' fills, and the new order's
rest. Every order and cancel keeps its place in the order log (`seq`, `cancelled_seq`), so
`flask exchange replay` on the log gives exactly the trades stored here.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from app import events
from app.db import utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange import deposits, instruments, members, receipts, settlement
from app.exchange.matching import Book, Outcome, TimeInForce
from app.exchange.matching import Side as CoreSide
from app.exchange.models import (
    ExchangeOrder,
    Instrument,
    OrderStatus,
    Receipt,
    Side,
    Trade,
    TradingMode,
)
from app.payments import ledger


@dataclass(frozen=True)
class Placed:
    order: ExchangeOrder
    trades: list[Trade]
    replayed: bool = False  # True: the idempotency key was used before; this is the first result


def place_order(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    symbol: str,
    side: Side,
    price_fen: int,
    lots: int,
    time_in_force: TimeInForce = TimeInForce.gtc,
    receipt_id: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Placed:
    """Place a limit order: it trades at once with what it crosses, and the rest rests (or is cancelled)."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    instrument = instruments.instrument_by_symbol(session, symbol)
    _check(instrument, side, price_fen, lots, receipt_id, now)
    seq, instrument = instruments.lock(session, instrument.id)
    if idempotency_key:
        earlier = _earlier(session, organisation_id, idempotency_key)
        if earlier is not None:
            return earlier
    _check(
        instrument, side, price_fen, lots, receipt_id, now
    )  # again, under the lock: a halt may be new
    order = ExchangeOrder(
        instrument_id=instrument.id,
        organisation_id=organisation_id,
        placed_by_id=actor_id,
        side=side,
        price_fen=price_fen,
        lots=lots,
        open_lots=lots,
        time_in_force=time_in_force.value,
        seq=seq,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    _back(session, order, instrument, receipt_id, actor_id=actor_id, now=now)
    session.add(order)
    session.flush()  # the core and the trades need the order's id
    outcome = _match(session, order, instrument)
    trades = _apply(session, order, instrument, outcome, now)
    _rest(session, order, instrument, outcome, now)
    _record(session, "exchange.order_placed", order, instrument, now, self_trade=outcome.self_trade)
    return Placed(order, trades)


def _check(instrument, side, price_fen, lots, receipt_id, now) -> None:
    instruments.check_open(instrument, TradingMode.matching, now)
    instruments.check_lots(instrument, lots)
    instruments.check_price(instrument, price_fen)
    if side == Side.sell and receipt_id is None:
        raise RuleViolation(
            _("A sell order names the warehouse receipt it sells."), field="receipt_id"
        )


def _earlier(session: Session, organisation_id: int, key: str) -> Placed | None:
    order = session.scalar(
        select(ExchangeOrder).where(
            ExchangeOrder.organisation_id == organisation_id,
            ExchangeOrder.idempotency_key == key,
        )
    )
    if order is None:
        return None
    trades = session.scalars(
        select(Trade)
        .where((Trade.buy_order_id == order.id) | (Trade.sell_order_id == order.id))
        .order_by(Trade.id)
    ).all()
    return Placed(order, list(trades), replayed=True)


def _back(session, order, instrument, receipt_id, *, actor_id, now) -> None:
    """A buy's money is set aside from the deposit; a sell's receipt is offered."""
    kg = order.lots * instrument.lot_kg
    if order.side == Side.buy:
        order.reserved_fen = order.price_fen * kg
        deposits.reserve(
            session,
            order.organisation_id,
            order.reserved_fen,
            key=f"exchange-order:{instrument.id}:{order.seq}:reserve",
        )
    else:
        offered = receipts.offer_receipt(
            session,
            holder_id=order.organisation_id,
            receipt_id=receipt_id,
            instrument=instrument,
            kg=kg,
            actor_id=actor_id,
            now=now,
        )
        order.receipt_id = offered.id


def _match(session: Session, order: ExchangeOrder, instrument: Instrument) -> Outcome:
    """Run the order through the core against the resting orders it could trade with."""
    book = Book()
    other = Side.sell if order.side == Side.buy else Side.buy
    for resting in _crossing(session, order, instrument.id, other):
        book.submit(
            resting.id,
            resting.organisation_id,
            CoreSide(other),
            resting.price_fen,
            resting.open_lots,
        )
    return book.submit(
        order.id,
        order.organisation_id,
        CoreSide(order.side),
        order.price_fen,
        order.lots,
        TimeInForce(order.time_in_force),
    )


def _crossing(session: Session, order: ExchangeOrder, instrument_id: int, other: Side):
    """Open orders of the other side at prices the order accepts, best first and oldest first: each trade
    takes at least a lot, so no more than one per lot asked can be reached."""
    buying = order.side == Side.buy
    price = ExchangeOrder.price_fen
    return session.execute(
        select(ExchangeOrder.id, ExchangeOrder.organisation_id, price, ExchangeOrder.open_lots)
        .where(
            ExchangeOrder.instrument_id == instrument_id,
            ExchangeOrder.side == other,
            ExchangeOrder.status == OrderStatus.open,
            price <= order.price_fen if buying else price >= order.price_fen,
        )
        .order_by(price if buying else price.desc(), ExchangeOrder.seq)
        .limit(order.lots)
    ).all()


def _apply(session, order, instrument, outcome: Outcome, now: datetime) -> list[Trade]:
    """Write the core's trades: fills of the resting orders, and each trade settled into escrow."""
    if not outcome.trades:
        return []
    buying = order.side == Side.buy
    resting_ids = [
        trade.sell_order_id if buying else trade.buy_order_id for trade in outcome.trades
    ]
    resting = {
        found.id: found
        for found in session.scalars(select(ExchangeOrder).where(ExchangeOrder.id.in_(resting_ids)))
    }
    trades = []
    for fill in outcome.trades:
        buy = order if buying else resting[fill.buy_order_id]
        sell = resting[fill.sell_order_id] if buying else order
        trades.append(
            settlement.execute_trade(
                session,
                instrument=instrument,
                mode=TradingMode.matching,
                buyer_id=buy.organisation_id,
                seller_id=sell.organisation_id,
                offered=session.get(Receipt, sell.receipt_id),
                price_fen=fill.price,
                lots=fill.quantity,
                paid_from=ledger.reserved(buy.organisation_id),
                now=now,
                buy_order_id=buy.id,
                sell_order_id=sell.id,
            )
        )
    _fill_resting(session, order, instrument, outcome, resting, now)
    return trades


def _fill_resting(session, order, instrument, outcome, resting, now) -> None:
    """Take each trade's lots off the resting order it hit (and, for a resting buy, its money)."""
    buying = order.side == Side.buy
    table = ExchangeOrder.__table__
    left = table.c.open_lots - bindparam("traded")
    session.execute(
        update(table)
        .where(table.c.id == bindparam("order"))
        .values(
            open_lots=left,
            filled_lots=table.c.filled_lots + bindparam("traded"),
            reserved_fen=table.c.reserved_fen - bindparam("paid"),
            status=case((left == 0, OrderStatus.filled.value), else_=table.c.status),
        ),
        [
            {
                "order": fill.sell_order_id if buying else fill.buy_order_id,
                "traded": fill.quantity,
                "paid": 0 if buying else fill.price * fill.quantity * instrument.lot_kg,
            }
            for fill in outcome.trades
        ],
    )
    traded: dict[int, int] = {}
    for fill in outcome.trades:
        hit = fill.sell_order_id if buying else fill.buy_order_id
        traded[hit] = traded.get(hit, 0) + fill.quantity
    for found in resting.values():
        if found.side == Side.sell and found.open_lots == traded.get(found.id, 0):
            offered = session.get(Receipt, found.receipt_id)
            receipts.withdraw_offer(session, offered, actor_id=None, now=now)  # all of it is sold
        session.expire(found)  # what a page shows next comes from the database


@dataclass(frozen=True)
class Rest:
    """A new order's own state once the core has matched it."""

    status: OrderStatus
    filled_lots: int
    open_lots: int
    reserved_fen: int  # what a buy still sets aside for what rests
    freed_fen: (
        int  # what a buy set aside and no longer needs (its rest cancelled, or a better price)
    )
    logs_cancel: (
        bool  # an IOC's rest the core cancelled: the log notes it as its own cancel, so that a
    )
    # replay (where every order rests until cancelled) gives the same book


def rest_of(side: Side, price_fen: int, reserved_fen: int, outcome: Outcome, lot_kg: int) -> Rest:
    if outcome.rested:
        status = OrderStatus.open
    elif outcome.cancelled:
        status = OrderStatus.cancelled
    else:
        status = OrderStatus.filled
    still = freed = 0
    if side == Side.buy:
        paid = sum(fill.price * fill.quantity for fill in outcome.trades) * lot_kg
        still = outcome.rested * price_fen * lot_kg
        freed = reserved_fen - paid - still
    return Rest(
        status=status,
        filled_lots=sum(fill.quantity for fill in outcome.trades),
        open_lots=outcome.rested,
        reserved_fen=still,
        freed_fen=freed,
        logs_cancel=bool(outcome.cancelled) and not outcome.self_trade,
    )


def _rest(session, order, instrument, outcome: Outcome, now: datetime) -> None:
    """The new order's own state: what rests, what was filled, what was cancelled and what that frees."""
    rest = rest_of(order.side, order.price_fen, order.reserved_fen, outcome, instrument.lot_kg)
    order.status, order.filled_lots, order.open_lots = rest.status, rest.filled_lots, rest.open_lots
    if rest.logs_cancel:
        order.cancelled_seq, _instrument = instruments.lock(session, instrument.id)
    if order.side == Side.buy:
        order.reserved_fen = rest.reserved_fen
        if rest.freed_fen:
            deposits.release(
                session,
                order.organisation_id,
                rest.freed_fen,
                key=f"exchange-order:{instrument.id}:{order.seq}:release",
            )
    elif not outcome.rested:
        receipts.withdraw_offer(
            session, session.get(Receipt, order.receipt_id), actor_id=None, now=now
        )


def cancel_order(
    session: Session,
    *,
    organisation_id: int | None,
    actor_id: int,
    order_id: int,
    now: datetime | None = None,
) -> ExchangeOrder:
    """Take an open order off the book and free its money or receipt (organisation_id None: exchange staff)."""
    now = now or utcnow()
    order = session.get(ExchangeOrder, order_id)
    if order is None or organisation_id not in (None, order.organisation_id):
        raise NotFound(_("You have no such order."))
    seq, instrument = instruments.lock(session, order.instrument_id)
    session.refresh(order)
    if order.status != OrderStatus.open:
        raise Conflict(
            _("This order is no longer open: it was filled or cancelled."), field="status"
        )
    order.status, order.cancelled_seq, order.open_lots = OrderStatus.cancelled, seq, 0
    if order.side == Side.buy:
        freed, order.reserved_fen = order.reserved_fen, 0
        deposits.release(
            session,
            order.organisation_id,
            freed,
            key=f"exchange-order:{instrument.id}:{order.seq}:cancel",
        )
    else:
        receipts.withdraw_offer(
            session, session.get(Receipt, order.receipt_id), actor_id=actor_id, now=now
        )
    _record(session, "exchange.order_cancelled", order, instrument, now, actor_id=actor_id)
    return order


def _record(
    session, kind, order: ExchangeOrder, instrument: Instrument, now, *, actor_id=None, **extra
):
    events.record(session, **order_event(kind, order, instrument, actor_id, **extra), now=now)


def order_event(
    kind: str, order: ExchangeOrder, instrument: Instrument, actor_id: int | None, **extra
) -> dict:
    """The event an order's placing or cancelling writes (events.record's arguments)."""
    return {
        "kind": kind,
        "organisation_id": order.organisation_id,
        "actor_id": actor_id or order.placed_by_id,
        "subject": f"instrument:{instrument.id}",
        "payload": {
            "order_id": order.id,
            "symbol": instrument.symbol,
            "side": order.side.value,
            "price_fen": order.price_fen,
            "lots": order.lots,
            "open_lots": order.open_lots,
            "status": order.status.value,
            "instrument_id": instrument.id,
            "placed_at": order.created_at.isoformat(),
            **extra,
        },
    }


def order_log(session: Session, instrument_id: int) -> list[tuple]:
    """The instrument's order log as replay reads it: (seq, action, order_id, account, side, price, lots)."""
    rows = []
    query = select(
        ExchangeOrder.id,
        ExchangeOrder.organisation_id,
        ExchangeOrder.side,
        ExchangeOrder.price_fen,
        ExchangeOrder.lots,
        ExchangeOrder.seq,
        ExchangeOrder.cancelled_seq,
    ).where(ExchangeOrder.instrument_id == instrument_id)
    for order_id, account, side, price, lots, seq, cancelled_seq in session.execute(query):
        rows.append((seq, "new", order_id, account, side.value, price, lots))
        if cancelled_seq is not None:
            rows.append((cancelled_seq, "cancel", order_id, "", "", "", ""))
    return sorted(rows)

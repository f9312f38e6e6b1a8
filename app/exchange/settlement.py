"""Settling trades: at the trade the buyer's money goes into the trade's escrow and the traded part of the
seller's receipt to the buyer; when the buyer picks the tea up, or T+N days on at the latest, the escrow pays
the seller its proceeds less the exchange's fee. Each step posts to the ledger under a key of the trade's,
and paying the seller is a conditional UPDATE of `settled_at`, so it happens once whoever runs it."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import events
from app.db import utcnow
from app.exchange import instruments, receipts
from app.exchange.models import Instrument, Receipt, Trade, TradingMode
from app.payments import ledger


def execute_trade(
    session: Session,
    *,
    instrument: Instrument,
    mode: TradingMode,
    buyer_id: int,
    seller_id: int,
    offered: Receipt,
    price_fen: int,
    lots: int,
    paid_from: str,
    now: datetime,
    buy_order_id: int | None = None,
    sell_order_id: int | None = None,
    lot_id: int | None = None,
    auction_id: int | None = None,
    idempotency_key: str | None = None,
) -> Trade:
    """Record a trade: `paid_from` (the buyer's reserved or free deposit) pays into the trade's escrow and
    the traded kilograms of the offered receipt become the buyer's receipt."""
    bought = receipts.transfer(
        session, offered, buyer_id=buyer_id, kg=lots * instrument.lot_kg, now=now
    )
    trade = new_trade(
        instrument,
        mode=mode,
        buyer_id=buyer_id,
        seller_id=seller_id,
        price_fen=price_fen,
        lots=lots,
        receipt_id=bought.id,
        now=now,
        settle_due_at=instruments.settlement_due(session, instrument, now),
        buy_order_id=buy_order_id,
        sell_order_id=sell_order_id,
        lot_id=lot_id,
        auction_id=auction_id,
        idempotency_key=idempotency_key,
    )
    session.add(trade)
    session.flush()  # the escrow account, the receipts' history and the event name the trade
    receipts.note_traded(session, offered, bought, trade_id=trade.id, now=now)
    ledger.post(
        session,
        key=f"exchange-trade:{trade.id}",
        kind="exchange_trade",
        moves={paid_from: -trade.value_fen, ledger.trade_escrow(trade.id): trade.value_fen},
    )
    instruments.record_price(session, instrument, price_fen, now)
    events.record(session, **trade_event(trade, instrument), now=now)
    return trade


def new_trade(
    instrument: Instrument,
    *,
    mode: TradingMode,
    buyer_id: int,
    seller_id: int,
    price_fen: int,
    lots: int,
    receipt_id: int,
    now: datetime,
    settle_due_at: datetime,
    **links: int | str | None,
) -> Trade:
    """A trade of `lots` at `price_fen` with its kilograms, value and fee (the exchange's, rounded down:
    the remainder is the seller's), not yet in a session. `links`: the orders, lot, auction or key it
    came from."""
    kg = lots * instrument.lot_kg
    value = price_fen * kg
    return Trade(
        instrument_id=instrument.id,
        mode=mode,
        buyer_id=buyer_id,
        seller_id=seller_id,
        price_fen=price_fen,
        lots=lots,
        kg=kg,
        value_fen=value,
        fee_fen=value * instrument.fee_bps // 10_000,
        receipt_id=receipt_id,
        executed_at=now,
        settle_due_at=settle_due_at,
        **links,
    )


def trade_event(trade: Trade, instrument: Instrument) -> dict:
    """The event a trade writes (events.record's arguments), which the tape and surveillance read."""
    return {
        "kind": "exchange.trade",
        "subject": f"instrument:{instrument.id}",
        "payload": {
            "trade_id": trade.id,
            "instrument_id": instrument.id,
            "symbol": instrument.symbol,
            "mode": trade.mode.value,
            "buyer_id": trade.buyer_id,
            "seller_id": trade.seller_id,
            "price_fen": trade.price_fen,
            "lots": trade.lots,
            "kg": trade.kg,
        },
    }


def earlier_trade(session: Session, buyer_id: int, idempotency_key: str | None) -> Trade | None:
    """The trade a buyer's take or clock stop made under this key before (a retry, a double click)."""
    if not idempotency_key:
        return None
    return session.scalar(
        select(Trade).where(Trade.buyer_id == buyer_id, Trade.idempotency_key == idempotency_key)
    )


def settle_trade(session: Session, trade: Trade, *, now: datetime) -> bool:
    """Pay the seller from the trade's escrow, less the fee; False if it was paid already."""
    paid = session.execute(
        update(Trade)
        .where(Trade.id == trade.id, Trade.settled_at.is_(None))
        .values(settled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not paid:
        return False
    set_committed_value(trade, "settled_at", now)
    ledger.post(
        session,
        key=f"exchange-settle:{trade.id}",
        kind="exchange_settle",
        moves={
            ledger.trade_escrow(trade.id): -trade.value_fen,
            ledger.payable(trade.seller_id): trade.value_fen - trade.fee_fen,
            ledger.FEES: trade.fee_fen,
        },
    )
    events.record(
        session,
        "exchange.settled",
        organisation_id=trade.seller_id,
        subject=f"trade:{trade.id}",
        payload={"fen": trade.value_fen - trade.fee_fen, "fee_fen": trade.fee_fen},
        now=now,
    )
    return True


def pick_up(
    session: Session,
    *,
    warehouse_id: int,
    actor_id: int,
    receipt_id: int,
    now: datetime | None = None,
) -> Receipt:
    """The holder takes its tea out of the warehouse: the receipt is released, and the trade that gave it
    this receipt pays its seller now rather than at T+N."""
    now = now or utcnow()
    receipt = receipts.release_receipt(
        session, warehouse_id=warehouse_id, actor_id=actor_id, receipt_id=receipt_id, now=now
    )
    for trade in session.scalars(
        select(Trade).where(Trade.receipt_id == receipt.id, Trade.settled_at.is_(None))
    ):
        settle_trade(session, trade, now=now)
    return receipt


def settle_due(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Pay the sellers of trades whose T+N day has come (a scheduled job; safe to run twice)."""
    due = session.scalars(
        select(Trade)
        .where(Trade.settled_at.is_(None), Trade.settle_due_at <= now)
        .order_by(Trade.id)
        .limit(limit)
    ).all()
    return sum(settle_trade(session, trade, now=now) for trade in due)


def held_by_trades(session: Session) -> dict[str, int]:
    """What each trade's escrow should hold: its value until the seller is paid (for the ledger check)."""
    query = select(Trade.id, Trade.value_fen).where(Trade.settled_at.is_(None))
    return {ledger.trade_escrow(trade_id): value for trade_id, value in session.execute(query)}

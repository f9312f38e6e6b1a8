"""Read-only views of the exchange: the market overview, an instrument's book and trades, candles, and a
member's orders, trades, receipts, lots and auctions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.db import LOCAL_TIME
from app.exchange.instruments import price_range
from app.exchange.models import (
    Auction,
    AuctionStatus,
    ExchangeOrder,
    Instrument,
    Lot,
    LotStatus,
    OrderStatus,
    Receipt,
    ReceiptStatus,
    Side,
    Tender,
    TenderBid,
    TenderStatus,
    Trade,
)

INTERVALS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}


@dataclass(frozen=True)
class Level:
    price_fen: int
    lots: int
    orders: int


def book(session: Session, instrument: Instrument, depth: int = 10) -> dict:
    """The best `depth` price levels of each side of the book."""
    return {
        "symbol": instrument.symbol,
        "bids": _levels(session, instrument.id, Side.buy, depth),
        "asks": _levels(session, instrument.id, Side.sell, depth),
        "last_price_fen": instrument.last_price_fen,
    }


def _levels(session: Session, instrument_id: int, side: Side, depth: int) -> list[Level]:
    price = ExchangeOrder.price_fen
    query = (
        select(price, func.sum(ExchangeOrder.open_lots), func.count())
        .where(
            ExchangeOrder.instrument_id == instrument_id,
            ExchangeOrder.side == side,
            ExchangeOrder.status == OrderStatus.open,
        )
        .group_by(price)
        .order_by(price.desc() if side == Side.buy else price)
        .limit(depth)
    )
    return [Level(*row) for row in session.execute(query)]


def recent_trades(session: Session, instrument_id: int, limit: int = 50) -> list[Trade]:
    return list(
        session.scalars(
            select(Trade)
            .where(Trade.instrument_id == instrument_id)
            .order_by(Trade.id.desc())
            .limit(limit)
        )
    )


def candles(
    session: Session, instrument_id: int, *, interval: str, limit: int, now: datetime
) -> list[dict]:
    """Open, high, low, close and volume per interval (China time), oldest first, intervals with trades."""
    width = INTERVALS[interval]
    since = now - width * limit
    rows = session.execute(
        select(Trade.executed_at, Trade.price_fen, Trade.kg, Trade.value_fen)
        .where(Trade.instrument_id == instrument_id, Trade.executed_at >= since)
        .order_by(Trade.id)
    )
    found: dict[datetime, dict] = {}
    for executed_at, price, kg, value in rows:
        start = _bucket(executed_at, width)
        candle = found.get(start)
        if candle is None:
            found[start] = {
                "starts_at": start,
                "open_fen": price,
                "high_fen": price,
                "low_fen": price,
                "close_fen": price,
                "kg": kg,
                "value_fen": value,
            }
            continue
        candle["high_fen"] = max(candle["high_fen"], price)
        candle["low_fen"] = min(candle["low_fen"], price)
        candle["close_fen"] = price
        candle["kg"] += kg
        candle["value_fen"] += value
    return [found[start] for start in sorted(found)]


def _bucket(moment: datetime, width: timedelta) -> datetime:
    local = moment.astimezone(LOCAL_TIME)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + (local - midnight) // width * width


def overview(session: Session, now: datetime) -> list[dict]:
    """Every instrument with its last price, change on the previous close, and today's volume."""
    day_start = datetime.combine(now.astimezone(LOCAL_TIME).date(), datetime.min.time(), LOCAL_TIME)
    volumes = dict(
        session.execute(
            select(Trade.instrument_id, func.sum(Trade.kg))
            .where(Trade.executed_at >= day_start)
            .group_by(Trade.instrument_id)
        ).all()
    )
    listed = session.scalars(select(Instrument).order_by(Instrument.symbol)).all()
    return [
        {
            "instrument": instrument,
            "last_price_fen": instrument.last_price_fen,
            "change_bps": _change(instrument),
            "kg_today": int(volumes.get(instrument.id) or 0),
            "range": price_range(instrument),
        }
        for instrument in listed
    ]


def _change(instrument: Instrument) -> int | None:
    if instrument.last_price_fen is None:
        return None
    return (
        (instrument.last_price_fen - instrument.previous_close_fen)
        * 10_000
        // instrument.previous_close_fen
    )


def orders_of(
    session: Session, organisation_id: int, *, open_only: bool, limit: int = 100
) -> list[ExchangeOrder]:
    query = select(ExchangeOrder).where(ExchangeOrder.organisation_id == organisation_id)
    if open_only:
        query = query.where(ExchangeOrder.status == OrderStatus.open)
    query = query.options(selectinload(ExchangeOrder.instrument)).order_by(ExchangeOrder.id.desc())
    return list(session.scalars(query.limit(limit)))


def trades_of(session: Session, organisation_id: int, limit: int = 100) -> list[Trade]:
    query = (
        select(Trade)
        .where((Trade.buyer_id == organisation_id) | (Trade.seller_id == organisation_id))
        .options(selectinload(Trade.instrument))
        .order_by(Trade.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def receipts_of(
    session: Session, organisation_id: int, *, warehouse: bool = False
) -> list[Receipt]:
    """A holder's live receipts, or (warehouse) every receipt the warehouse issued that is still live."""
    owner = Receipt.warehouse_id if warehouse else Receipt.holder_id
    query = (
        select(Receipt)
        .where(
            owner == organisation_id,
            Receipt.status.in_([ReceiptStatus.held, ReceiptStatus.offered, ReceiptStatus.pledged]),
        )
        .options(
            selectinload(Receipt.product),
            selectinload(Receipt.grade),
            selectinload(Receipt.batch),
            selectinload(Receipt.pledge),
        )
        .order_by(Receipt.id.desc())
    )
    return list(session.scalars(query))


def open_lots(session: Session, instrument_id: int | None = None) -> list[Lot]:
    query = select(Lot).where(Lot.status == LotStatus.open)
    if instrument_id is not None:
        query = query.where(Lot.instrument_id == instrument_id)
    query = query.options(
        selectinload(Lot.instrument), selectinload(Lot.seller), selectinload(Lot.receipt)
    )
    return list(session.scalars(query.order_by(Lot.price_fen, Lot.id)))


def lots_of(session: Session, seller_id: int) -> list[Lot]:
    """A seller's listed lots, newest first."""
    query = (
        select(Lot)
        .where(Lot.seller_id == seller_id)
        .options(selectinload(Lot.instrument), selectinload(Lot.receipt))
        .order_by(Lot.id.desc())
    )
    return list(session.scalars(query))


def auctions_list(session: Session, *, now: datetime, closed_days: int = 7) -> list[Auction]:
    """Open auctions (soonest to close first), then those closed in the last week."""
    query = (
        select(Auction)
        .where(
            (Auction.status == AuctionStatus.open)
            | (Auction.closed_at >= now - timedelta(days=closed_days))
        )
        .options(selectinload(Auction.instrument))
        .order_by((Auction.status == AuctionStatus.open).desc(), Auction.ends_at)
    )
    return list(session.scalars(query))


def tenders_list(session: Session, *, now: datetime, closed_days: int = 30) -> list[Tender]:
    """Tenders taking bids (soonest to close first), then those closed in the last month."""
    query = (
        select(Tender)
        .where(
            (Tender.status == TenderStatus.open)
            | (Tender.closed_at >= now - timedelta(days=closed_days))
        )
        .options(
            selectinload(Tender.product), selectinload(Tender.grade), selectinload(Tender.buyer)
        )
        .order_by((Tender.status == TenderStatus.open).desc(), Tender.closes_at)
    )
    return list(session.scalars(query))


def bids_of(session: Session, tender_id: int, seller_id: int) -> list[TenderBid]:
    query = select(TenderBid).where(
        TenderBid.tender_id == tender_id, TenderBid.seller_id == seller_id
    )
    return list(session.scalars(query.order_by(TenderBid.id.desc())))

"""What the surveillance console reads: alerts, the trade tape, the market overview with spreads, a member's
activity, the audit trail, and the day's market report."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.catalog.models import Grade, GradePriceIndex, Product
from app.db import LOCAL_TIME
from app.exchange import queries as exchange_queries
from app.exchange.models import ExchangeOrder, Instrument, OrderStatus, Suspension, Trade
from app.payments.models import LedgerAccount, LedgerEntry, LedgerTransaction
from app.surveillance.models import Alert, AlertStatus, AuditEntry, Case


def alerts(
    session: Session, *, status: str = "open", rule: str | None = None, limit: int = 200
) -> list[Alert]:
    query = select(Alert).options(selectinload(Alert.notes))
    if status == "open":
        query = query.where(Alert.status != AlertStatus.closed)
    elif status == "closed":
        query = query.where(Alert.status == AlertStatus.closed)
    if rule:
        query = query.where(Alert.rule == rule)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def tape(
    session: Session, *, symbol: str = "", member_id: int | None = None, limit: int = 100
) -> list[Trade]:
    """The latest trades in every mode, newest first, with both sides named."""
    query = select(Trade).options(
        selectinload(Trade.instrument), selectinload(Trade.buyer), selectinload(Trade.seller)
    )
    if symbol:
        query = query.join(Instrument, Instrument.id == Trade.instrument_id).where(
            Instrument.symbol == symbol.upper()
        )
    if member_id:
        query = query.where((Trade.buyer_id == member_id) | (Trade.seller_id == member_id))
    return list(session.scalars(query.order_by(Trade.id.desc()).limit(limit)))


def market(session: Session, now: datetime) -> list[dict]:
    """The exchange's overview, each instrument with its spread and its grade's latest index."""
    rows = exchange_queries.overview(session, now)
    for row in rows:
        instrument = row["instrument"]
        book = exchange_queries.book(session, instrument, depth=1)
        bid = book["bids"][0].price_fen if book["bids"] else None
        ask = book["asks"][0].price_fen if book["asks"] else None
        row["bid_fen"], row["ask_fen"] = bid, ask
        row["spread_fen"] = ask - bid if bid is not None and ask is not None else None
        row["index"] = session.scalar(
            select(GradePriceIndex)
            .where(
                GradePriceIndex.product_id == instrument.product_id,
                GradePriceIndex.grade_id == instrument.grade_id,
            )
            .order_by(GradePriceIndex.day.desc())
            .limit(1)
        )
    return rows


def member_activity(session: Session, organisation_id: int, limit: int = 100) -> dict:
    """A member's orders (with cancels), trades, receipts, deposit movements and suspensions."""
    orders = session.scalars(
        select(ExchangeOrder)
        .where(ExchangeOrder.organisation_id == organisation_id)
        .options(selectinload(ExchangeOrder.instrument))
        .order_by(ExchangeOrder.id.desc())
        .limit(limit)
    ).all()
    deposit = session.execute(
        select(LedgerTransaction.created_at, LedgerTransaction.kind, LedgerEntry.amount_fen)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.code == f"exchange:{organisation_id}")
        .order_by(LedgerTransaction.id.desc())
        .limit(limit)
    ).all()
    return {
        "orders": orders,
        "cancels": sum(1 for order in orders if order.cancelled_seq is not None),
        "trades": tape(session, member_id=organisation_id, limit=limit),
        "receipts": exchange_queries.receipts_of(session, organisation_id),
        "deposit": deposit,
        "suspensions": session.scalars(
            select(Suspension)
            .where(Suspension.organisation_id == organisation_id)
            .order_by(Suspension.id.desc())
        ).all(),
    }


def open_orders(session: Session, instrument_id: int) -> list[ExchangeOrder]:
    return list(
        session.scalars(
            select(ExchangeOrder)
            .where(
                ExchangeOrder.instrument_id == instrument_id,
                ExchangeOrder.status == OrderStatus.open,
            )
            .order_by(ExchangeOrder.side, ExchangeOrder.price_fen.desc())
        )
    )


def audit_entries(
    session: Session,
    *,
    action: str = "",
    subject: str = "",
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 500,
) -> list[AuditEntry]:
    query = select(AuditEntry).options(selectinload(AuditEntry.actor))
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if subject:
        query = query.where(AuditEntry.subject == subject)
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    query = query.order_by(AuditEntry.id.desc())
    return list(session.scalars(query.limit(limit) if limit else query))


def cases(session: Session) -> list[Case]:
    return list(
        session.scalars(select(Case).options(selectinload(Case.alerts)).order_by(Case.id.desc()))
    )


def daily_report(session: Session, day: date) -> dict:
    """The day's trading per instrument (trades, kg, value, open, high, low, close), the index, and the
    alerts raised, by rule and severity."""
    start = datetime.combine(day, time(), LOCAL_TIME)
    end = start + timedelta(days=1)
    trades = session.execute(
        select(Trade.instrument_id, Trade.price_fen, Trade.kg, Trade.value_fen, Trade.mode)
        .where(Trade.executed_at >= start, Trade.executed_at < end)
        .order_by(Trade.id)
    ).all()
    per_instrument: dict[int, dict] = {}
    for instrument_id, price, kg, value, mode in trades:
        row = per_instrument.setdefault(
            instrument_id,
            {
                "trades": 0,
                "kg": 0,
                "value_fen": 0,
                "open": price,
                "high": price,
                "low": price,
                "modes": set(),
            },
        )
        row["trades"] += 1
        row["kg"] += kg
        row["value_fen"] += value
        row["high"], row["low"], row["close"] = (
            max(row["high"], price),
            min(row["low"], price),
            price,
        )
        row["modes"].add(mode)
    instruments = {i.id: i for i in session.scalars(select(Instrument).order_by(Instrument.symbol))}
    raised = session.execute(
        select(Alert.rule, Alert.severity, func.count())
        .where(Alert.raised_at >= start, Alert.raised_at < end)
        .group_by(Alert.rule, Alert.severity)
    ).all()
    return {
        "day": day,
        "instruments": [(instruments[i], row) for i, row in sorted(per_instrument.items())],
        "quiet": [i for i in instruments.values() if i.id not in per_instrument],
        "index": session.execute(
            select(Product, Grade, GradePriceIndex)
            .join(Product, Product.id == GradePriceIndex.product_id)
            .join(Grade, Grade.id == GradePriceIndex.grade_id)
            .where(GradePriceIndex.day == day)
        ).all(),
        "alerts": raised,
        "alert_total": sum(count for _rule, _severity, count in raised),
    }


def suspensions(session: Session) -> list[Suspension]:
    query = (
        select(Suspension)
        .options(selectinload(Suspension.organisation))
        .order_by(Suspension.id.desc())
    )
    return list(session.scalars(query))

"""Listing and delisting (挂牌/摘牌): a seller lists receipt-backed tea at a fixed price per kg; buyers take
part or all of it, paying from their exchange deposit at once.

Taking is one conditional UPDATE of the lots still open, so two buyers can never both take the last lot.
"""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import case, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app import events
from app.db import utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange import instruments, members, receipts, settlement
from app.exchange.models import Lot, LotStatus, Receipt, Trade, TradingMode
from app.payments import ledger


def list_lot(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    symbol: str,
    receipt_id: int,
    price_fen: int,
    lots: int,
    min_lots: int = 1,
    note: str = "",
    now: datetime | None = None,
) -> Lot:
    """List `lots` of a receipt the seller holds at a fixed price (挂牌)."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    instrument = instruments.instrument_by_symbol(session, symbol)
    instruments.check_open(instrument, TradingMode.listing, now)
    instruments.check_lots(instrument, lots)
    instruments.check_price(instrument, price_fen)
    if not 1 <= min_lots <= lots:
        raise RuleViolation(
            _("The least a buyer may take is between 1 and %(n)d lots.", n=lots), field="min_lots"
        )
    offered = receipts.offer_receipt(
        session,
        holder_id=organisation_id,
        receipt_id=receipt_id,
        instrument=instrument,
        kg=lots * instrument.lot_kg,
        actor_id=actor_id,
        now=now,
    )
    lot = Lot(
        instrument_id=instrument.id,
        seller_id=organisation_id,
        receipt_id=offered.id,
        price_fen=price_fen,
        lots=lots,
        open_lots=lots,
        min_lots=min_lots,
        note=note,
        listed_by_id=actor_id,
        created_at=now,
    )
    session.add(lot)
    session.flush()  # the event names the lot
    _record(session, "exchange.lot_listed", lot, actor_id, now)
    return lot


def take_lot(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    lot_id: int,
    lots: int,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Trade:
    """Take part or all of a listed lot (摘牌) at its price, paid from the buyer's exchange deposit (once
    per idempotency key: a retry or a double click gets the first take back)."""
    now = now or utcnow()
    earlier = settlement.earlier_trade(session, organisation_id, idempotency_key)
    if earlier is not None:
        return earlier
    members.check_may_trade(session, organisation_id)
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound(_("No such listed lot."))
    instruments.hold(session, lot.instrument_id)
    if lot.seller_id == organisation_id:
        raise RuleViolation(_("You cannot take your own lot."), field="lot_id")
    instruments.check_open(lot.instrument, TradingMode.listing, now)
    instruments.check_price(
        lot.instrument, lot.price_fen, field="lot_id"
    )  # the day's limit may have moved
    if lots < min(lot.min_lots, lot.open_lots) or lots <= 0:
        raise RuleViolation(
            _("Take at least %(n)d lots of this listing.", n=min(lot.min_lots, lot.open_lots)),
            field="lots",
        )
    left = session.scalar(
        update(Lot)
        .where(Lot.id == lot.id, Lot.status == LotStatus.open, Lot.open_lots >= lots)
        .values(
            open_lots=Lot.open_lots - lots,
            status=case((Lot.open_lots == lots, LotStatus.sold.value), else_=Lot.status),
        )
        .returning(Lot.open_lots)
        .execution_options(synchronize_session=False)
    )
    if left is None:
        session.refresh(lot, ["open_lots", "status"])
        raise Conflict(_gone(lot), field="lots")
    set_committed_value(lot, "open_lots", left)
    trade = settlement.execute_trade(
        session,
        instrument=lot.instrument,
        mode=TradingMode.listing,
        buyer_id=organisation_id,
        seller_id=lot.seller_id,
        offered=lot.receipt,
        price_fen=lot.price_fen,
        lots=lots,
        paid_from=ledger.exchange_deposit(organisation_id),
        now=now,
        lot_id=lot.id,
        idempotency_key=idempotency_key,
    )
    if not left:
        set_committed_value(lot, "status", LotStatus.sold)
        receipts.withdraw_offer(session, lot.receipt, actor_id=actor_id, now=now)
    _record(session, "exchange.lot_taken", lot, actor_id, now, taken=lots, buyer_id=organisation_id)
    return trade


def _gone(lot: Lot) -> str:
    if lot.status != LotStatus.open or not lot.open_lots:
        return _("Someone else took this lot first: none of it is left.")
    return _("Someone else took part of this lot first: only %(n)d lots are left.", n=lot.open_lots)


def delist_lot(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    lot_id: int,
    now: datetime | None = None,
) -> Lot:
    """Withdraw what is left of a listed lot; its receipt is free again."""
    now = now or utcnow()
    lot = session.get(Lot, lot_id)
    if lot is None or lot.seller_id != organisation_id:
        raise NotFound(_("You have no such listed lot."))
    changed = session.execute(
        update(Lot)
        .where(Lot.id == lot.id, Lot.status == LotStatus.open)
        .values(status=LotStatus.withdrawn)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(_("This lot is no longer listed."), field="status")
    session.refresh(lot)
    receipt = session.get(Receipt, lot.receipt_id)
    receipts.withdraw_offer(session, receipt, actor_id=actor_id, now=now)
    _record(session, "exchange.lot_withdrawn", lot, actor_id, now)
    return lot


def _record(session, kind, lot: Lot, actor_id, now, **extra) -> None:
    events.record(
        session,
        kind,
        organisation_id=lot.seller_id,
        actor_id=actor_id,
        subject=f"instrument:{lot.instrument_id}",
        payload={
            "lot_id": lot.id,
            "price_fen": lot.price_fen,
            "open_lots": lot.open_lots,
            **extra,
        },
        now=now,
    )

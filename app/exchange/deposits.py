"""Members' exchange deposits (保证金): money moved in from the member's platform wallet, part of it set aside
for each open bid and buy order, and moved back to the wallet when the member withdraws what is free.

Ledger accounts: `exchange:<org>` holds what is free, `reserved:<org>` what backs open bids and buy
orders (the ledger check compares it with them), `trade:<id>` a trade's money until the seller is paid.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import events
from app.errors import RuleViolation
from app.exchange.models import (
    Auction,
    AuctionStatus,
    ExchangeOrder,
    Instrument,
    OrderStatus,
    Side,
)
from app.payments import ledger


@dataclass(frozen=True)
class Deposit:
    free_fen: int
    reserved_fen: int
    wallet_fen: int


def deposit_of(session: Session, organisation_id: int) -> Deposit:
    return Deposit(
        free_fen=ledger.balance(session, ledger.exchange_deposit(organisation_id)),
        reserved_fen=ledger.balance(session, ledger.reserved(organisation_id)),
        wallet_fen=ledger.available(session, ledger.wallet(organisation_id)),
    )


def fund_deposit(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    amount_fen: int,
    idempotency_key: str | None = None,
) -> Deposit:
    """Move money from the member's wallet into its exchange deposit (once per idempotency key)."""
    _move(
        session,
        organisation_id,
        actor_id,
        amount_fen,
        direction="fund",
        source=ledger.wallet(organisation_id),
        target=ledger.exchange_deposit(organisation_id),
        key=idempotency_key,
    )
    return deposit_of(session, organisation_id)


def withdraw_deposit(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    amount_fen: int,
    idempotency_key: str | None = None,
) -> Deposit:
    """Move free deposit money back to the member's wallet (what backs open bids and orders stays)."""
    _move(
        session,
        organisation_id,
        actor_id,
        amount_fen,
        direction="withdraw",
        source=ledger.exchange_deposit(organisation_id),
        target=ledger.wallet(organisation_id),
        key=idempotency_key,
    )
    return deposit_of(session, organisation_id)


def _move(session, organisation_id, actor_id, amount_fen, *, direction, source, target, key):
    if amount_fen <= 0:
        raise RuleViolation(_("The amount must be more than zero."), field="amount_fen")
    posted = ledger.post(
        session,
        key=f"exchange-{direction}:{organisation_id}:{key or uuid.uuid4().hex}",
        kind=f"exchange_{direction}",
        moves={source: -amount_fen, target: amount_fen},
        actor_id=actor_id,
    )
    if not posted.replayed:
        events.record(
            session,
            f"exchange.deposit_{direction}",
            organisation_id=organisation_id,
            actor_id=actor_id,
            subject=f"member:{organisation_id}",
            payload={"fen": amount_fen},
        )


def reserve(session: Session, organisation_id: int, fen: int, *, key: str) -> None:
    """Set money aside from the free deposit to back a bid or buy order (refused if too little is free)."""
    ledger.post(
        session,
        key=key,
        kind="exchange_reserve",
        moves={
            ledger.exchange_deposit(organisation_id): -fen,
            ledger.reserved(organisation_id): fen,
        },
    )


def release(session: Session, organisation_id: int, fen: int, *, key: str) -> None:
    """Free money that backed a bid or order that no longer needs it."""
    ledger.post(
        session,
        key=key,
        kind="exchange_release",
        moves={
            ledger.reserved(organisation_id): -fen,
            ledger.exchange_deposit(organisation_id): fen,
        },
    )


def held_by_members(session: Session) -> dict[str, int]:
    """What each member's reserved account should hold: what its open buy orders still set aside, and its
    leading bids in English auctions still open (for the ledger check)."""
    held: dict[str, int] = defaultdict(int)
    orders = (
        select(ExchangeOrder.organisation_id, func.sum(ExchangeOrder.reserved_fen))
        .where(ExchangeOrder.status == OrderStatus.open, ExchangeOrder.side == Side.buy)
        .group_by(ExchangeOrder.organisation_id)
    )
    leading = (
        select(Auction.leader_id, func.sum(Auction.leading_fen * Auction.lots * Instrument.lot_kg))
        .join(Instrument, Instrument.id == Auction.instrument_id)
        .where(Auction.status == AuctionStatus.open, Auction.leader_id.is_not(None))
        .group_by(Auction.leader_id)
    )
    for query in (orders, leading):
        for organisation_id, fen in session.execute(query):
            held[ledger.reserved(organisation_id)] += int(fen or 0)
    return {code: fen for code, fen in held.items() if fen}

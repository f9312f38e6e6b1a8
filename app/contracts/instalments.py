"""What the scheduler does for active contracts: order each instalment a few days ahead (exactly once),
remind both sides the day before, mark what was missed, and end contracts that are done.

An instalment is claimed by a conditional UPDATE (scheduled -> ordered) before its order is placed, in the
same transaction, and its order's checkout key names the instalment: two schedulers running at once, or a
run that crashed halfway and ran again, order each instalment once.
"""

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from app import events
from app.accounts.models import Organisation
from app.contracts import money
from app.contracts.models import (
    Contract,
    ContractStatus,
    Instalment,
    InstalmentStatus,
)
from app.contracts.prices import Price, instalment_price
from app.contracts.services import cancel_unshipped, tell_both
from app.contracts.terms import Payment
from app.db import LOCAL_TIME, local_date, utcnow
from app.errors import DomainError
from app.orders import bulk
from app.orders.bulk import AgreedOrder
from app.orders.models import Order, OrderStatus, PaymentMethod
from app.orders.services import Delivery, place_orders
from app.payments.ledger import InsufficientFunds

# After its last delivery, how long a contract with missed instalments waits for a breach to be recorded.
GRACE_DAYS = 7
_DONE = (OrderStatus.accepted, OrderStatus.completed, OrderStatus.resolved)
_NOT_SHIPPED = (OrderStatus.placed, OrderStatus.paid)


def due_for_ordering(session: Session, *, today: date) -> list[int]:
    """Instalments of active contracts whose ordering day has come and that have no order yet."""
    return list(
        session.scalars(
            select(Instalment.id)
            .join(Instalment.contract)
            .where(
                Instalment.status == InstalmentStatus.scheduled,
                Instalment.order_from <= today,
                Instalment.due_on > today,
                Contract.status == ContractStatus.active,
            )
            .order_by(Instalment.id)
        )
    )


def order_instalment(session: Session, *, instalment_id: int, now: datetime | None = None) -> bool:
    """Place one instalment's order; False when another run already did (or it could not be ordered)."""
    return order_instalments(session, instalment_ids=[instalment_id], now=now)["ordered"] == 1


def order_instalments(
    session: Session, *, instalment_ids: list[int], now: datetime | None = None
) -> dict[str, int]:
    """Place the instalments' orders at their contracts' prices, all in one go when nothing stands in the
    way, else one by one; those that cannot be ordered go back to waiting, their seller told why."""
    now = now or utcnow()
    claimed = _claim(session, instalment_ids)
    if not claimed:
        return {"ordered": 0, "not_ordered": 0}
    priced = [(item, _price(session, item)) for item in claimed]
    try:
        with session.begin_nested():
            placed = bulk.place_agreed_orders(
                session, [_agreed(item, price.fen) for item, price in priced], now=now
            )
    except DomainError:  # someone's stock or money falls short: learn whose, one by one
        placed = {}
        for item, price in priced:
            placed.update(_place_one(session, item, price.fen, now))
    for item, price in priced:
        item.order_id = placed.get(_key(item))
        if item.order_id is not None:
            item.price_fen, item.price_source = price.fen, price.source
        else:  # refused on its own: it waits for the next run (_place_one told the seller why)
            item.status = InstalmentStatus.scheduled
    return {"ordered": len(placed), "not_ordered": len(priced) - len(placed)}


def _claim(session: Session, instalment_ids: list[int]) -> list[Instalment]:
    """Mark the instalments ordered (those still scheduled, of contracts still active): whichever run
    claims one first orders it. The contracts are share-locked, so a breach recorded meanwhile waits for
    this batch, or this batch sees it and orders nothing of that contract."""
    active = session.scalars(
        select(Contract.id)
        .where(
            Contract.id.in_(
                select(Instalment.contract_id).where(Instalment.id.in_(instalment_ids))
            ),
            Contract.status == ContractStatus.active,
        )
        .order_by(Contract.id)
        .with_for_update(read=True)
    ).all()
    claimed = session.scalars(
        update(Instalment)
        .where(
            Instalment.id.in_(instalment_ids),
            Instalment.status == InstalmentStatus.scheduled,
            Instalment.contract_id.in_(active),
        )
        .values(status=InstalmentStatus.ordered, problem="")
        .returning(Instalment.id)
        .execution_options(synchronize_session=False)
    ).all()
    return list(
        session.scalars(
            select(Instalment)
            .where(Instalment.id.in_(claimed))
            .options(
                selectinload(Instalment.contract).selectinload(Contract.versions),
                selectinload(Instalment.contract).selectinload(Contract.listing),
            )
            .order_by(Instalment.id)
            .execution_options(populate_existing=True)
        )
    )


def _price(session: Session, instalment: Instalment) -> Price:
    contract = instalment.contract
    return instalment_price(
        session, contract.signed_version.terms, contract.listing, instalment.due_on
    )


def _key(instalment: Instalment) -> str:
    return f"contract:{instalment.contract_id}:{instalment.number}"


def _agreed(
    instalment: Instalment, price_fen: int, payment: PaymentMethod | None = None
) -> AgreedOrder:
    contract = instalment.contract
    terms = contract.signed_version.terms
    return AgreedOrder(
        key=_key(instalment),
        buyer_id=contract.buyer_id,
        actor_id=contract.created_by_id,
        listing_id=contract.listing_id,
        quantity=instalment.quantity,
        price_fen=price_fen,
        delivery=Delivery(
            terms["delivery_point"],
            instalment.due_on,
            time.fromisoformat(terms["window_start"]),
            time.fromisoformat(terms["window_end"]),
            f"{contract.title} · {instalment.number}",
        ),
        payment=payment or _payment(terms),
        payment_days=terms["payment_days"] or None,
    )


def _payment(terms: dict) -> PaymentMethod:
    return (
        PaymentMethod.wallet if terms["payment"] == Payment.on_acceptance else PaymentMethod.account
    )


def _place_one(session: Session, instalment: Instalment, price_fen: int, now) -> dict[str, int]:
    """One instalment's order through place_orders: paid as agreed, or, with the buyer's wallet or credit
    short, left to pay before its delivery day. Refused: the instalment waits again and the seller is told."""
    agreed = _agreed(instalment, price_fen)
    try:
        with session.begin_nested():
            return _place_through_checkout(session, agreed, instalment.due_on, now)
    except InsufficientFunds:
        pass
    except DomainError as refusal:
        instalment.status = InstalmentStatus.scheduled
        note_problem(session, instalment=instalment, problem=refusal.message, now=now)
        return {}
    try:
        with session.begin_nested():
            later = replace(agreed, payment=PaymentMethod.later)
            return _place_through_checkout(session, later, instalment.due_on, now)
    except DomainError as refusal:
        instalment.status = InstalmentStatus.scheduled
        note_problem(session, instalment=instalment, problem=refusal.message, now=now)
        return {}


def _place_through_checkout(session, agreed: AgreedOrder, due_on: date, now) -> dict[str, int]:
    until_delivery = (datetime.combine(due_on, time(), LOCAL_TIME) - now) // timedelta(minutes=1)
    placed = place_orders(
        session,
        buyer_id=agreed.buyer_id,
        buyer_kind=session.get(Organisation, agreed.buyer_id).kind,
        actor_id=agreed.actor_id,
        lines=[{"listing_id": agreed.listing_id, "quantity": agreed.quantity}],
        delivery=agreed.delivery,
        payment=agreed.payment,
        idempotency_key=agreed.key,
        agreed_prices={agreed.listing_id: agreed.price_fen},
        payment_days=agreed.payment_days,
        unpaid_minutes=max(until_delivery, 60),
        now=now,
    )
    return {agreed.key: placed.orders[0].id}


def note_problem(session: Session, *, instalment: Instalment, problem: str, now: datetime) -> None:
    """The instalment could not be ordered (no stock, listing withdrawn): tell the seller, once per reason."""
    if instalment.problem == problem:
        return
    instalment.problem = problem
    events.record(
        session,
        "contract.instalment_not_ordered",
        organisation_id=instalment.contract.seller_id,
        subject=f"contract:{instalment.contract_id}",
        payload={"instalment": instalment.number, "problem": problem},
        now=now,
    )


def remind(session: Session, *, now: datetime | None = None) -> int:
    """Tell both sides about tomorrow's deliveries, once per instalment."""
    now = now or utcnow()
    tomorrow = local_date(now) + timedelta(days=1)
    due = session.scalars(
        select(Instalment)
        .join(Instalment.contract)
        .where(
            Instalment.due_on == tomorrow,
            Instalment.reminded_at.is_(None),
            Instalment.status == InstalmentStatus.ordered,
            Contract.status == ContractStatus.active,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for instalment in due:
        instalment.reminded_at = now
        _tell_both(session, "contract.instalment_due", instalment, now)
    return len(due)


def _tell_both(session: Session, kind: str, instalment: Instalment, now: datetime) -> None:
    due_on = instalment.due_on.isoformat()
    tell_both(
        session,
        kind,
        instalment.contract,
        None,
        None,
        now,
        instalment=instalment.number,
        due_on=due_on,
    )


def mark_missed(session: Session, *, now: datetime | None = None) -> int:
    """Instalments whose day has passed with nothing shipped are missed; their unshipped orders cancelled."""
    now = now or utcnow()
    today = local_date(now)
    late = session.execute(
        select(Instalment, Order)
        .join(Instalment.contract)
        .outerjoin(Order, Order.id == Instalment.order_id)
        .where(
            Contract.status == ContractStatus.active,
            Instalment.due_on < today,
            Instalment.status.in_((InstalmentStatus.scheduled, InstalmentStatus.ordered)),
            (Order.id.is_(None))
            | Order.status.in_(_NOT_SHIPPED)
            | (Order.status == OrderStatus.cancelled),
        )
    ).all()
    for instalment, order in late:
        if order is not None:
            cancel_unshipped(session, order, None, _("The contract instalment was missed."), now)
        instalment.status, instalment.settled_at = InstalmentStatus.missed, now
        _tell_both(session, "contract.instalment_missed", instalment, now)
    return len(late)


def end_finished(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Active contracts with nothing left to deliver end: completed when every instalment was accepted or
    excused, expired (a while after the last delivery) when some were missed; the deposit goes back."""
    now = now or utcnow()
    ended = {"completed": 0, "expired": 0}
    for contract in session.scalars(
        select(Contract)
        .where(Contract.status == ContractStatus.active)
        .with_for_update(skip_locked=True)
    ):
        outcome = _outcome(session, contract, local_date(now))
        if outcome is None:
            continue
        contract.status, contract.ended_at = outcome, now
        money.return_deposit(session, contract, None)
        contract.deposit_fen = 0
        ended[outcome] += 1
        tell_both(session, f"contract.{outcome}", contract, None, None, now)
    return ended


def _outcome(session: Session, contract: Contract, today: date) -> ContractStatus | None:
    states = session.execute(
        select(Instalment.status, Order.status, func.max(Instalment.due_on))
        .outerjoin(Order, Order.id == Instalment.order_id)
        .where(Instalment.contract_id == contract.id)
        .group_by(Instalment.status, Order.status)
    ).all()
    open_ = [
        row
        for row in states
        if row[0] == InstalmentStatus.scheduled
        or (row[0] == InstalmentStatus.ordered and row[1] not in _DONE)
    ]
    if open_:
        return None
    if all(row[0] != InstalmentStatus.missed for row in states):
        return ContractStatus.completed
    last = max(row[2] for row in states)
    return ContractStatus.expired if today > last + timedelta(days=GRACE_DAYS) else None

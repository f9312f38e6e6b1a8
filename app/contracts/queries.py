"""Read-only selects for contract pages and the API: lists, progress, and what the deposits should hold."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.contracts.models import Contract, ContractStatus, Instalment, InstalmentStatus
from app.db import Page, paginate
from app.orders.models import Order, OrderLine, OrderStatus
from app.payments import ledger

_ARRIVED = (
    OrderStatus.delivered,
    OrderStatus.accepted,
    OrderStatus.completed,
    OrderStatus.disputed,
    OrderStatus.resolved,
)
_SIGNED_OFF = (OrderStatus.accepted, OrderStatus.completed, OrderStatus.resolved)


@dataclass(frozen=True)
class Progress:
    """How far a contract has come, in the listing's unit."""

    quantity: int
    ordered: int
    delivered: int
    accepted: int
    rejected: int
    excused: int

    @property
    def remaining(self) -> int:
        return max(self.quantity - self.accepted - self.excused, 0)

    def share(self, part: int) -> int:
        """`part` as a whole percentage of the contract quantity, for a progress bar."""
        return min(100, part * 100 // self.quantity) if self.quantity else 0


def contracts_of(session: Session, organisation_id: int, *, status=None, page: int = 1) -> Page:
    """The organisation's contracts on either side, newest first (drafts only to their drafter)."""
    query = (
        select(Contract)
        .where(
            or_(Contract.buyer_id == organisation_id, Contract.seller_id == organisation_id),
            or_(
                Contract.status != ContractStatus.draft,
                Contract.drafted_by_org_id == organisation_id,
            ),
        )
        .options(
            selectinload(Contract.buyer),
            selectinload(Contract.seller),
            selectinload(Contract.listing),
            selectinload(Contract.versions),
        )
        .order_by(Contract.id.desc())
    )
    if status:
        query = query.where(Contract.status == status)
    return paginate(session, query, page=page)


def progress_of(session: Session, contracts: list[Contract]) -> dict[int, Progress]:
    """Each contract's progress: ordered, delivered, accepted, rejected at the gate, excused, remaining."""
    ids = [contract.id for contract in contracts]
    arrived = Order.status.in_(_ARRIVED)
    signed_off = Order.status.in_(_SIGNED_OFF)
    rows = session.execute(
        select(
            Instalment.contract_id,
            func.sum(OrderLine.quantity).filter(Order.status != OrderStatus.cancelled),
            func.sum(OrderLine.quantity).filter(arrived),
            func.sum(OrderLine.accepted_quantity).filter(signed_off),
            func.sum(OrderLine.quantity - OrderLine.accepted_quantity).filter(signed_off),
        )
        .join(Order, Order.id == Instalment.order_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Instalment.contract_id.in_(ids))
        .group_by(Instalment.contract_id)
    ).all()
    excused = dict(
        session.execute(
            select(Instalment.contract_id, func.sum(Instalment.quantity))
            .where(Instalment.contract_id.in_(ids), Instalment.status == InstalmentStatus.excused)
            .group_by(Instalment.contract_id)
        ).all()
    )
    sums = {row[0]: [int(value or 0) for value in row[1:]] for row in rows}
    return {
        contract.id: Progress(
            contract_quantity(contract),
            *sums.get(contract.id, [0, 0, 0, 0]),
            int(excused.get(contract.id) or 0),
        )
        for contract in contracts
    }


def contract_quantity(contract: Contract) -> int:
    version = contract.signed_version or contract.latest
    return version.terms["quantity"]


def instalment_orders(session: Session, contract: Contract) -> dict[int, Order]:
    """The orders of a contract's instalments, by order id, with their lines."""
    ids = [item.order_id for item in contract.instalments if item.order_id]
    if not ids:
        return {}
    orders = session.scalars(
        select(Order).where(Order.id.in_(ids)).options(selectinload(Order.lines))
    )
    return {order.id: order for order in orders}


def held_deposits(session: Session) -> dict[str, int]:
    """What each contract's deposit account should hold: the deposit while the contract is active."""
    query = select(Contract.id, Contract.deposit_fen).where(
        and_(Contract.status == ContractStatus.active, Contract.deposit_fen > 0)
    )
    return {ledger.deposit(contract_id): fen for contract_id, fen in session.execute(query)}


def needing_answer(session: Session, organisation_id: int) -> list[Contract]:
    """Contracts under negotiation whose latest version the other side proposed: this side's turn."""
    contracts = session.scalars(
        select(Contract)
        .where(
            Contract.status == ContractStatus.negotiating,
            or_(Contract.buyer_id == organisation_id, Contract.seller_id == organisation_id),
        )
        .options(selectinload(Contract.versions))
    ).all()
    return [
        contract
        for contract in contracts
        if organisation_id not in {s.organisation_id for s in contract.latest.signatures}
        and (contract.latest.proposed_by_org_id != organisation_id or contract.latest.signatures)
    ]


def deliveries_between(
    session: Session, organisation_id: int, first: date, *, days: int
) -> list[Instalment]:
    """The organisation's contract deliveries due from `first` for `days` days, on active contracts."""
    return list(
        session.scalars(
            select(Instalment)
            .join(Instalment.contract)
            .where(
                Contract.status == ContractStatus.active,
                or_(Contract.buyer_id == organisation_id, Contract.seller_id == organisation_id),
                Instalment.due_on >= first,
                Instalment.due_on < first + timedelta(days=days),
                Instalment.status.in_((InstalmentStatus.scheduled, InstalmentStatus.ordered)),
            )
            .order_by(Instalment.due_on)
        )
    )

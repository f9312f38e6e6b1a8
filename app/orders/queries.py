"""Read-only selects for order pages and the orders API."""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import Organisation
from app.auth import BUYER_KINDS, VerificationStatus
from app.db import Page
from app.errors import NotFound
from app.orders.models import Dispute, Inspection, InspectionPhoto, Order, OrderLine, OrderStatus
from app.payments import ledger
from app.payments.models import (
    BankTransfer,
    CreditTerms,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PayoutBatch,
)

ORDER_LOADS = (
    selectinload(Order.lines).selectinload(OrderLine.batch),
    selectinload(Order.buyer),
    selectinload(Order.seller),
    selectinload(Order.inspection).selectinload(Inspection.signed_by),
    selectinload(Order.inspection)
    .selectinload(Inspection.photos)
    .selectinload(InspectionPhoto.upload),
    selectinload(Order.dispute),
)


def orders_of(
    session: Session,
    organisation_id: int,
    *,
    side: str = "buying",
    status: OrderStatus | None = None,
    page: int = 1,
    size: int = 20,
) -> Page:
    """An organisation's orders as buyer ("buying") or as seller ("selling"), newest first."""
    party = Order.buyer_id if side == "buying" else Order.seller_id
    query = select(Order).where(party == organisation_id)
    if status is not None:
        query = query.where(Order.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    items = session.scalars(
        query.options(*ORDER_LOADS).order_by(Order.id.desc()).offset((page - 1) * size).limit(size)
    ).all()
    return Page(items=items, number=page, size=size, total=total)


def order_for(session: Session, order_id: int, organisation_id: int | None, *, admin: bool = False):
    """One order, for its buyer, its seller or a platform admin; anyone else is told it does not exist."""
    order = session.scalar(select(Order).where(Order.id == order_id).options(*ORDER_LOADS))
    if order is None or not (admin or organisation_id in (order.buyer_id, order.seller_id)):
        raise NotFound(_("Order %(id)s does not exist.", id=order_id))
    return order


def checkout_orders(session: Session, checkout_id: int) -> list[Order]:
    query = select(Order).where(Order.checkout_id == checkout_id).options(*ORDER_LOADS)
    return list(session.scalars(query.order_by(Order.id)))


def money_of(session: Session, organisation_id: int) -> dict:
    """What an organisation holds and owes on the platform, for its wallet page and the API."""
    codes = {
        "wallet_fen": ledger.wallet(organisation_id),
        "owed_by_you_fen": ledger.receivable(organisation_id),
        "owed_to_you_fen": ledger.payable(organisation_id),
    }
    balances = dict(
        session.execute(
            select(LedgerAccount.code, LedgerAccount.balance_fen).where(
                LedgerAccount.code.in_(codes.values())
            )
        ).all()
    )
    found = {name: balances.get(code, 0) for name, code in codes.items()}
    found["owed_by_you_fen"] = -found["owed_by_you_fen"]
    terms = session.get(CreditTerms, organisation_id)
    found["credit_limit_fen"] = terms.limit_fen if terms else None
    found["payment_days"] = terms.days if terms else None
    return found


def movements_of(session: Session, organisation_id: int, *, limit: int = 50) -> list:
    """The latest ledger entries on an organisation's own accounts (wallet, owed, payable), newest first."""
    query = (
        select(LedgerEntry, LedgerTransaction, LedgerAccount)
        .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.organisation_id == organisation_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return session.execute(query).all()


def invoices_of(session: Session, organisation_id: int) -> list[Invoice]:
    query = select(Invoice).where(Invoice.buyer_id == organisation_id)
    return list(
        session.scalars(query.order_by(Invoice.due_on.desc(), Invoice.id.desc()).limit(100))
    )


def invoice_of(session: Session, order_id: int) -> Invoice | None:
    return session.scalar(select(Invoice).where(Invoice.order_id == order_id))


def open_disputes(session: Session) -> list[Order]:
    query = (
        select(Order)
        .join(Dispute)
        .where(Order.status == OrderStatus.disputed)
        .options(*ORDER_LOADS)
        .order_by(Dispute.opened_at)
    )
    return list(session.scalars(query))


def buyers(session: Session) -> list[Organisation]:
    """Verified buyers, for the admin's forms."""
    query = select(Organisation).where(
        Organisation.kind.in_(BUYER_KINDS), Organisation.status == VerificationStatus.verified
    )
    return list(session.scalars(query.order_by(Organisation.name_zh)))


def recent_transfers(session: Session, *, limit: int = 50) -> list[BankTransfer]:
    query = select(BankTransfer).options(selectinload(BankTransfer.organisation))
    return list(session.scalars(query.order_by(BankTransfer.id.desc()).limit(limit)))


def payout_batches(session: Session, *, limit: int = 50) -> list[PayoutBatch]:
    query = select(PayoutBatch).options(selectinload(PayoutBatch.payouts))
    return list(session.scalars(query.order_by(PayoutBatch.id.desc()).limit(limit)))


def payout_batch(session: Session, batch_id: int) -> PayoutBatch:
    batch = session.get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound(_("Payout batch %(id)s does not exist.", id=batch_id))
    return batch


def ledger_accounts(session: Session) -> list[LedgerAccount]:
    """Every account but the per-order escrows (there is one per order), largest balances first."""
    query = (
        select(LedgerAccount)
        .where(LedgerAccount.kind != "escrow")
        .options(selectinload(LedgerAccount.organisation))
    )
    return list(session.scalars(query.order_by(LedgerAccount.kind, LedgerAccount.code)))


def escrow_total(session: Session) -> int:
    query = select(func.coalesce(func.sum(LedgerAccount.balance_fen), 0)).where(
        LedgerAccount.kind == "escrow"
    )
    return int(session.scalar(query))  # PostgreSQL sums BIGINT as NUMERIC


def status_counts(session: Session, organisation_id: int, *, side: str) -> dict[str, int]:
    """How many of an organisation's orders (as buyer or as seller) are in each state."""
    party = Order.buyer_id if side == "buying" else Order.seller_id
    query = (
        select(Order.status, func.count()).where(party == organisation_id).group_by(Order.status)
    )
    return {str(status): count for status, count in session.execute(query)}


def owed_to_sellers(session: Session) -> int:
    """What the next payout batch would pay."""
    query = select(func.coalesce(func.sum(LedgerAccount.balance_fen), 0)).where(
        LedgerAccount.kind == "payable"
    )
    return int(session.scalar(query))  # PostgreSQL sums BIGINT as NUMERIC


def invoices_due_soon(
    session: Session, organisation_id: int, *, today, days: int = 3
) -> list[Invoice]:
    """The buyer's unpaid invoices that are overdue or due within `days`, the one due first first."""

    query = select(Invoice).where(
        Invoice.buyer_id == organisation_id,
        Invoice.paid_at.is_(None),
        Invoice.due_on <= today + timedelta(days=days),
    )
    return list(session.scalars(query.order_by(Invoice.due_on, Invoice.id)))

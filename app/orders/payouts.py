"""Payouts (embedded provider): every seller's payable balance paid out in one batch, exported for the bank,
and invoice reminders for buyers paying on account."""

import csv
import io
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import events
from app.db import local_date, utcnow
from app.errors import Conflict
from app.orders.models import Order, OrderStatus
from app.payments import ledger
from app.payments.models import AccountKind, Invoice, LedgerAccount, Payout, PayoutBatch

REMIND_DAYS_BEFORE = 3


def run_payout_batch(
    session: Session, *, actor_id: int, now: datetime | None = None
) -> PayoutBatch:
    """Pay every seller what the platform owes it now; its orders shared out so far become completed."""
    now = now or utcnow()
    owed = session.execute(
        select(LedgerAccount.id, LedgerAccount.organisation_id)
        .where(LedgerAccount.kind == AccountKind.payable, LedgerAccount.balance_fen > 0)
        .order_by(LedgerAccount.id)
        .with_for_update()
    ).all()
    if not owed:
        raise Conflict(_("No seller is owed anything now; there is nothing to pay out."))
    batch = PayoutBatch(created_by_id=actor_id, created_at=now)
    session.add(batch)
    session.flush()  # the batch's id names its postings
    for account_id, seller_id in owed:
        _pay_out(session, batch, account_id, seller_id, actor_id, now)
    return batch


def _pay_out(session, batch: PayoutBatch, account_id: int, seller_id: int, actor_id, now) -> None:
    """One seller's whole payable into the batch; its orders shared out so far are now completed."""
    amount = session.scalar(select(LedgerAccount.balance_fen).where(LedgerAccount.id == account_id))
    ledger.post(
        session,
        key=f"payout:{batch.id}:{seller_id}",
        kind="payout",
        actor_id=actor_id,
        moves={ledger.payable(seller_id): -amount, ledger.BANK: amount},
    )
    batch.payouts.append(Payout(organisation_id=seller_id, amount_fen=amount))
    batch.total_fen += amount
    session.execute(
        update(Order)
        .where(
            Order.seller_id == seller_id,
            Order.status.in_([OrderStatus.accepted, OrderStatus.resolved]),
        )
        .values(status=OrderStatus.completed, completed_at=now)
    )
    events.record(
        session,
        "payment.paid_out",
        organisation_id=seller_id,
        actor_id=actor_id,
        subject=f"payout_batch:{batch.id}",
        payload={"amount_fen": amount},
        now=now,
    )


def bank_file(batch: PayoutBatch) -> str:
    """The batch as a CSV file for the bank's bulk transfer upload: one row per seller."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["batch", "payee", "unified_social_credit_code", "phone", "amount_yuan", "memo"]
    )
    for payout in batch.payouts:
        seller = payout.organisation
        writer.writerow(
            [
                batch.id,
                seller.name_zh,
                seller.credit_code,
                seller.contact_phone,
                f"{payout.amount_fen // 100}.{payout.amount_fen % 100:02d}",
                f"AgriLink payout {batch.id}",
            ]
        )
    return out.getvalue()


def remind_due_invoices(session: Session, *, now: datetime | None = None) -> int:
    """Tell buyers on account about invoices falling due within a few days (once per invoice)."""
    now = now or utcnow()
    horizon = local_date(now) + timedelta(days=REMIND_DAYS_BEFORE)
    due = session.scalars(
        select(Invoice)
        .where(Invoice.paid_at.is_(None), Invoice.reminded_at.is_(None), Invoice.due_on <= horizon)
        .order_by(Invoice.id)
        .with_for_update(skip_locked=True)
    ).all()
    for bill in due:
        bill.reminded_at = now
        events.record(
            session,
            "invoice.due_soon",
            organisation_id=bill.buyer_id,
            subject=f"order:{bill.order_id}",
            payload={
                "invoice_id": bill.id,
                "due_on": bill.due_on.isoformat(),
                "owed_fen": bill.amount_fen - bill.paid_fen,
            },
            now=now,
        )
    return len(due)

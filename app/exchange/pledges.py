"""Pledging warehouse receipts (仓单质押): a holder pledges a held receipt to a lender as security for a
loan, and the warehouse, which keeps the tea, discharges the pledge when the lender confirms the loan is
repaid.

Pledging is the same conditional UPDATE from `held` as offering, so a receipt is never pledged twice, nor
pledged and sold at once; while pledged it cannot be offered, split, merged or released, as every one of
those needs it held.
"""

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import local_date, utcnow
from app.errors import Conflict, RuleViolation
from app.exchange.models import MoveKind, Receipt, ReceiptPledge, ReceiptStatus
from app.exchange.receipts import (
    change_status,
    issued_receipt,
    note_move,
    own_receipt,
    record_receipt_event,
)


def pledge_receipt(
    session: Session,
    *,
    holder_id: int,
    actor_id: int,
    receipt_id: int,
    lender: str,
    loan_reference: str,
    amount_fen: int,
    until: date,
    now: datetime | None = None,
) -> Receipt:
    """Pledge a held receipt, all of it, to `lender` for the loan `loan_reference` due on `until`."""
    now = now or utcnow()
    if until <= local_date(now):
        raise RuleViolation(_("The loan must fall due after today."), field="until")
    receipt = own_receipt(session, holder_id, receipt_id)
    change_status(
        session, receipt, ReceiptStatus.held, ReceiptStatus.pledged, net_kg=receipt.net_kg
    )
    session.add(
        ReceiptPledge(
            receipt_id=receipt.id,
            lender=lender,
            loan_reference=loan_reference,
            amount_fen=amount_fen,
            until=until,
            pledged_by_id=actor_id,
            pledged_at=now,
        )
    )
    note_move(session, receipt, MoveKind.pledged, 0, actor_id=actor_id, now=now)
    record_receipt_event(session, "exchange.receipt_pledged", receipt, actor_id, now, lender=lender)
    return receipt


def discharge_pledge(
    session: Session,
    *,
    warehouse_id: int,
    actor_id: int,
    receipt_id: int,
    now: datetime | None = None,
) -> Receipt:
    """The lender says the loan is repaid: the receipt is its holder's to use again."""
    now = now or utcnow()
    receipt = issued_receipt(session, warehouse_id, receipt_id)
    pledge = session.scalar(
        select(ReceiptPledge).where(
            ReceiptPledge.receipt_id == receipt.id, ReceiptPledge.discharged_at.is_(None)
        )
    )
    if pledge is None:
        raise Conflict(_("Receipt %(number)s is not pledged.", number=receipt.number))
    change_status(session, receipt, ReceiptStatus.pledged, ReceiptStatus.held)
    pledge.discharged_at, pledge.discharged_by_id = now, actor_id
    note_move(session, receipt, MoveKind.discharged, 0, actor_id=actor_id, now=now)
    record_receipt_event(
        session, "exchange.pledge_discharged", receipt, actor_id, now, lender=pledge.lender
    )
    return receipt

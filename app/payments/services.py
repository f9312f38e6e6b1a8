"""Money use cases of the embedded provider: bank transfers in, the platform fee, credit for buyers on account.

The embedded provider needs no network: an admin confirms a transfer against the bank statement, and payouts
leave as a file for the bank (app/orders/payouts.py). Each outside fact becomes one ledger posting.
"""

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation
from app.auth import BUYER_KINDS
from app.db import utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.payments import ledger
from app.payments.models import BankTransfer, CreditTerms, FeeRate, Invoice

DEFAULT_FEE_BPS = 200  # 2%, until an admin sets another rate
MAX_FEE_BPS = 3_000


def current_fee_bps(session: Session) -> int:
    """The fee new orders are placed with, in basis points of what a buyer accepts."""
    return session.scalar(select(current_fee()))


def current_fee() -> ColumnElement[int]:
    """current_fee_bps as an expression, to read it in a statement that reads something else."""
    newest = select(FeeRate.basis_points).order_by(FeeRate.id.desc()).limit(1).scalar_subquery()
    return func.coalesce(newest, DEFAULT_FEE_BPS)


def set_fee_rate(
    session: Session, *, actor_id: int, basis_points: int, now: datetime | None = None
) -> FeeRate:
    """Change the platform fee for orders placed from now on (orders placed before keep theirs)."""
    if not 0 <= basis_points <= MAX_FEE_BPS:
        raise RuleViolation(
            _("The fee must be between 0 and %(max)d basis points.", max=MAX_FEE_BPS),
            field="basis_points",
        )
    rate = FeeRate(basis_points=basis_points, set_by_id=actor_id, set_at=now or utcnow())
    session.add(rate)
    events.record(
        session, "fee.set", actor_id=actor_id, payload={"basis_points": basis_points}, now=now
    )
    return rate


def confirm_bank_transfer(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    reference: str,
    amount_fen: int,
    received_on: date,
    now: datetime | None = None,
) -> BankTransfer:
    """Credit a buyer with money seen on the bank statement: to its wallet, or first against what it owes on
    account. A reference is confirmed once; confirming it again is refused."""
    now = now or utcnow()
    buyer = session.get(Organisation, organisation_id)
    if buyer is None or buyer.kind not in BUYER_KINDS:
        raise NotFound(_("No buyer with that number."), field="organisation_id")
    if amount_fen <= 0:
        raise RuleViolation(_("Enter an amount above zero."), field="amount_yuan")
    if session.scalar(select(BankTransfer.id).where(BankTransfer.reference == reference)):
        raise Conflict(
            _("The transfer %(ref)s was confirmed already.", ref=reference), field="reference"
        )
    transfer = BankTransfer(
        reference=reference,
        organisation=buyer,
        amount_fen=amount_fen,
        received_on=received_on,
        confirmed_by_id=actor_id,
        confirmed_at=now,
    )
    session.add(transfer)
    # Money goes first to the invoices the buyer owes; an order on account that is not yet accepted (and
    # so not yet invoiced) is not owed yet, and the rest of the transfer is the buyer's to spend.
    open_invoices = _open_invoices(session, organisation_id)
    to_debt = min(sum(bill.amount_fen - bill.paid_fen for bill in open_invoices), amount_fen)
    ledger.post(
        session,
        key=f"bank:{reference}",
        kind="top_up",
        memo=reference,
        actor_id=actor_id,
        moves={
            ledger.BANK: -amount_fen,
            ledger.receivable(organisation_id): to_debt,
            ledger.wallet(organisation_id): amount_fen - to_debt,
        },
    )
    _apply_to_invoices(open_invoices, to_debt, now)
    events.record(
        session,
        "payment.transfer_confirmed",
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=f"organisation:{organisation_id}",
        payload={"reference": reference, "amount_fen": amount_fen, "to_debt_fen": to_debt},
        now=now,
    )
    return transfer


def _open_invoices(session: Session, buyer_id: int) -> list[Invoice]:
    """The buyer's unpaid invoices, the one due first first, locked until the transaction ends."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.buyer_id == buyer_id, Invoice.paid_at.is_(None))
            .order_by(Invoice.due_on, Invoice.id)
            .with_for_update()
        )
    )


def _apply_to_invoices(open_invoices: list[Invoice], amount_fen: int, now: datetime) -> None:
    """Pay the open invoices with `amount_fen`, in the order given."""
    for bill in open_invoices:
        if amount_fen <= 0:
            return
        paid = min(amount_fen, bill.amount_fen - bill.paid_fen)
        bill.paid_fen += paid
        amount_fen -= paid
        if bill.paid_fen == bill.amount_fen:
            bill.paid_at = now


def set_credit_terms(
    session: Session,
    *,
    actor_id: int,
    organisation_id: int,
    limit_fen: int,
    days: int,
    now: datetime | None = None,
) -> CreditTerms:
    """Let a buyer pay on account, up to a limit, with `days` to pay each invoice (0 closes the account)."""
    now = now or utcnow()
    buyer = session.get(Organisation, organisation_id)
    if buyer is None or buyer.kind not in BUYER_KINDS:
        raise NotFound(_("No buyer with that number."), field="organisation_id")
    if limit_fen < 0:
        raise RuleViolation(_("The credit limit cannot be negative."), field="limit_yuan")
    if not 1 <= days <= 180:
        raise RuleViolation(_("Payment terms run from 1 to 180 days."), field="days")
    ledger.set_floor(session, ledger.receivable(organisation_id), -limit_fen)
    terms = session.get(CreditTerms, organisation_id) or CreditTerms(
        organisation_id=organisation_id
    )
    terms.limit_fen, terms.days, terms.set_by_id, terms.set_at = limit_fen, days, actor_id, now
    session.add(terms)
    events.record(
        session,
        "payment.credit_set",
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=f"organisation:{organisation_id}",
        payload={"limit_fen": limit_fen, "days": days},
        now=now,
    )
    return terms

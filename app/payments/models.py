"""The ledger: accounts with their balances, transactions with a unique idempotency key, and entries.

Money moves only by posting a transaction whose entries sum to zero (app/payments/ledger.py). An account's
balance is what it holds, in fen; an account with a floor (a wallet, an escrow, a payable) may never go below
it, and the database refuses a balance that would.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation
from app.db import Base, BigId, utcnow


class AccountKind(StrEnum):
    bank = "bank"  # the world outside: bank transfers in, payouts out (its balance is minus what we hold)
    wallet = "wallet"  # a buyer's money on the platform
    receivable = (
        "receivable"  # what a buyer paying on account owes (down to minus its credit limit)
    )
    escrow = "escrow"  # one order's money, held until the buyer accepts
    deposit = "deposit"  # one order contract's deposit (定金), held while the contract runs
    exchange = "exchange"  # a member's exchange deposit (保证金): free to back bids and buy orders
    reserved = "reserved"  # a member's exchange money set aside for its open bids and buy orders
    trade = "trade"  # one exchange trade's money, held until pickup or T+N days
    payable = "payable"  # what the platform owes a seller until the next payout
    fees = "fees"  # the platform's own revenue
    stripe = "stripe"  # the card processor: card payments in, refunds and transfers to sellers out


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("floor_fen IS NULL OR balance_fen >= floor_fen", name="above_floor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)  # "wallet:12", "escrow:345"
    kind: Mapped[AccountKind]
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(index=True)  # escrow accounts only
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    floor_fen: Mapped[int | None] = mapped_column(
        BigInteger, default=0
    )  # None: no floor (the bank)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # top_up, hold, release, refund, payout, ...
    order_id: Mapped[int | None] = mapped_column(index=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    entries: Mapped[list["LedgerEntry"]] = relationship(
        back_populates="transaction", order_by="LedgerEntry.id"
    )


class LedgerEntry(Base):
    """One side of a transaction: append-only; a correction is a new, reversing transaction."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # + money into the account, − out of it

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()


class FeeRate(Base):
    """The platform fee, in basis points of what a buyer accepts; the newest row applies to new orders."""

    __tablename__ = "fee_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    basis_points: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankTransfer(Base):
    """Money a buyer sent to the platform's bank account, confirmed by an admin against the statement."""

    __tablename__ = "bank_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(60), unique=True)  # the bank's own reference
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date]
    confirmed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()


class PayoutBatch(Base):
    """Every seller's payable balance at one moment, paid out together and exported for the bank."""

    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    payouts: Mapped[list["Payout"]] = relationship(back_populates="batch", order_by="Payout.id")


class Payout(Base):
    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("batch_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    batch: Mapped[PayoutBatch] = relationship(back_populates="payouts")
    organisation: Mapped[Organisation] = relationship()


class CreditTerms(Base):
    """A buyer allowed to pay on account: how much it may owe, and how many days it has to pay."""

    __tablename__ = "credit_terms"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    limit_fen: Mapped[int] = mapped_column(BigInteger)
    days: Mapped[int]
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()


class Invoice(Base):
    """What a buyer paying on account owes for what it accepted of one order, and by when."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    issued_on: Mapped[date]
    due_on: Mapped[date] = mapped_column(index=True)
    # Bank transfers are applied to the invoice due first.
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reminded_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]  # when the last fen arrived

    buyer: Mapped[Organisation] = relationship()

    def is_overdue(self, today: date) -> bool:
        return self.paid_at is None and self.due_on < today


class StripeEvent(Base):
    """A Stripe webhook event, stored once, in the same transaction as the postings it caused."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class CardPayment(Base):
    """One checkout paid by card: the PaymentIntent charged into the platform's Stripe balance."""

    __tablename__ = "card_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), unique=True)
    intent_id: Mapped[str] = mapped_column(String(80), unique=True)
    client_secret: Mapped[str] = mapped_column(String(200))
    charge_id: Mapped[str | None] = mapped_column(String(80))  # ch_..., the source of transfers
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    succeeded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeAccount(Base):
    """A seller's Stripe Connect account, to which its share of each accepted order is transferred."""

    __tablename__ = "stripe_accounts"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(80), unique=True)  # acct_...
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeCall(Base):
    """A refund or transfer to make at Stripe, written in the transaction that booked it in the ledger and
    made after that commits (again by a job until Stripe confirms): never for a rolled-back step, never
    twice, as `key` is also the call's Stripe idempotency key."""

    __tablename__ = "stripe_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # refund, transfer
    params: Mapped[dict] = mapped_column(JSON)
    order_id: Mapped[int | None] = mapped_column(index=True)
    stripe_id: Mapped[str | None] = mapped_column(String(80))  # re_..., tr_... once made
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(index=True)

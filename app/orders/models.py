"""Orders: one per seller per checkout, their lines at the price of the moment, inspections and disputes."""

from datetime import date, datetime, time
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation, User
from app.catalog.models import Batch, Listing
from app.db import Base, BigId, utcnow
from app.errors import Conflict
from app.i18n import N_
from app.uploads import Upload


class OrderStatus(StrEnum):
    placed = "placed"  # stock taken, not paid yet (expires)
    paid = "paid"  # the buyer's money is held in the order's escrow
    shipped = "shipped"
    delivered = "delivered"
    accepted = "accepted"  # inspected and signed off (in full or in part): the money is shared out
    completed = "completed"  # the seller's share has been paid out
    cancelled = "cancelled"
    disputed = "disputed"
    resolved = "resolved"  # an admin decided the dispute and shared the money out


class PaymentMethod(StrEnum):
    wallet = "wallet"  # from money the buyer transferred to the platform
    account = "account"  # on credit, invoiced with payment terms
    later = "later"  # placed now, paid before it expires
    card = "card"  # by card through Stripe (when the platform has a Stripe key)


# Where an order may go next, and who moves it there (the services check the "who").
NEXT = {
    OrderStatus.placed: {OrderStatus.paid, OrderStatus.cancelled},
    OrderStatus.paid: {OrderStatus.shipped, OrderStatus.cancelled},
    OrderStatus.shipped: {OrderStatus.delivered, OrderStatus.accepted, OrderStatus.disputed},
    OrderStatus.delivered: {OrderStatus.accepted, OrderStatus.disputed},
    OrderStatus.accepted: {OrderStatus.completed},
    OrderStatus.disputed: {OrderStatus.resolved},
    OrderStatus.resolved: {OrderStatus.completed},
}
# Orders whose buyer's money is in escrow.
HOLDING = frozenset(
    {OrderStatus.paid, OrderStatus.shipped, OrderStatus.delivered, OrderStatus.disputed}
)


class Checkout(Base):
    """One press of "place order": the orders it made, and the request it was, for idempotent replays."""

    __tablename__ = "checkouts"
    __table_args__ = (UniqueConstraint("buyer_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    orders: Mapped[list["Order"]] = relationship(back_populates="checkout", order_by="Order.id")


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[OrderStatus] = mapped_column(default=OrderStatus.placed, index=True)
    payment: Mapped[PaymentMethod]
    total_fen: Mapped[int] = mapped_column(BigInteger)
    fee_bps: Mapped[int]  # the platform fee when the order was placed
    # Days to pay its invoice, agreed with the seller (an order contract's terms); None: the buyer's
    # credit terms decide.
    payment_days: Mapped[int | None]
    accepted_fen: Mapped[int | None] = mapped_column(
        BigInteger
    )  # what the buyer accepted (or a dispute awarded the seller)
    fee_fen: Mapped[int | None] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    delivery_point: Mapped[str] = mapped_column(String(200))
    delivery_date: Mapped[date]
    window_start: Mapped[time]
    window_end: Mapped[time]
    note: Mapped[str] = mapped_column(String(500), default="")
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    placed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(index=True)  # unpaid orders only
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    checkout: Mapped[Checkout] = relationship(back_populates="orders")
    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_id])
    placed_by: Mapped[User] = relationship()
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    inspection: Mapped["Inspection | None"] = relationship(back_populates="order")
    dispute: Mapped["Dispute | None"] = relationship(back_populates="order")

    def move_to(self, status: OrderStatus) -> None:
        """Change state, refusing a move the order's life does not allow (paying a cancelled order...)."""
        if status not in NEXT.get(self.status, ()):
            raise Conflict(
                _(
                    "Order %(id)s is %(status)s; it cannot become %(next)s.",
                    id=self.id,
                    status=status_label(self.status),
                    next=status_label(status),
                )
            )
        self.status = status

    @property
    def holds_money(self) -> bool:
        return self.status in HOLDING


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    quantity: Mapped[int]
    price_fen: Mapped[int]  # per unit, as it was when the order was placed
    accepted_quantity: Mapped[int | None]
    # Where the stock came from when not straight from the listing (a flash deal's reserve): where it goes
    # back if the order is cancelled.
    reserve_id: Mapped[int | None] = mapped_column(ForeignKey("stock_reserves.id"), index=True)

    order: Mapped[Order] = relationship(back_populates="lines")
    listing: Mapped[Listing] = relationship()
    batch: Mapped[Batch | None] = relationship()

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.price_fen


class TestOutcome(StrEnum):
    __test__ = False  # a quick test at the gate, not a test case for pytest to collect

    passed = "passed"
    failed = "failed"
    not_tested = "not_tested"


class Inspection(Base):
    """What the buyer's inspectors found at delivery, and who signed it off."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    inspectors: Mapped[str] = mapped_column(String(200))  # the names of those present
    weights: Mapped[str] = mapped_column(String(500), default="")  # what the scales said
    test_outcome: Mapped[TestOutcome]
    note: Mapped[str] = mapped_column(Text, default="")
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="inspection")
    photos: Mapped[list["InspectionPhoto"]] = relationship(
        back_populates="inspection", order_by="InspectionPhoto.id", cascade="all, delete-orphan"
    )
    signed_by: Mapped[User] = relationship()


class InspectionPhoto(Base):
    """A photo the inspectors took at the gate (the scales, a spoiled crate)."""

    __tablename__ = "inspection_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))

    inspection: Mapped[Inspection] = relationship(back_populates="photos")
    upload: Mapped[Upload] = relationship()


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    refund_fen: Mapped[int | None] = mapped_column(BigInteger)
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="dispute")
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])


_STATUS_LABELS = {
    OrderStatus.placed: N_("awaiting payment"),
    OrderStatus.paid: N_("paid"),
    OrderStatus.shipped: N_("shipped"),
    OrderStatus.delivered: N_("delivered"),
    OrderStatus.accepted: N_("accepted"),
    OrderStatus.completed: N_("completed"),
    OrderStatus.cancelled: N_("cancelled"),
    OrderStatus.disputed: N_("disputed"),
    OrderStatus.resolved: N_("resolved"),
}


def status_label(status: str) -> str:
    return _(_STATUS_LABELS[OrderStatus(status)])


_PAYMENT_LABELS = {
    PaymentMethod.wallet: N_("from the wallet"),
    PaymentMethod.account: N_("on account"),
    PaymentMethod.later: N_("to pay later"),
    PaymentMethod.card: N_("by card"),
}
_OUTCOME_LABELS = {
    TestOutcome.passed: N_("passed"),
    TestOutcome.failed: N_("failed"),
    TestOutcome.not_tested: N_("not tested"),
}


def payment_label(method: str) -> str:
    return _(_PAYMENT_LABELS[PaymentMethod(method)])


def outcome_label(outcome: str) -> str:
    return _(_OUTCOME_LABELS[TestOutcome(outcome)])


def outcome_options() -> list[tuple[str, str]]:
    return [(outcome.value, outcome_label(outcome)) for outcome in TestOutcome]

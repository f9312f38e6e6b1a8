"""Supply-chain scheduling: where buyers take deliveries, what sellers can carry and by when they take orders,
standing orders and the deliveries they made, vehicles, daily dispatch plans with their stops, and expected
harvests.
"""

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation
from app.catalog.models import Listing, Product
from app.db import Base, BigId, utcnow
from app.i18n import N_
from app.orders.models import PaymentMethod


class DeliveryPoint(Base):
    """A buyer's gate or receiving dock: where it is on the map and when it takes deliveries."""

    __tablename__ = "delivery_points"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # orders name their delivery point by it
    address: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    window_start: Mapped[time]
    window_end: Mapped[time]


class SupplyTerms(Base):
    """How much a seller can deliver in a day, and by when it takes the orders for a day."""

    __tablename__ = "supply_terms"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    daily_capacity_kg: Mapped[int]
    cutoff: Mapped[time]  # orders for a day come in before this time ...
    cutoff_days: Mapped[int] = mapped_column(default=1)  # ... this many days before it


class Closure(Base):
    """Days a buyer takes no standing deliveries: a school's holidays, a shop's closing for stocktaking."""

    __tablename__ = "delivery_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    starts_on: Mapped[date]
    ends_on: Mapped[date]


class StandingOrder(Base):
    """The same delivery on the same weekdays: the scheduler makes each day's orders ahead."""

    __tablename__ = "standing_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    delivery_point_id: Mapped[int] = mapped_column(ForeignKey("delivery_points.id"))
    weekdays: Mapped[str] = mapped_column(String(7))  # ISO weekdays, "12345" for Monday to Friday
    window_start: Mapped[time]
    window_end: Mapped[time]
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    days_ahead: Mapped[int] = mapped_column(default=2)  # orders are made this many days ahead
    payment: Mapped[PaymentMethod]
    active: Mapped[bool] = mapped_column(default=True, index=True)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    delivery_point: Mapped[DeliveryPoint] = relationship()
    buyer: Mapped[Organisation] = relationship()
    lines: Mapped[list["StandingOrderLine"]] = relationship(
        back_populates="standing_order",
        cascade="all, delete-orphan",
        order_by="StandingOrderLine.id",
    )

    def runs_on(self, day: date) -> bool:
        return (
            str(day.isoweekday()) in self.weekdays
            and self.starts_on <= day
            and (self.ends_on is None or day <= self.ends_on)
        )


class StandingOrderLine(Base):
    """What a standing order takes from one supplier's listing each time (several lines split it)."""

    __tablename__ = "standing_order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(
        ForeignKey("standing_orders.id", ondelete="CASCADE"), index=True
    )
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    quantity: Mapped[int]

    standing_order: Mapped[StandingOrder] = relationship(back_populates="lines")
    listing: Mapped[Listing] = relationship()


class RunStatus(StrEnum):
    ordered = "ordered"
    not_ordered = "not_ordered"  # refused (stock, capacity, cut-off): `problem` says why
    closed = "closed"  # the buyer's calendar says no delivery that day


class StandingDelivery(Base):
    """One day of a standing order: ordered, refused with the reason, or a closed day. One row per day."""

    __tablename__ = "standing_deliveries"
    __table_args__ = (UniqueConstraint("standing_order_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    standing_order_id: Mapped[int] = mapped_column(ForeignKey("standing_orders.id"))
    day: Mapped[date] = mapped_column(index=True)
    status: Mapped[RunStatus]
    checkout_id: Mapped[int | None] = mapped_column(ForeignKey("checkouts.id"))
    problem: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vehicle(Base):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    capacity_kg: Mapped[int]
    refrigerated: Mapped[bool] = mapped_column(default=False)
    depot_latitude: Mapped[float] = mapped_column(Float)
    depot_longitude: Mapped[float] = mapped_column(Float)
    shift_start: Mapped[time]
    shift_end: Mapped[time]
    active: Mapped[bool] = mapped_column(default=True)


class DispatchPlan(Base):
    """A seller's deliveries of one day: its stops on its vehicles, in order, with times of arrival."""

    __tablename__ = "dispatch_plans"
    __table_args__ = (UniqueConstraint("organisation_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    day: Mapped[date]
    planned_at: Mapped[datetime] = mapped_column(default=utcnow)
    planned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    travel_minutes: Mapped[int] = mapped_column(default=0)
    solve_ms: Mapped[int] = mapped_column(default=0)

    stops: Mapped[list["Stop"]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Stop.id"
    )
    routes: Mapped[list["Route"]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Route.vehicle_id"
    )


class Route(Base):
    """One vehicle's run in a plan; the driver marks when it left."""

    __tablename__ = "dispatch_routes"
    __table_args__ = (UniqueConstraint("plan_id", "vehicle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("dispatch_plans.id", ondelete="CASCADE"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    travel_minutes: Mapped[int] = mapped_column(default=0)
    departed_at: Mapped[datetime | None]

    plan: Mapped[DispatchPlan] = relationship(back_populates="routes")
    vehicle: Mapped[Vehicle] = relationship()


class Stop(Base):
    """One buyer's delivery point in a plan, with every order for it that day (consolidated)."""

    __tablename__ = "dispatch_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("dispatch_plans.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    point_name: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[time]
    window_end: Mapped[time]
    load_kg: Mapped[int]
    cold: Mapped[bool] = mapped_column(default=False)
    order_ids: Mapped[str] = mapped_column(Text)  # "12,15": the orders it delivers
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    sequence: Mapped[int | None]
    eta: Mapped[datetime | None]
    pinned: Mapped[bool] = mapped_column(default=False)  # the dispatcher put it on this vehicle
    unserved_reason: Mapped[str] = mapped_column(String(300), default="")
    arrived_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    late: Mapped[bool] = mapped_column(default=False)

    plan: Mapped[DispatchPlan] = relationship(back_populates="stops")
    buyer: Mapped[Organisation] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()

    @property
    def orders(self) -> list[int]:
        return [int(order_id) for order_id in self.order_ids.split(",") if order_id]


class ExpectedHarvest(Base):
    """What a seller expects to harvest: spread evenly over its weeks in the supply-and-demand view."""

    __tablename__ = "expected_harvests"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    zone: Mapped[str] = mapped_column(String(60), default="")
    quantity_kg: Mapped[int]
    first_week: Mapped[date]  # a Monday
    weeks: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship()
    organisation: Mapped[Organisation] = relationship()


RUN_LABELS = {
    RunStatus.ordered: N_("orders made"),
    RunStatus.not_ordered: N_("not ordered"),
    RunStatus.closed: N_("no delivery (closed)"),
}

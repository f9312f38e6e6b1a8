"""Standing orders: the same delivery on the same weekdays, turned into orders ahead of each day.

Each day of a standing order is one row (standing_deliveries, unique per day). The job claims the row in
the transaction that places the day's orders (checkout key `standing:<id>:<day>`), so it orders each day
once however often it runs; a day it could not order (stock, capacity, cut-off) is recorded with the reason
and tried again on the next run until its cut-off passes.
"""

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from app import events
from app.auth import OrgKind
from app.catalog.models import Listing, Unit
from app.db import LOCAL_TIME, local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.logistics.models import (
    Closure,
    DeliveryPoint,
    RunStatus,
    StandingDelivery,
    StandingOrder,
    StandingOrderLine,
    SupplyTerms,
)
from app.logistics.services import check_window
from app.orders.models import Order, OrderLine, OrderStatus, PaymentMethod
from app.orders.services import Delivery, place_orders


def create_standing_order(
    session: Session,
    *,
    buyer_id: int,
    buyer_kind: OrgKind,
    actor_id: int,
    delivery_point_id: int,
    weekdays: str,
    window_start: time,
    window_end: time,
    starts_on: date,
    lines: list[dict],
    ends_on: date | None = None,
    days_ahead: int = 2,
    payment: PaymentMethod = PaymentMethod.wallet,
    note: str = "",
) -> StandingOrder:
    """Set up a standing order: lines from one or several suppliers' listings, on the given weekdays."""
    point = session.get(DeliveryPoint, delivery_point_id)
    if point is None or point.organisation_id != buyer_id:
        raise RuleViolation(_("Choose one of your delivery points."), field="delivery_point_id")
    check_window(window_start, window_end)
    if ends_on is not None and ends_on < starts_on:
        raise RuleViolation(_("The last day comes before the first."), field="ends_on")
    for position, line in enumerate(lines):
        listing = _check_listing(
            session, line["listing_id"], buyer_id, buyer_kind, f"lines.{position}.listing_id"
        )
        _check_ahead_of_cutoff(session, listing, days_ahead)
    standing = StandingOrder(
        buyer_id=buyer_id,
        delivery_point=point,
        weekdays="".join(sorted(set(weekdays))),
        window_start=window_start,
        window_end=window_end,
        starts_on=starts_on,
        ends_on=ends_on,
        days_ahead=days_ahead,
        payment=payment,
        note=note,
        created_by_id=actor_id,
        lines=[
            StandingOrderLine(listing_id=line["listing_id"], quantity=line["quantity"])
            for line in lines
        ],
    )
    session.add(standing)
    session.flush()  # its id names its event
    events.record(
        session,
        "standing_order.created",
        organisation_id=buyer_id,
        actor_id=actor_id,
        subject=f"standing_order:{standing.id}",
        payload={"weekdays": standing.weekdays, "lines": len(lines)},
    )
    return standing


def _check_listing(
    session, listing_id: int, buyer_id: int, buyer_kind: OrgKind, field: str
) -> None:
    listing = session.get(Listing, listing_id)
    if listing is None or listing.status == "draft" or not listing.visible_to_kind(buyer_kind):
        raise RuleViolation(
            _("Listing %(id)s is not for sale to your organisation.", id=listing_id), field=field
        )
    if listing.organisation_id == buyer_id:
        raise RuleViolation(_("You cannot order your own produce."), field=field)
    return listing


def _check_ahead_of_cutoff(session, listing: Listing, days_ahead: int) -> None:
    """Orders made later than the supplier's cut-off would all be refused: say so now."""
    terms = session.get(SupplyTerms, listing.organisation_id)
    if terms is not None and days_ahead < terms.cutoff_days + 1:
        raise RuleViolation(
            _(
                "%(seller)s takes orders until %(time)s, %(days)d days before the delivery: make the "
                "orders at least %(ahead)d days ahead.",
                seller=listing.seller.name_zh,
                time=terms.cutoff.strftime("%H:%M"),
                days=terms.cutoff_days,
                ahead=terms.cutoff_days + 1,
            ),
            field="days_ahead",
        )


def stop_standing_order(session: Session, *, buyer_id: int, actor_id: int, standing_order_id: int):
    """No more days from this standing order (orders already made stand)."""
    standing = session.get(StandingOrder, standing_order_id)
    if standing is None or standing.buyer_id != buyer_id:
        raise NotFound(_("Standing order %(id)s does not exist.", id=standing_order_id))
    standing.active = False
    events.record(
        session,
        "standing_order.stopped",
        organisation_id=buyer_id,
        actor_id=actor_id,
        subject=f"standing_order:{standing.id}",
    )
    return standing


def days_to_order(session: Session, *, now: datetime) -> list[tuple[int, date]]:
    """(standing order, day) pairs whose orders are due to be made and are not made yet."""
    today = local_date(now)
    done = {
        (row.standing_order_id, row.day)
        for row in session.execute(
            select(StandingDelivery.standing_order_id, StandingDelivery.day).where(
                StandingDelivery.day > today, StandingDelivery.status != RunStatus.not_ordered
            )
        )
    }
    due = []
    for standing in session.scalars(select(StandingOrder).where(StandingOrder.active.is_(True))):
        for ahead in range(1, standing.days_ahead + 1):
            day = today + timedelta(days=ahead)
            if standing.runs_on(day) and (standing.id, day) not in done:
                due.append((standing.id, day))
    return due


def order_day(session: Session, *, standing_order_id: int, day: date, now: datetime | None = None):
    """Make one day's orders of a standing order (or record a closed day); None if another run did."""
    now = now or utcnow()
    standing = session.scalar(
        select(StandingOrder)
        .where(StandingOrder.id == standing_order_id)
        .options(selectinload(StandingOrder.lines).selectinload(StandingOrderLine.listing))
    )
    if not _claim(session, standing.id, day, now):
        return None
    closed = _closure_on(session, standing.buyer_id, day)
    if closed is not None:
        _set(session, standing.id, day, RunStatus.closed, problem=closed.name)
        return RunStatus.closed
    needs: dict[int, int] = {}  # kg per seller: lines from one seller count together
    for line in standing.lines:
        _check_cutoff(session, line.listing, day, now)
        seller = line.listing.organisation_id
        needs[seller] = needs.get(seller, 0) + _kg(session, line.listing, line.quantity)
    for line in {line.listing.organisation_id: line for line in standing.lines}.values():
        _check_capacity(session, line.listing, day, needs[line.listing.organisation_id])
    placed = place_orders(
        session,
        buyer_id=standing.buyer_id,
        buyer_kind=standing.buyer.kind,
        actor_id=standing.created_by_id,
        lines=[
            {"listing_id": line.listing_id, "quantity": line.quantity} for line in standing.lines
        ],
        delivery=Delivery(
            standing.delivery_point.name,
            day,
            standing.window_start,
            standing.window_end,
            standing.note,
        ),
        payment=standing.payment,
        idempotency_key=f"standing:{standing.id}:{day.isoformat()}",
        unpaid_minutes=max(60, (_day_start(day) - now) // timedelta(minutes=1)),
        now=now,
    )
    _set(session, standing.id, day, RunStatus.ordered, checkout_id=placed.checkout_id)
    return RunStatus.ordered


def _claim(session: Session, standing_order_id: int, day: date, now: datetime) -> bool:
    """Take the day for this run: a new row, or one left not ordered by an earlier run."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = session.scalar(
        dialect.insert(StandingDelivery)
        .values(
            standing_order_id=standing_order_id, day=day, status=RunStatus.ordered, updated_at=now
        )
        .on_conflict_do_nothing(index_elements=["standing_order_id", "day"])
        .returning(StandingDelivery.id)
    )
    if inserted is not None:
        return True
    retried = session.execute(
        update(StandingDelivery)
        .where(
            StandingDelivery.standing_order_id == standing_order_id,
            StandingDelivery.day == day,
            StandingDelivery.status == RunStatus.not_ordered,
        )
        .values(status=RunStatus.ordered, problem="", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return retried.rowcount == 1


def _set(session, standing_order_id: int, day: date, status: RunStatus, **values) -> None:
    session.execute(
        update(StandingDelivery)
        .where(StandingDelivery.standing_order_id == standing_order_id, StandingDelivery.day == day)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )


def record_refusal(
    session: Session, *, standing_order_id: int, day: date, problem: str, now: datetime
):
    """A day that could not be ordered: kept with the reason, for the buyer to see and the next run to try
    again. The buyer is told once per reason, not on every run."""
    problem = problem[:300]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(StandingDelivery)
        .values(
            standing_order_id=standing_order_id,
            day=day,
            status=RunStatus.not_ordered,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["standing_order_id", "day"])
    )
    row = session.scalar(
        select(StandingDelivery).where(
            StandingDelivery.standing_order_id == standing_order_id, StandingDelivery.day == day
        )
    )
    if row.status != RunStatus.not_ordered or row.problem == problem:
        return  # ordered meanwhile by another run, or the buyer already knows
    row.problem, row.updated_at = problem, now
    standing = session.get(StandingOrder, standing_order_id)
    events.record(
        session,
        "standing_order.not_ordered",
        organisation_id=standing.buyer_id,
        subject=f"standing_order:{standing_order_id}",
        payload={"day": day.isoformat(), "problem": problem},
        now=now,
    )


def _closure_on(session: Session, buyer_id: int, day: date) -> Closure | None:
    return session.scalar(
        select(Closure).where(
            Closure.organisation_id == buyer_id, Closure.starts_on <= day, Closure.ends_on >= day
        )
    )


def _check_cutoff(session: Session, listing: Listing, day: date, now: datetime) -> None:
    terms = session.get(SupplyTerms, listing.organisation_id)
    if terms is None:
        return
    deadline = datetime.combine(day - timedelta(days=terms.cutoff_days), terms.cutoff, LOCAL_TIME)
    if now > deadline:
        raise Conflict(
            _(
                "Past %(seller)s's cut-off: orders for %(day)s were taken until %(deadline)s.",
                seller=listing.seller.name_zh,
                day=day.isoformat(),
                deadline=deadline.strftime("%Y-%m-%d %H:%M"),
            )
        )


def _check_capacity(session: Session, listing: Listing, day: date, kg: int) -> None:
    terms = session.get(SupplyTerms, listing.organisation_id)
    if terms is None:
        return
    promised = promised_kg(session, listing.organisation_id, day)
    if promised + kg > terms.daily_capacity_kg:
        raise Conflict(
            _(
                "Over %(seller)s's daily capacity: %(promised)d of %(capacity)d kg already promised "
                "for %(day)s, and this needs %(kg)d kg.",
                seller=listing.seller.name_zh,
                promised=promised,
                capacity=terms.daily_capacity_kg,
                day=day.isoformat(),
                kg=kg,
            )
        )


def promised_kg(session: Session, seller_id: int, day: date) -> int:
    """Kilograms of the seller's orders (not cancelled) to be delivered on `day`."""
    grams = session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity * Unit.grams), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .join(Unit, Unit.code == OrderLine.unit_code)
        .where(
            Order.seller_id == seller_id,
            Order.delivery_date == day,
            Order.status != OrderStatus.cancelled,
        )
    )
    return int(grams) // 1000


def _kg(session: Session, listing: Listing, quantity: int) -> int:
    return quantity * session.get(Unit, listing.unit_code).grams // 1000


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL_TIME)

"""Read-only selects for the scheduling pages and API."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.errors import NotFound
from app.logistics.models import (
    Closure,
    DeliveryPoint,
    DispatchPlan,
    ExpectedHarvest,
    Route,
    StandingDelivery,
    StandingOrder,
    StandingOrderLine,
    Stop,
    SupplyTerms,
    Vehicle,
)


def points_of(session: Session, organisation_id: int) -> list[DeliveryPoint]:
    query = select(DeliveryPoint).where(DeliveryPoint.organisation_id == organisation_id)
    return list(session.scalars(query.order_by(DeliveryPoint.name)))


def closures_of(session: Session, organisation_id: int) -> list[Closure]:
    query = select(Closure).where(Closure.organisation_id == organisation_id)
    return list(session.scalars(query.order_by(Closure.starts_on)))


def standing_orders_of(session: Session, buyer_id: int) -> list[StandingOrder]:
    query = (
        select(StandingOrder)
        .where(StandingOrder.buyer_id == buyer_id)
        .options(
            selectinload(StandingOrder.lines).selectinload(StandingOrderLine.listing),
            selectinload(StandingOrder.delivery_point),
        )
        .order_by(StandingOrder.active.desc(), StandingOrder.id.desc())
    )
    return list(session.scalars(query))


def standing_deliveries(session: Session, buyer_id: int, *, since: date) -> list[StandingDelivery]:
    """Each day of the buyer's standing orders from `since`: ordered, closed, or refused and why."""
    query = (
        select(StandingDelivery)
        .join(StandingOrder, StandingOrder.id == StandingDelivery.standing_order_id)
        .where(StandingOrder.buyer_id == buyer_id, StandingDelivery.day >= since)
        .order_by(StandingDelivery.day, StandingDelivery.standing_order_id)
    )
    return list(session.scalars(query.limit(200)))


def supply_terms_of(session: Session, organisation_id: int) -> SupplyTerms | None:
    return session.get(SupplyTerms, organisation_id)


def vehicles_of(session: Session, organisation_id: int) -> list[Vehicle]:
    query = select(Vehicle).where(Vehicle.organisation_id == organisation_id)
    return list(session.scalars(query.order_by(Vehicle.id)))


def plan_of(session: Session, organisation_id: int, day: date) -> DispatchPlan | None:
    return session.scalar(
        select(DispatchPlan)
        .where(DispatchPlan.organisation_id == organisation_id, DispatchPlan.day == day)
        .options(
            selectinload(DispatchPlan.stops).selectinload(Stop.buyer),
            selectinload(DispatchPlan.routes).selectinload(Route.vehicle),
        )
    )


def route_of(session: Session, organisation_id: int, route_id: int) -> Route:
    route = session.get(Route, route_id)
    if route is None or route.plan.organisation_id != organisation_id:
        raise NotFound("No such route.")
    return route


def harvests_of(session: Session, organisation_id: int) -> list[ExpectedHarvest]:
    query = (
        select(ExpectedHarvest)
        .where(ExpectedHarvest.organisation_id == organisation_id)
        .options(selectinload(ExpectedHarvest.product))
    )
    return list(session.scalars(query.order_by(ExpectedHarvest.first_week)))


def stops_for_buyer(
    session: Session, buyer_id: int, *, since: date
) -> list[tuple[Stop, DispatchPlan]]:
    """Planned deliveries to the buyer from `since`: when each is expected, and when it came."""
    query = (
        select(Stop, DispatchPlan)
        .join(DispatchPlan, DispatchPlan.id == Stop.plan_id)
        .where(Stop.buyer_id == buyer_id, DispatchPlan.day >= since)
        .order_by(DispatchPlan.day, Stop.eta)
    )
    return list(session.execute(query.limit(100)))

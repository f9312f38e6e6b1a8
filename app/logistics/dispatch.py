"""A seller's daily dispatch plan: its paid orders for the day consolidated into one stop per buyer and
delivery point, put on its vehicles by the router; manual moves; the driver's departed, arrived, delivered.
"""

import time as clock
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app import events
from app.catalog.models import Listing, Product, Unit
from app.db import LOCAL_TIME, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.logistics import routing
from app.logistics.models import DeliveryPoint, DispatchPlan, Route, Stop, Vehicle
from app.orders import delivery
from app.orders.models import Order, OrderLine, OrderStatus

TIME_LIMIT_SECONDS = 5


def plan_day(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    day: date,
    time_limit_s: float = TIME_LIMIT_SECONDS,
    now: datetime | None = None,
) -> DispatchPlan:
    """Plan (or plan again) the seller's deliveries of `day`; stops the dispatcher pinned stay put."""
    now = now or utcnow()
    plan = _plan_of(session, organisation_id, day)
    if plan is not None and any(route.departed_at for route in plan.routes):
        raise Conflict(
            _("A vehicle of this plan has left; its stops can no longer be planned again.")
        )
    pins = {
        (stop.buyer_id, stop.point_name, (stop.window_start, stop.window_end)): stop.vehicle_id
        for stop in (plan.stops if plan else [])
        if stop.pinned
    }
    if plan is None:
        plan = DispatchPlan(organisation_id=organisation_id, day=day, planned_by_id=actor_id)
        session.add(plan)
    plan.stops, plan.routes = _stops(session, organisation_id, day, pins), []
    vehicles = _vehicles(session, organisation_id)
    started = clock.perf_counter()
    _route(plan, vehicles, time_limit_s)
    plan.solve_ms = int((clock.perf_counter() - started) * 1000)
    plan.planned_at, plan.planned_by_id = now, actor_id
    session.flush()  # the plan's id names its event
    events.record(
        session,
        "dispatch.planned",
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=f"dispatch_plan:{plan.id}",
        payload={"day": day.isoformat(), "stops": len(plan.stops), "unserved": _unserved(plan)},
        now=now,
    )
    return plan


def _plan_of(session: Session, organisation_id: int, day: date) -> DispatchPlan | None:
    return session.scalar(
        select(DispatchPlan)
        .where(DispatchPlan.organisation_id == organisation_id, DispatchPlan.day == day)
        .options(selectinload(DispatchPlan.stops), selectinload(DispatchPlan.routes))
        .with_for_update()
    )


def _unserved(plan: DispatchPlan) -> int:
    return sum(1 for stop in plan.stops if stop.vehicle_id is None)


def _stops(session: Session, organisation_id: int, day: date, pins: dict) -> list[Stop]:
    """One stop per buyer, delivery point and window, with the weight and cold chain of its paid orders."""
    rows = session.execute(
        select(Order, OrderLine.quantity, Unit.grams, Product.cold_chain)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Unit, Unit.code == OrderLine.unit_code)
        .join(Listing, Listing.id == OrderLine.listing_id)
        .join(Product, Product.id == Listing.product_id)
        .where(
            Order.seller_id == organisation_id,
            Order.delivery_date == day,
            Order.status == OrderStatus.paid,
        )
        .order_by(Order.id)
    ).all()
    grouped: dict[tuple, dict] = defaultdict(lambda: {"orders": [], "grams": 0, "cold": False})
    for order, quantity, grams, cold in rows:
        window = (order.window_start, order.window_end)
        group = grouped[(order.buyer_id, order.delivery_point, window)]
        if order.id not in group["orders"]:
            group["orders"].append(order.id)
        group["grams"] += quantity * grams
        group["cold"] |= cold
    points = _points(session, {buyer for buyer, _name, _window in grouped})
    return [
        _stop(
            buyer, name, window, group, points.get((buyer, name)), pins.get((buyer, name, window))
        )
        for (buyer, name, window), group in grouped.items()
    ]


def _stop(buyer_id, name, window, group, point: DeliveryPoint | None, pinned_to) -> Stop:
    start, end = window
    return Stop(
        buyer_id=buyer_id,
        point_name=name,
        latitude=point.latitude if point else None,
        longitude=point.longitude if point else None,
        window_start=start,
        window_end=end,
        load_kg=max(1, -(-group["grams"] // 1000)),  # rounded up: a part of a kilogram still weighs
        cold=group["cold"],
        order_ids=",".join(map(str, group["orders"])),
        vehicle_id=pinned_to,
        pinned=pinned_to is not None,
    )


def _points(session: Session, buyer_ids: set[int]) -> dict[tuple[int, str], DeliveryPoint]:
    found = session.scalars(
        select(DeliveryPoint).where(DeliveryPoint.organisation_id.in_(buyer_ids))
    )
    return {(point.organisation_id, point.name): point for point in found}


def _vehicles(session: Session, organisation_id: int) -> list[Vehicle]:
    return list(
        session.scalars(
            select(Vehicle)
            .where(Vehicle.organisation_id == organisation_id, Vehicle.active.is_(True))
            .order_by(Vehicle.id)
        )
    )


def _route(plan: DispatchPlan, vehicles: list[Vehicle], time_limit_s: float) -> None:
    """Run the router on the plan's stops and write its answer: vehicle, order and arrival, or why not."""
    specs = [_vehicle_spec(vehicle) for vehicle in vehicles]
    placed = [stop for stop in plan.stops if stop.latitude is not None]
    for stop in plan.stops:
        if stop.latitude is None:
            stop.vehicle_id, stop.unserved_reason = (
                None,
                _(
                    "The buyer's delivery point “%(name)s” has no map position: the buyer adds it on its "
                    "delivery points page.",
                    name=stop.point_name,
                ),
            )
    stop_specs = [_stop_spec(number, stop) for number, stop in enumerate(placed)]
    # The search improves its plan until the limit; a handful of stops needs far less than 200 do.
    limit = min(time_limit_s, 0.5 + len(stop_specs) / 40)
    solution = routing.solve(specs, stop_specs, time_limit_s=limit)
    midnight = datetime.combine(plan.day, time(), LOCAL_TIME)
    for vehicle_id, visits in solution.routes.items():
        minutes_on_road = solution.travel_minutes[vehicle_id]
        plan.routes.append(Route(vehicle_id=vehicle_id, travel_minutes=minutes_on_road))
        for sequence, (number, minutes) in enumerate(visits, 1):
            stop = placed[number]
            stop.vehicle_id, stop.sequence, stop.unserved_reason = vehicle_id, sequence, ""
            stop.eta = midnight + timedelta(minutes=minutes)
    for number in solution.unserved:
        stop = placed[number]
        stop.vehicle_id, stop.sequence, stop.eta = None, None, None
        stop.unserved_reason = routing.explain(stop_specs[number], specs)
    plan.travel_minutes = solution.total_travel


def _vehicle_spec(vehicle: Vehicle) -> routing.VehicleSpec:
    return routing.VehicleSpec(
        id=vehicle.id,
        capacity_kg=vehicle.capacity_kg,
        refrigerated=vehicle.refrigerated,
        depot=(vehicle.depot_latitude, vehicle.depot_longitude),
        shift=(_minutes(vehicle.shift_start), _minutes(vehicle.shift_end)),
    )


def _stop_spec(number: int, stop: Stop) -> routing.StopSpec:
    return routing.StopSpec(
        id=number,
        position=(stop.latitude, stop.longitude),
        load_kg=stop.load_kg,
        cold=stop.cold,
        window=(_minutes(stop.window_start), _minutes(stop.window_end)),
        pinned_to=stop.vehicle_id if stop.pinned else None,
    )


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def move_stop(
    session: Session, *, organisation_id: int, actor_id: int, stop_id: int, vehicle_id: int | None
) -> DispatchPlan:
    """The dispatcher puts a stop on a vehicle of its choice (or lets the router choose again), and the
    plan is made again around that choice."""
    stop = _own_stop(session, organisation_id, stop_id)
    if vehicle_id is not None:
        vehicle = session.get(Vehicle, vehicle_id)
        if vehicle is None or vehicle.organisation_id != organisation_id or not vehicle.active:
            raise RuleViolation(_("Choose one of your vehicles."), field="vehicle_id")
    stop.vehicle_id, stop.pinned = vehicle_id, vehicle_id is not None
    session.flush()  # the plan is made again from what is stored
    return plan_day(session, organisation_id=organisation_id, actor_id=actor_id, day=stop.plan.day)


def _departed(stop: Stop) -> bool:
    return any(
        route.vehicle_id == stop.vehicle_id and route.departed_at is not None
        for route in stop.plan.routes
    )


def _own_stop(session: Session, organisation_id: int, stop_id: int) -> Stop:
    stop = session.get(Stop, stop_id)
    if stop is None or stop.plan.organisation_id != organisation_id:
        raise NotFound(_("Stop %(id)s does not exist.", id=stop_id))
    return stop


def depart(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    route_id: int,
    now: datetime | None = None,
) -> Route:
    """The driver leaves: the route's orders are shipped."""
    now = now or utcnow()
    route = session.get(Route, route_id)
    if route is None or route.plan.organisation_id != organisation_id:
        raise NotFound(_("Route %(id)s does not exist.", id=route_id))
    if route.departed_at is not None:
        raise Conflict(_("This vehicle has already left."))
    route.departed_at = now
    for stop in route.plan.stops:
        if stop.vehicle_id == route.vehicle_id:
            for order_id in stop.orders:
                if session.get(Order, order_id).status == OrderStatus.paid:
                    delivery.ship_order(
                        session,
                        seller_id=organisation_id,
                        actor_id=actor_id,
                        order_id=order_id,
                        now=now,
                    )
    return route


def arrive(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    stop_id: int,
    now: datetime | None = None,
) -> Stop:
    """The driver is at the gate: the arrival time against the window; late tells both sides."""
    now = now or utcnow()
    stop = _own_stop(session, organisation_id, stop_id)
    if stop.arrived_at is not None:
        raise Conflict(_("Arrival at this stop is already recorded."))
    if not _departed(stop):
        raise Conflict(_("Its vehicle has not left yet: mark the departure first."))
    stop.arrived_at = now
    closes = datetime.combine(stop.plan.day, stop.window_end, LOCAL_TIME)
    stop.late = now > closes
    kind = "delivery.late" if stop.late else "delivery.arrived"
    for party in (stop.buyer_id, organisation_id):
        events.record(
            session,
            kind,
            organisation_id=party,
            actor_id=actor_id,
            subject=f"dispatch_stop:{stop.id}",
            payload={
                "orders": stop.orders,
                "arrived_at": now.isoformat(),
                "window_end": stop.window_end.strftime("%H:%M"),
            },
            now=now,
        )
    return stop


def deliver(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    stop_id: int,
    now: datetime | None = None,
) -> Stop:
    """Unloaded at the gate: the stop's orders are delivered and wait for the buyer's inspectors."""
    now = now or utcnow()
    stop = _own_stop(session, organisation_id, stop_id)
    if stop.arrived_at is None:
        arrive(
            session, organisation_id=organisation_id, actor_id=actor_id, stop_id=stop_id, now=now
        )
    stop.delivered_at = now
    for order_id in stop.orders:
        if session.get(Order, order_id).status == OrderStatus.shipped:
            delivery.mark_delivered(
                session, seller_id=organisation_id, actor_id=actor_id, order_id=order_id, now=now
            )
    return stop

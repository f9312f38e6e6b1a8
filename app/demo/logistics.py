"""Demo scheduling: delivery points with their windows, the school's winter break, standing orders, the
vegetable cooperative's two trucks, capacity and cut-off, expected harvests, and tomorrow's plan made."""

from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Organisation
from app.catalog.models import Listing, Product
from app.db import local_date, utcnow
from app.demo.orders import SCHOOL, SUPERMARKET, owner
from app.errors import DomainError
from app.logistics import dispatch, services, standing
from app.logistics.models import DeliveryPoint
from app.orders.models import PaymentMethod

VEGETABLES, SECOND_SUPERMARKET = 3, 10
# serial -> (latitude, longitude, window): where each demo buyer takes deliveries
POINTS = {
    SCHOOL: (27.7721, 107.4813, time(6), time(6, 30)),
    SUPERMARKET: (27.7602, 107.4551, time(8), time(10)),
    SECOND_SUPERMARKET: (27.7689, 107.4702, time(8), time(10)),
}


def seed_logistics(session: Session, organisations: dict[int, Organisation]) -> int:
    """The demo's scheduling data, once (nothing is added if any delivery point exists)."""
    if session.scalar(select(DeliveryPoint.id).limit(1)) is not None:
        return 0
    today = local_date(utcnow())
    points = {
        serial: _point(session, organisations[serial], *where) for serial, where in POINTS.items()
    }
    school, coop = organisations[SCHOOL], organisations[VEGETABLES]
    services.add_closure(
        session,
        organisation_id=school.id,
        name="寒假",
        starts_on=today + timedelta(days=50),
        ends_on=today + timedelta(days=78),
    )
    _standing(session, school, points[SCHOOL], coop, "potato", 50, "12345", PaymentMethod.account)
    _standing(
        session,
        organisations[SUPERMARKET],
        points[SUPERMARKET],
        coop,
        "tomato",
        20,
        "25",
        PaymentMethod.wallet,
    )
    for standing_order_id, day in standing.days_to_order(session, now=utcnow()):
        try:
            with session.begin_nested():
                standing.order_day(session, standing_order_id=standing_order_id, day=day)
        except DomainError:  # a demo listing short of stock: that day shows its reason instead
            pass
    _fleet(session, coop)
    _harvests(session, coop, today)
    dispatch.plan_day(
        session,
        organisation_id=coop.id,
        actor_id=owner(session, coop),
        day=today + timedelta(days=1),
    )
    return len(points)


def _point(session, buyer: Organisation, latitude, longitude, start, end) -> DeliveryPoint:
    return services.save_delivery_point(
        session,
        organisation_id=buyer.id,
        name=buyer.address or buyer.name_zh,  # the demo's orders name their delivery point so
        address=buyer.address,
        latitude=latitude,
        longitude=longitude,
        window_start=start,
        window_end=end,
    )


def _standing(session, buyer, point, seller, product: str, quantity: int, weekdays: str, payment):
    listing = session.scalar(
        select(Listing)
        .join(Product, Product.id == Listing.product_id)
        .where(Listing.organisation_id == seller.id, Product.code == product)
    )
    return standing.create_standing_order(
        session,
        buyer_id=buyer.id,
        buyer_kind=buyer.kind,
        actor_id=owner(session, buyer),
        delivery_point_id=point.id,
        weekdays=weekdays,
        window_start=point.window_start,
        window_end=point.window_end,
        starts_on=local_date(utcnow()),
        days_ahead=2,
        payment=payment,
        lines=[{"listing_id": listing.id, "quantity": max(quantity, listing.min_order)}],
    )


def _fleet(session, coop: Organisation) -> None:
    """Two trucks, one refrigerated; capacity and cut-off set after the demo's first orders are made."""
    for name, capacity, cold in (("贵C·A1234 冷藏车", 1500, True), ("贵C·B5678 货车", 3000, False)):
        services.save_vehicle(
            session,
            organisation_id=coop.id,
            name=name,
            capacity_kg=capacity,
            refrigerated=cold,
            depot_latitude=27.7583,
            depot_longitude=107.4921,
            shift_start=time(5),
            shift_end=time(13),
        )
    services.set_supply_terms(
        session, organisation_id=coop.id, daily_capacity_kg=3000, cutoff=time(18), cutoff_days=1
    )


def _harvests(session, coop: Organisation, today) -> None:
    monday = today - timedelta(days=today.weekday())
    actor = owner(session, coop)
    for product, kg, first, weeks in (
        ("chinese_cabbage", 6000, monday, 6),
        ("potato", 3000, monday + timedelta(weeks=1), 4),
        ("tomato", 800, monday, 8),
    ):
        services.record_harvest(
            session,
            organisation_id=coop.id,
            actor_id=actor,
            product=product,
            quantity_kg=kg,
            first_week=first,
            weeks=weeks,
            zone="湄江坝区",
        )

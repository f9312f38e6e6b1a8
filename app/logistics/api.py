"""JSON API for scheduling: delivery points and closed days, standing orders, capacity and cut-off,
vehicles, daily dispatch plans and the driver's steps, expected harvests, supply against demand."""

from flask_babel import gettext as _
from sqlalchemy import select

from app.auth import BUYERS, SELLERS, SIGNED_IN, current_actor, requires
from app.catalog.models import Product
from app.db import get_session, local_date, transaction, utcnow
from app.errors import NotFound
from app.logistics import dispatch, queries, services, standing, supply
from app.logistics.schemas import (
    ClosureSchema,
    DeliveryPointSchema,
    HarvestOutSchema,
    HarvestSchema,
    MoveStopSchema,
    PlanDaySchema,
    PlanSchema,
    StandingDeliverySchema,
    StandingOrderOutSchema,
    StandingOrderSchema,
    StopSchema,
    SupplyQuerySchema,
    SupplyTermsSchema,
    VehicleSchema,
    WeekSchema,
)
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "logistics_api",
    __name__,
    url_prefix="/api/v1",
    description="Scheduling: standing orders, delivery points, vehicles, dispatch plans, harvests.",
)


def _organisation() -> int:
    return current_actor().organisation_id


def _run(service, *, actor: bool = False, **values):
    """`service` for the caller's organisation (and person, with `actor`) in one transaction: its result."""
    caller = current_actor()
    if actor:
        values["actor_id"] = caller.user_id
    with transaction() as write:
        return service(write, organisation_id=caller.organisation_id, **values)


@blp.route("/delivery-points", methods=["GET"])
@blp.response(200, DeliveryPointSchema(many=True))
@requires(BUYERS)
def delivery_points():
    """Your delivery points: where each is and when it takes deliveries."""
    return queries.points_of(get_session(), _organisation())


@blp.route("/delivery-points", methods=["POST"])
@blp.arguments(DeliveryPointSchema)
@blp.response(201, DeliveryPointSchema)
@requires(BUYERS)
def add_delivery_point(data):
    """Add a delivery point; orders give its name as their delivery point."""
    return _run(services.save_delivery_point, **data)


@blp.route("/closures", methods=["GET"])
@blp.response(200, ClosureSchema(many=True))
@requires(BUYERS)
def closures():
    """Your closed days (holidays): no standing deliveries on them."""
    return queries.closures_of(get_session(), _organisation())


@blp.route("/closures", methods=["POST"])
@blp.arguments(ClosureSchema)
@blp.response(201, ClosureSchema)
@requires(BUYERS)
def add_closure(data):
    """Add closed days to your calendar."""
    return _run(services.add_closure, **data)


@blp.route("/standing-orders", methods=["GET"])
@blp.response(200, StandingOrderOutSchema(many=True))
@requires(BUYERS)
def standing_orders():
    """Your standing orders."""
    return queries.standing_orders_of(get_session(), _organisation())


@blp.route("/standing-orders", methods=["POST"])
@blp.arguments(StandingOrderSchema)
@blp.response(201, StandingOrderOutSchema)
@requires(BUYERS)
def create_standing_order(data):
    """Set up a standing order; the scheduler makes each day's orders `days_ahead` days before."""
    actor = current_actor()
    with transaction() as write:
        created = standing.create_standing_order(
            write,
            buyer_id=actor.organisation_id,
            buyer_kind=actor.kind,
            actor_id=actor.user_id,
            **data,
        )
        created_id = created.id
    return _standing_order(created_id)


@blp.route("/standing-orders/<int:standing_order_id>/stop", methods=["POST"])
@blp.response(200, StandingOrderOutSchema)
@requires(BUYERS)
def stop_standing_order(standing_order_id: int):
    """Stop a standing order (orders already made stand)."""
    actor = current_actor()
    with transaction() as write:
        standing.stop_standing_order(
            write,
            buyer_id=actor.organisation_id,
            actor_id=actor.user_id,
            standing_order_id=standing_order_id,
        )
    return _standing_order(standing_order_id)


def _standing_order(standing_order_id: int):
    found = queries.standing_orders_of(get_session(), _organisation())
    return next(item for item in found if item.id == standing_order_id)


@blp.route("/standing-deliveries", methods=["GET"])
@blp.response(200, StandingDeliverySchema(many=True))
@requires(BUYERS)
def standing_deliveries():
    """Each coming day of your standing orders: ordered, closed, or not ordered and why."""
    return queries.standing_deliveries(get_session(), _organisation(), since=local_date(utcnow()))


@blp.route("/supply-terms", methods=["PUT"])
@blp.arguments(SupplyTermsSchema)
@blp.response(200, SupplyTermsSchema)
@requires(SELLERS)
def set_supply_terms(data):
    """Your daily capacity and order cut-off: standing orders beyond them are refused with the reason."""
    return _run(services.set_supply_terms, **data)


@blp.route("/vehicles", methods=["GET"])
@blp.response(200, VehicleSchema(many=True))
@requires(SELLERS)
def vehicles():
    """Your vehicles."""
    return queries.vehicles_of(get_session(), _organisation())


@blp.route("/vehicles", methods=["POST"])
@blp.arguments(VehicleSchema)
@blp.response(201, VehicleSchema)
@requires(SELLERS)
def add_vehicle(data):
    """Add a vehicle: capacity, cold chain, depot and shift."""
    return _run(services.save_vehicle, **data)


@blp.route("/dispatch/plans", methods=["POST"])
@blp.arguments(PlanDaySchema)
@blp.response(200, PlanSchema)
@requires(SELLERS)
def plan_day(data):
    """Plan (or plan again) a day's deliveries on your vehicles; unserved stops say why."""
    _run(dispatch.plan_day, actor=True, **data)
    return _plan(data["day"])


@blp.route("/dispatch/plans", methods=["GET"])
@blp.arguments(PlanDaySchema, location="query")
@blp.response(200, PlanSchema)
@requires(SELLERS)
def plan(query):
    """A day's plan (`?day=`): routes with their stops in order and times of arrival, and the unserved
    stops with the reason."""
    return _plan(query["day"])


def _plan(day):
    found = queries.plan_of(get_session(), _organisation(), day)
    if found is None:
        raise NotFound(_("There is no plan for %(day)s yet.", day=day.isoformat()))
    return found


@blp.route("/dispatch/stops/<int:stop_id>/move", methods=["POST"])
@blp.arguments(MoveStopSchema)
@blp.response(200, PlanSchema)
@requires(SELLERS)
def move_stop(data, stop_id: int):
    """Put a stop on a vehicle of your choice (or back to the planner's); the plan is made again."""
    actor = current_actor()
    with transaction() as write:
        moved = dispatch.move_stop(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            stop_id=stop_id,
            **data,
        )
        day = moved.day
    return _plan(day)


@blp.route("/dispatch/routes/<int:route_id>/depart", methods=["POST"])
@blp.response(200, PlanSchema)
@requires(SELLERS)
def depart(route_id: int):
    """The vehicle leaves: its orders are shipped."""
    actor = current_actor()
    with transaction() as write:
        route = dispatch.depart(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, route_id=route_id
        )
        day = route.plan.day
    return _plan(day)


def _stop_step(step, stop_id: int):
    _run(step, actor=True, stop_id=stop_id)
    return get_session().get(dispatch.Stop, stop_id)


@blp.route("/dispatch/stops/<int:stop_id>/arrive", methods=["POST"])
@blp.response(200, StopSchema)
@requires(SELLERS)
def arrive(stop_id: int):
    """The driver is at the gate: a late arrival tells both sides."""
    return _stop_step(dispatch.arrive, stop_id)


@blp.route("/dispatch/stops/<int:stop_id>/deliver", methods=["POST"])
@blp.response(200, StopSchema)
@requires(SELLERS)
def deliver(stop_id: int):
    """Unloaded: the stop's orders are delivered, for the buyer's inspectors to accept."""
    return _stop_step(dispatch.deliver, stop_id)


@blp.route("/harvests", methods=["GET"])
@blp.response(200, HarvestOutSchema(many=True))
@requires(SELLERS)
def harvests():
    """The harvests you expect."""
    return queries.harvests_of(get_session(), _organisation())


@blp.route("/harvests", methods=["POST"])
@blp.arguments(HarvestSchema)
@blp.response(201, HarvestOutSchema)
@requires(SELLERS)
def add_harvest(data):
    """Record an expected harvest: product, kg, the weeks it comes in, the zone."""
    harvest_id = _run(services.record_harvest, actor=True, **data).id
    found = queries.harvests_of(get_session(), _organisation())
    return next(item for item in found if item.id == harvest_id)


@blp.route("/supply-demand", methods=["GET"])
@blp.arguments(SupplyQuerySchema, location="query")
@blp.response(200, WeekSchema(many=True))
@requires(SIGNED_IN)
def supply_demand(query):
    """Week by week: expected harvest against committed demand (contracts, standing orders), in kg."""
    reads = get_session()
    product = reads.scalar(select(Product).where(Product.code == query["product"]))
    if product is None:
        raise NotFound(_("No product %(code)s in the catalogue.", code=query["product"]))
    return supply.supply_and_demand(
        reads, product_id=product.id, first=local_date(utcnow()), weeks=query["weeks"]
    )

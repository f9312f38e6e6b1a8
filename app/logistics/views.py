"""Scheduling pages: a buyer's delivery points, closed days and standing orders and its deliveries under way;
a seller's capacity, vehicles, daily plan, route sheets and expected harvests; supply against demand."""

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import Schema
from sqlalchemy import select

from app.auth import BUYERS, SELLERS, SIGNED_IN, current_actor, requires
from app.catalog.models import Listing, ListingStatus, Product
from app.db import get_session, local_date, utcnow
from app.errors import NotFound
from app.forms import Form
from app.i18n import N_
from app.logistics import dispatch, queries, services, standing, supply
from app.logistics.models import RUN_LABELS
from app.logistics.routing import clock
from app.logistics.schemas import (
    ClosureSchema,
    DeliveryPointSchema,
    HarvestSchema,
    MoveStopSchema,
    PlanDaySchema,
    StandingOrderForm,
    SupplyTermsSchema,
    VehicleSchema,
)
from app.web import id_from

bp = Blueprint("logistics", __name__)
bp.add_app_template_global(clock, "minutes_clock")

WEEKDAY_NAMES = {
    1: N_("Mon"),
    2: N_("Tue"),
    3: N_("Wed"),
    4: N_("Thu"),
    5: N_("Fri"),
    6: N_("Sat"),
    7: N_("Sun"),
}


@bp.app_template_global()
def run_status_label(status: str) -> str:
    return _(RUN_LABELS[status])


@bp.app_template_global()
def weekday_label(number: int) -> str:
    return _(WEEKDAY_NAMES[int(number)])


def _submitted(form: Form, service, *, actor: bool = False, **values):
    """Validate the posted form and run `service` with it for the signed-in organisation (and person,
    with `actor`) in one transaction: what it made, or None when the form or the service refused."""
    signed_in = current_actor()
    if actor:
        values["actor_id"] = signed_in.user_id
    if not form.validate_on_submit():
        return None
    return form.submit(
        lambda session: service(
            session, organisation_id=signed_in.organisation_id, **values, **form.data
        )
    )


def _done(message: str, endpoint: str, **values):
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


# --- buyers: delivery points, closed days, standing orders, deliveries under way ---


@bp.route("/logistics/points", methods=["GET", "POST"])
@requires(BUYERS)
def points():
    """Where the organisation takes deliveries (with map positions and windows), and its closed days."""
    form = Form(DeliveryPointSchema(), values={"window_start": "06:00", "window_end": "06:30"})
    if _submitted(form, services.save_delivery_point):
        return _done(_("Delivery point saved."), "logistics.points")
    return _points_page(form, Form(ClosureSchema())), form.status


def _points_page(point_form: Form, closure_form: Form):
    reads = get_session()
    organisation_id = current_actor().organisation_id
    return render_template(
        "logistics/points.html",
        points=queries.points_of(reads, organisation_id),
        closures=queries.closures_of(reads, organisation_id),
        form=point_form,
        closure_form=closure_form,
    )


@bp.post("/logistics/closures")
@requires(BUYERS)
def add_closure():
    """Add closed days (a holiday): no standing deliveries on them."""
    form = Form(ClosureSchema())
    if _submitted(form, services.add_closure):
        return _done(_("Closed days added."), "logistics.points")
    return _points_page(Form(DeliveryPointSchema()), form), 422


@bp.post("/logistics/closures/<int:closure_id>/remove")
@requires(BUYERS)
def remove_closure(closure_id: int):
    """Take closed days off the calendar."""
    organisation_id = current_actor().organisation_id
    Form(Schema()).submit(
        lambda session: services.remove_closure(
            session, organisation_id=organisation_id, closure_id=closure_id
        )
    )
    return _done(_("Closed days removed."), "logistics.points")


@bp.get("/logistics/standing")
@requires(BUYERS)
def standing_orders():
    """The organisation's standing orders, and what each coming day became (or why not)."""
    reads = get_session()
    organisation_id = current_actor().organisation_id
    return render_template(
        "logistics/standing.html",
        standing_orders=queries.standing_orders_of(reads, organisation_id),
        days=queries.standing_deliveries(reads, organisation_id, since=local_date(utcnow())),
    )


@bp.route("/logistics/standing/new", methods=["GET", "POST"])
@requires(BUYERS)
def new_standing_order():
    """Set up a standing order: weekdays, window, delivery point, and one or several suppliers."""
    actor = current_actor()
    form = Form(
        StandingOrderForm(),
        values={
            "weekdays": [1, 2, 3, 4, 5],
            "window_start": "06:00",
            "window_end": "06:30",
            "starts_on": (local_date(utcnow()) + timedelta(days=1)).isoformat(),
            "days_ahead": "2",
            "listing_1": request.args.get("listing", ""),
        },
    )
    if form.validate_on_submit() and form.submit(
        lambda session: standing.create_standing_order(
            session,
            buyer_id=actor.organisation_id,
            buyer_kind=actor.kind,
            actor_id=actor.user_id,
            **form.data,
        )
    ):
        return _done(
            _("Standing order set up. Its orders are made ahead of each day."),
            "logistics.standing_orders",
        )
    reads = get_session()
    return render_template(
        "logistics/standing_form.html",
        form=form,
        points=queries.points_of(reads, actor.organisation_id),
        listings=_listings(reads, form),
    ), form.status


def _listings(session, form: Form) -> dict[int, Listing]:
    """The listings the form names that this buyer may see, to show their titles beside the numbers."""
    numbers = {id_from(form.values.get(f"listing_{n}")) for n in (1, 2, 3)} - {None}
    found = session.scalars(select(Listing).where(Listing.id.in_(numbers))) if numbers else []
    kind = current_actor().kind
    return {
        listing.id: listing
        for listing in found
        if listing.status != ListingStatus.draft and listing.visible_to_kind(kind)
    }


@bp.post("/logistics/standing/<int:standing_order_id>/stop")
@requires(BUYERS)
def stop_standing_order(standing_order_id: int):
    """Stop a standing order."""
    actor = current_actor()
    Form(Schema()).submit(
        lambda session: standing.stop_standing_order(
            session,
            buyer_id=actor.organisation_id,
            actor_id=actor.user_id,
            standing_order_id=standing_order_id,
        )
    )
    return _done(_("Standing order stopped."), "logistics.standing_orders")


@bp.get("/logistics/deliveries")
@requires(BUYERS)
def deliveries():
    """Deliveries planned to the organisation: expected arrival against the window, and when it came."""
    since = local_date(utcnow()) - timedelta(days=1)
    stops = queries.stops_for_buyer(get_session(), current_actor().organisation_id, since=since)
    return render_template("logistics/deliveries.html", stops=stops)


# --- sellers: capacity, vehicles, the day's plan, the driver's steps, harvests ---


@bp.route("/logistics/fleet", methods=["GET", "POST"])
@requires(SELLERS)
def fleet():
    """The seller's vehicles, its daily capacity and its order cut-off."""
    form = Form(
        VehicleSchema(),
        values={
            "shift_start": "05:30",
            "shift_end": "13:00",
            "depot_latitude": "27.766",
            "depot_longitude": "107.466",
        },
    )
    if _submitted(form, services.save_vehicle):
        return _done(_("Vehicle added."), "logistics.fleet")
    return _fleet_page(form, None), form.status


def _fleet_page(vehicle_form: Form, terms_form: Form | None):
    reads = get_session()
    organisation_id = current_actor().organisation_id
    terms = queries.supply_terms_of(reads, organisation_id)
    terms_form = terms_form or Form(
        SupplyTermsSchema(),
        values={
            "daily_capacity_kg": terms.daily_capacity_kg if terms else "",
            "cutoff": terms.cutoff.strftime("%H:%M") if terms else "18:00",
            "cutoff_days": terms.cutoff_days if terms else 1,
        },
    )
    return render_template(
        "logistics/fleet.html",
        vehicles=queries.vehicles_of(reads, organisation_id),
        form=vehicle_form,
        terms_form=terms_form,
    )


@bp.post("/logistics/supply-terms")
@requires(SELLERS)
def set_supply_terms():
    """Set the daily capacity and the order cut-off."""
    form = Form(SupplyTermsSchema())
    if _submitted(form, services.set_supply_terms):
        return _done(_("Capacity and cut-off saved."), "logistics.fleet")
    return _fleet_page(Form(VehicleSchema()), form), 422


@bp.get("/logistics/plan")
@requires(SELLERS)
def plan(form: Form | None = None, status: int = 200):
    """A day's dispatch plan (tomorrow unless another day is asked for)."""
    day = _day_asked()
    reads = get_session()
    organisation_id = current_actor().organisation_id
    return render_template(
        "logistics/plan.html",
        day=day,
        plan=queries.plan_of(reads, organisation_id, day),
        vehicles=queries.vehicles_of(reads, organisation_id),
        form=form,
    ), status


def _day_asked() -> date:
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return local_date(utcnow()) + timedelta(days=1)


@bp.post("/logistics/plan")
@requires(SELLERS)
def make_plan():
    """Plan (or plan again) the day: consolidate its orders, put them on the vehicles, time every stop."""
    form = Form(PlanDaySchema())
    made = _submitted(form, dispatch.plan_day, actor=True)
    if not made:
        return plan(form, 422)
    day = form.data["day"].isoformat()
    return _done(
        _("Planned. Check the unserved stops, if any, and their reasons."),
        "logistics.plan",
        day=day,
    )


@bp.post("/logistics/stops/<int:stop_id>/move")
@requires(SELLERS)
def move_stop(stop_id: int):
    """Put a stop on the dispatcher's chosen vehicle; the day is planned again around it."""
    form = Form(MoveStopSchema())
    moved = _submitted(form, dispatch.move_stop, actor=True, stop_id=stop_id)
    if not moved:
        return plan(form, 422)
    return _done(
        _("Moved, and the day planned again."), "logistics.plan", day=moved.day.isoformat()
    )


def _driver_step(step, done: str, **ids):
    form = Form(Schema())
    result = _submitted(form, step, actor=True, **ids)
    if result is None:
        return plan(form, 422)
    return _done(done, "logistics.plan", day=result.plan.day.isoformat())


@bp.post("/logistics/routes/<int:route_id>/depart")
@requires(SELLERS)
def depart(route_id: int):
    """The vehicle leaves: its orders are shipped."""
    return _driver_step(
        dispatch.depart, _("Departed: its orders are on their way."), route_id=route_id
    )


@bp.post("/logistics/stops/<int:stop_id>/arrive")
@requires(SELLERS)
def arrive(stop_id: int):
    """The driver is at the gate."""
    return _driver_step(dispatch.arrive, _("Arrival recorded."), stop_id=stop_id)


@bp.post("/logistics/stops/<int:stop_id>/deliver")
@requires(SELLERS)
def deliver(stop_id: int):
    """Unloaded: the orders wait for the buyer's inspectors."""
    return _driver_step(
        dispatch.deliver, _("Delivered: the buyer's inspectors can accept it now."), stop_id=stop_id
    )


@bp.get("/logistics/routes/<int:route_id>/sheet")
@requires(SELLERS)
def route_sheet(route_id: int):
    """A driver's printable sheet: stops in order with times, addresses, windows, loads and orders."""
    route = queries.route_of(get_session(), current_actor().organisation_id, route_id)
    stops = sorted(
        (stop for stop in route.plan.stops if stop.vehicle_id == route.vehicle_id),
        key=lambda stop: stop.sequence or 0,
    )
    return render_template("logistics/route_sheet.html", route=route, stops=stops)


@bp.route("/logistics/harvests", methods=["GET", "POST"])
@requires(SELLERS)
def harvests():
    """The harvests the seller expects, week by week."""
    form = Form(HarvestSchema(), values={"weeks": "4"})
    if _submitted(form, services.record_harvest, actor=True):
        return _done(_("Expected harvest recorded."), "logistics.harvests")
    reads = get_session()
    return render_template(
        "logistics/harvests.html",
        harvests=queries.harvests_of(reads, current_actor().organisation_id),
        products=list(reads.scalars(select(Product).order_by(Product.id))),
        form=form,
    ), form.status


@bp.get("/supply")
@requires(SIGNED_IN)
def supply_demand():
    """Week by week per product: expected harvest against committed demand, shortfalls in red."""
    reads = get_session()
    products = list(reads.scalars(select(Product).order_by(Product.id)))
    code = request.args.get("product") or "chinese_cabbage"
    product = next(
        (item for item in products if item.code == code), products[0] if products else None
    )
    if product is None:
        raise NotFound(_("The catalogue has no products yet."))
    weeks = supply.supply_and_demand(reads, product_id=product.id, first=local_date(utcnow()))
    return render_template("logistics/supply.html", products=products, product=product, weeks=weeks)

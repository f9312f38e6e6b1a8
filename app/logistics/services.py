"""The settings that scheduling works from: buyers' delivery points and closed days, sellers' daily capacity
and cut-off, their vehicles, and the harvests they expect."""

from datetime import date, time

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.catalog.models import Product
from app.errors import NotFound, RuleViolation
from app.logistics.models import Closure, DeliveryPoint, ExpectedHarvest, SupplyTerms, Vehicle


def check_window(start: time, end: time, field: str = "window_end") -> None:
    if end <= start:
        raise RuleViolation(_("The window must end after it starts."), field=field)


def save_delivery_point(
    session: Session, *, organisation_id: int, point_id: int | None = None, **values
) -> DeliveryPoint:
    """Add a delivery point (or change one): its name is what orders give as their delivery point."""
    check_window(values["window_start"], values["window_end"])
    same_name = session.scalar(
        select(DeliveryPoint.id).where(
            DeliveryPoint.organisation_id == organisation_id, DeliveryPoint.name == values["name"]
        )
    )
    if same_name is not None and same_name != point_id:
        raise RuleViolation(_("You already have a delivery point of that name."), field="name")
    point = _saved(session, DeliveryPoint, point_id, organisation_id, values)
    session.flush()  # the point's id, for the standing orders that name it
    return point


def add_closure(
    session: Session, *, organisation_id: int, name: str, starts_on: date, ends_on: date
) -> Closure:
    """Days the buyer takes no standing deliveries (a school holiday)."""
    if ends_on < starts_on:
        raise RuleViolation(_("The last day comes before the first."), field="ends_on")
    closure = Closure(
        organisation_id=organisation_id, name=name, starts_on=starts_on, ends_on=ends_on
    )
    session.add(closure)
    return closure


def remove_closure(session: Session, *, organisation_id: int, closure_id: int) -> None:
    session.delete(_own(session, Closure, closure_id, organisation_id))


def set_supply_terms(
    session: Session,
    *,
    organisation_id: int,
    daily_capacity_kg: int,
    cutoff: time,
    cutoff_days: int,
) -> SupplyTerms:
    """How much the seller delivers in a day, and by when (the days before, at what time) it takes orders."""
    terms = session.get(SupplyTerms, organisation_id) or SupplyTerms(
        organisation_id=organisation_id
    )
    terms.daily_capacity_kg, terms.cutoff, terms.cutoff_days = (
        daily_capacity_kg,
        cutoff,
        cutoff_days,
    )
    session.add(terms)
    return terms


def save_vehicle(
    session: Session, *, organisation_id: int, vehicle_id: int | None = None, **values
) -> Vehicle:
    """Add a vehicle to the seller's fleet (or change one): capacity, cold chain, depot, shift."""
    check_window(values["shift_start"], values["shift_end"], field="shift_end")
    return _saved(session, Vehicle, vehicle_id, organisation_id, values)


def record_harvest(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    product: str,
    quantity_kg: int,
    first_week: date,
    weeks: int,
    zone: str = "",
) -> ExpectedHarvest:
    """The seller expects to harvest `quantity_kg` of a product over `weeks` weeks from `first_week`."""
    found = session.scalar(select(Product).where(Product.code == product))
    if found is None:
        raise RuleViolation(_("Choose a product of the catalogue."), field="product")
    harvest = ExpectedHarvest(
        organisation_id=organisation_id,
        product=found,
        zone=zone,
        quantity_kg=quantity_kg,
        first_week=first_week,
        weeks=weeks,
    )
    session.add(harvest)
    session.flush()  # the harvest's id names its event
    events.record(
        session,
        "harvest.expected",
        organisation_id=organisation_id,
        actor_id=actor_id,
        subject=f"harvest:{harvest.id}",
        payload={"product": product, "quantity_kg": quantity_kg, "weeks": weeks},
    )
    return harvest


def _saved(session: Session, model, row_id: int | None, organisation_id: int, values: dict):
    """The organisation's row `row_id` of `model` (a new one without an id), given `values`."""
    row = _own(session, model, row_id, organisation_id) if row_id else None
    if row is None:
        row = model(organisation_id=organisation_id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    return row


def _own(session: Session, model, row_id: int, organisation_id: int):
    row = session.get(model, row_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFound(_("It does not exist, or it is not your organisation's."))
    return row

"""Supply against demand, per product and week: what sellers expect to harvest against what buyers have
committed to take (contract instalments and standing orders), in kilograms, so shortfalls show early."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.catalog.models import Listing, Unit
from app.contracts.models import Contract, ContractStatus, Instalment, InstalmentStatus
from app.logistics.models import Closure, ExpectedHarvest, StandingOrder, StandingOrderLine


@dataclass(frozen=True)
class Week:
    monday: date
    supply_kg: int
    contracts_kg: int
    standing_kg: int

    @property
    def demand_kg(self) -> int:
        return self.contracts_kg + self.standing_kg

    @property
    def shortfall_kg(self) -> int:
        return max(0, self.demand_kg - self.supply_kg)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def supply_and_demand(
    session: Session, *, product_id: int, first: date, weeks: int = 12
) -> list[Week]:
    """Week by week from the week of `first`: expected harvest against committed demand, in kg."""
    mondays = [monday_of(first) + timedelta(weeks=n) for n in range(weeks)]
    supply = _harvests(session, product_id, mondays)
    contracts = _instalments(session, product_id, mondays)
    standing = _standing(session, product_id, mondays)
    return [
        Week(monday, supply.get(monday, 0), contracts.get(monday, 0), standing.get(monday, 0))
        for monday in mondays
    ]


def _harvests(session: Session, product_id: int, mondays: list[date]) -> dict[date, int]:
    """Each expected harvest spread evenly over its weeks."""
    weeks: dict[date, int] = {}
    for harvest in session.scalars(
        select(ExpectedHarvest).where(ExpectedHarvest.product_id == product_id)
    ):
        start = monday_of(harvest.first_week)
        for n in range(harvest.weeks):
            monday = start + timedelta(weeks=n)
            if monday in mondays:
                weeks[monday] = weeks.get(monday, 0) + harvest.quantity_kg // harvest.weeks
    return weeks


def _instalments(session: Session, product_id: int, mondays: list[date]) -> dict[date, int]:
    """Deliveries still to come of active contracts for the product."""
    rows = session.execute(
        select(Instalment.due_on, Instalment.quantity, Unit.grams)
        .join(Instalment.contract)
        .join(Listing, Listing.id == Contract.listing_id)
        .join(Unit, Unit.code == Listing.unit_code)
        .where(
            Listing.product_id == product_id,
            Contract.status == ContractStatus.active,
            Instalment.status.in_((InstalmentStatus.scheduled, InstalmentStatus.ordered)),
            Instalment.due_on >= mondays[0],
            Instalment.due_on < mondays[-1] + timedelta(weeks=1),
        )
    )
    weeks: dict[date, int] = {}
    for due_on, quantity, grams in rows:
        monday = monday_of(due_on)
        weeks[monday] = weeks.get(monday, 0) + quantity * grams // 1000
    return weeks


def _standing(session: Session, product_id: int, mondays: list[date]) -> dict[date, int]:
    """Active standing orders' lines for the product, on each day they run that their buyer is open."""
    lines = session.scalars(
        select(StandingOrderLine)
        .join(StandingOrderLine.standing_order)
        .join(Listing, Listing.id == StandingOrderLine.listing_id)
        .where(Listing.product_id == product_id, StandingOrder.active.is_(True))
        .options(
            selectinload(StandingOrderLine.standing_order),
            selectinload(StandingOrderLine.listing).selectinload(Listing.unit),
        )
    ).all()
    closures = _closures(session, {line.standing_order.buyer_id for line in lines})
    weeks: dict[date, int] = {}
    for line in lines:
        standing, kg = line.standing_order, line.quantity * line.listing.unit.grams // 1000
        for monday in mondays:
            days = [monday + timedelta(days=n) for n in range(7)]
            open_days = [
                day
                for day in days
                if standing.runs_on(day) and not _closed(closures.get(standing.buyer_id, []), day)
            ]
            weeks[monday] = weeks.get(monday, 0) + kg * len(open_days)
    return weeks


def _closures(session: Session, buyer_ids: set[int]) -> dict[int, list[Closure]]:
    found: dict[int, list[Closure]] = {}
    for closure in session.scalars(select(Closure).where(Closure.organisation_id.in_(buyer_ids))):
        found.setdefault(closure.organisation_id, []).append(closure)
    return found


def _closed(closures: list[Closure], day: date) -> bool:
    return any(closure.starts_on <= day <= closure.ends_on for closure in closures)

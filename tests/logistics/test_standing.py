from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind
from app.db import LOCAL_TIME, local_date, utcnow
from app.errors import RuleViolation
from app.events import Event
from app.logistics import jobs, services, standing
from app.logistics.models import RunStatus, StandingDelivery
from app.orders.models import Order
from tests.factories import ListingFactory, OrganisationFactory, UserFactory
from tests.helpers import ledger_problems
from tests.logistics.steps import CANTEEN, point
from tests.orders.steps import credit


@pytest.fixture
def school(session):
    return OrganisationFactory(kind=OrgKind.school, name_zh="湄江中学")


@pytest.fixture
def cabbages(session):
    return ListingFactory(
        product_code="chinese_cabbage", price_fen=240, quantity=10_000, min_order=10
    )


def weekday_order(session, school, cabbages, **changes):
    canteen = point(session, school, "湄江中学食堂", CANTEEN)
    values = {
        "buyer_id": school.id,
        "buyer_kind": school.kind,
        "actor_id": UserFactory().id,
        "delivery_point_id": canteen.id,
        "weekdays": "12345",
        "window_start": time(6),
        "window_end": time(6, 30),
        "starts_on": local_date(utcnow()),
        "days_ahead": 7,
        "lines": [{"listing_id": cabbages.id, "quantity": 60}],
        **changes,
    }
    return standing.create_standing_order(session, **values)


def at_noon(days: int = 0) -> datetime:
    return datetime.combine(local_date(utcnow()) + timedelta(days=days), time(12), LOCAL_TIME)


def test_the_job_makes_each_weekdays_orders_once_however_often_it_runs(
    app, session, school, cabbages
):
    credit(session, school.id, 1_000_000)
    weekday_order(session, school, cabbages)
    session.flush()
    now = at_noon()
    with app.app_context():
        first = jobs.order_standing_days(now)
        again = jobs.order_standing_days(now)
    weekdays = [
        local_date(now) + timedelta(days=n)
        for n in range(1, 8)
        if (local_date(now) + timedelta(days=n)).isoweekday() <= 5
    ]
    assert first == {"ordered": len(weekdays), "closed": 0, "not_ordered": 0}
    assert again == {"ordered": 0, "closed": 0, "not_ordered": 0}
    orders = session.scalars(select(Order).where(Order.buyer_id == school.id)).all()
    assert sorted(order.delivery_date for order in orders) == weekdays
    assert {(order.window_start, order.delivery_point) for order in orders} == {
        (time(6), "湄江中学食堂")
    }
    assert ledger_problems(session) == []


def test_no_delivery_is_made_in_the_schools_holidays(session, school, cabbages):
    credit(session, school.id, 1_000_000)
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    services.add_closure(
        session, organisation_id=school.id, name="寒假", starts_on=tomorrow, ends_on=tomorrow
    )
    order = weekday_order(session, school, cabbages, weekdays="1234567")
    assert standing.order_day(session, standing_order_id=order.id, day=tomorrow) == RunStatus.closed
    row = session.scalar(select(StandingDelivery))
    assert (row.status, row.problem) == (RunStatus.closed, "寒假")


def test_a_day_past_the_suppliers_cut_off_is_refused_with_the_reason(
    app, session, school, cabbages
):
    credit(session, school.id, 1_000_000)
    order = weekday_order(session, school, cabbages, weekdays="1234567", days_ahead=1)
    services.set_supply_terms(  # the cooperative moves its cut-off after the order was set up
        session,
        organisation_id=cabbages.organisation_id,
        daily_capacity_kg=5_000,
        cutoff=time(18),
        cutoff_days=1,
    )
    session.flush()
    late_evening = datetime.combine(local_date(utcnow()), time(20), LOCAL_TIME)
    with app.app_context():
        assert jobs.order_standing_days(late_evening) == {
            "ordered": 0,
            "closed": 0,
            "not_ordered": 1,
        }
        jobs.order_standing_days(late_evening)  # tried again; the buyer is told only once
    row = session.scalar(
        select(StandingDelivery).where(StandingDelivery.standing_order_id == order.id)
    )
    assert row.status == RunStatus.not_ordered and "18:00" in row.problem  # the cut-off it missed
    told = session.scalars(select(Event).where(Event.kind == "standing_order.not_ordered")).all()
    assert len(told) == 1 and told[0].organisation_id == school.id


def test_a_day_over_the_suppliers_daily_capacity_is_refused_naming_the_load(
    session, school, cabbages
):
    credit(session, school.id, 1_000_000)
    services.set_supply_terms(
        session,
        organisation_id=cabbages.organisation_id,
        daily_capacity_kg=50,
        cutoff=time(23, 59),
        cutoff_days=0,
    )
    order = weekday_order(session, school, cabbages, weekdays="1234567")
    with pytest.raises(Exception) as refused:
        standing.order_day(
            session, standing_order_id=order.id, day=local_date(utcnow()) + timedelta(days=1)
        )
    assert "50" in refused.value.message and "60" in refused.value.message


def test_a_standing_order_for_a_listing_not_for_sale_to_the_school_is_refused_on_its_field(
    session, school
):
    supermarkets_only = ListingFactory(visible_to=1)  # offered to supermarkets only
    with pytest.raises(RuleViolation) as refused:
        weekday_order(
            session,
            school,
            supermarkets_only,
            lines=[{"listing_id": supermarkets_only.id, "quantity": 5}],
        )
    assert refused.value.field == "lines.0.listing_id"


def test_a_window_that_ends_before_it_starts_is_refused(session, school):
    with pytest.raises(RuleViolation) as refused:
        point(session, school, "后门", CANTEEN, start=time(7), end=time(6))
    assert refused.value.field == "window_end"


def test_lines_from_one_supplier_count_together_against_its_capacity(session, school, cabbages):
    credit(session, school.id, 1_000_000)
    services.set_supply_terms(
        session,
        organisation_id=cabbages.organisation_id,
        daily_capacity_kg=100,
        cutoff=time(23, 59),
        cutoff_days=0,
    )
    potatoes = ListingFactory(
        seller=cabbages.seller, product_code="potato", price_fen=300, quantity=10_000, min_order=10
    )
    order = weekday_order(
        session,
        school,
        cabbages,
        weekdays="1234567",
        lines=[
            {"listing_id": cabbages.id, "quantity": 60},
            {"listing_id": potatoes.id, "quantity": 60},
        ],
    )
    with pytest.raises(Exception) as refused:
        standing.order_day(
            session, standing_order_id=order.id, day=local_date(utcnow()) + timedelta(days=1)
        )
    assert "120" in refused.value.message  # 60 kg + 60 kg against 100


def test_orders_made_later_than_the_suppliers_cut_off_are_refused_when_set_up(
    session, school, cabbages
):
    services.set_supply_terms(
        session,
        organisation_id=cabbages.organisation_id,
        daily_capacity_kg=5_000,
        cutoff=time(18),
        cutoff_days=2,
    )
    with pytest.raises(RuleViolation) as refused:
        weekday_order(session, school, cabbages, days_ahead=2)
    assert refused.value.field == "days_ahead"


def test_two_delivery_points_of_one_name_are_refused_on_the_name(session, school):
    point(session, school, "湄江中学食堂", CANTEEN)
    with pytest.raises(RuleViolation) as refused:
        point(session, school, "湄江中学食堂", CANTEEN)
    assert refused.value.field == "name"

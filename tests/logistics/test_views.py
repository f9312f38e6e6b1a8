from datetime import time, timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from app.logistics.models import DeliveryPoint
from app.orders.services import Delivery
from tests.factories import ListingFactory, UserFactory, member
from tests.helpers import post_form, sign_in
from tests.logistics.steps import CANTEEN, FAR_AWAY, point, truck
from tests.orders.steps import checkout, credit

TOMORROW = local_date(utcnow()) + timedelta(days=1)


@pytest.fixture
def school(session):
    buyer = member(kind=OrgKind.school, role=Role.manager, name_zh="湄江中学")
    credit(session, buyer.organisation_id, 1_000_000)
    return buyer


@pytest.fixture
def coop(session):
    return member(kind=OrgKind.cooperative, role=Role.manager, name_zh="两路口蔬菜合作社")


@pytest.fixture
def cabbage(session, coop):
    return ListingFactory(
        seller=coop.organisation, product_code="chinese_cabbage", price_fen=240, quantity=5000
    )


def test_a_school_adds_its_canteen_and_a_standing_order_from_a_listing(
    client, session, school, cabbage
):
    sign_in(client, school.user, school.organisation)
    added = post_form(
        client,
        "/logistics/points",
        {
            "name": "湄江中学食堂",
            "latitude": "27.772",
            "longitude": "107.481",
            "window_start": "06:00",
            "window_end": "06:30",
        },
        follow_redirects=True,
    )
    assert "收货点已保存" in added.get_data(as_text=True)
    form = client.get(f"/logistics/standing/new?listing={cabbage.id}").get_data(as_text=True)
    assert cabbage.title in form  # the listing it came from, by name
    point_id = session.scalar(select(DeliveryPoint.id))
    created = post_form(
        client,
        "/logistics/standing/new",
        {
            "delivery_point_id": point_id,
            "weekdays": ["1", "3", "5"],
            "window_start": "06:00",
            "window_end": "06:30",
            "starts_on": TOMORROW.isoformat(),
            "days_ahead": "2",
            "payment": "wallet",
            "listing_1": cabbage.id,
            "quantity_1": "60",
        },
        follow_redirects=True,
    )
    page = created.get_data(as_text=True)
    assert "定期订单已创建" in page and "周一 周三 周五" in page


def test_a_point_outside_china_is_refused_on_its_field(client, school):
    sign_in(client, school.user, school.organisation)
    refused = post_form(
        client,
        "/logistics/points",
        {
            "name": "巴黎",
            "latitude": "48.86",
            "longitude": "2.35",
            "window_start": "06:00",
            "window_end": "06:30",
        },
    )
    assert refused.status_code == 422 and "不在中国境内" in refused.get_data(as_text=True)


def test_the_dispatcher_plans_tomorrow_sees_why_a_stop_is_unserved_and_prints_a_route_sheet(
    client, session, school, coop, cabbage
):
    point(session, school.organisation, "湄江中学食堂", CANTEEN)
    far = member(kind=OrgKind.school, role=Role.manager, name_zh="山区小学")
    credit(session, far.organisation_id, 1_000_000)
    point(session, far.organisation, "山区小学", FAR_AWAY, start=time(5, 30), end=time(5, 45))
    for buyer, name, window in (
        (school.organisation, "湄江中学食堂", (time(6), time(6, 30))),
        (far.organisation, "山区小学", (time(5, 30), time(5, 45))),
    ):
        checkout(
            session,
            buyer,
            UserFactory().id,
            [(cabbage, 50)],
            delivery=Delivery(name, TOMORROW, *window),
        )
    truck(session, coop.organisation, "一号车")
    session.flush()
    sign_in(client, coop.user, coop.organisation)
    planned = post_form(
        client, "/logistics/plan", {"day": TOMORROW.isoformat()}, follow_redirects=True
    )
    page = planned.get_data(as_text=True)
    assert "排线完成" in page and "一号车" in page
    assert "未能安排（1）" in page and "05:45" in page  # the school in the hills, and why
    sheet_link = page.split('href="/logistics/routes/')[1].split('"')[0]
    sheet = client.get(f"/logistics/routes/{sheet_link}").get_data(as_text=True)
    assert "路单" in sheet and "湄江中学食堂" in sheet and "山区小学" not in sheet


def test_the_supply_page_shows_the_weeks_and_their_chart_in_english(client, session, coop):
    sign_in(client, coop.user, coop.organisation, language="en")
    page = client.get("/supply?product=potato").get_data(as_text=True)
    assert (
        "Supply and demand" in page and 'id="supply-chart"' in page and "chart.umd.min.js" in page
    )
    assert page.count("<tr") >= 13  # the header and twelve weeks


def test_the_cooperatives_dashboard_says_tomorrow_is_not_planned_yet(client, session, coop):
    sign_in(client, coop.user, coop.organisation)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "明天还没有排线。" in page and "/logistics/plan" in page


def test_a_late_truck_is_a_notice_for_the_school_with_a_link_to_its_order(
    client, session, school, coop, cabbage
):
    from datetime import datetime

    from app.db import LOCAL_TIME
    from app.logistics import dispatch

    point(session, school.organisation, "湄江中学食堂", CANTEEN)
    order = checkout(
        session,
        school.organisation,
        UserFactory().id,
        [(cabbage, 50)],
        delivery=Delivery("湄江中学食堂", TOMORROW, time(6), time(6, 30)),
    ).orders[0]
    truck(session, coop.organisation, "一号车")
    plan = dispatch.plan_day(
        session, organisation_id=coop.organisation_id, actor_id=coop.user_id, day=TOMORROW
    )
    dispatch.depart(
        session,
        organisation_id=coop.organisation_id,
        actor_id=coop.user_id,
        route_id=plan.routes[0].id,
    )
    dispatch.arrive(
        session,
        organisation_id=coop.organisation_id,
        actor_id=coop.user_id,
        stop_id=plan.stops[0].id,
        now=datetime.combine(TOMORROW, time(7, 5), LOCAL_TIME),
    )
    session.flush()
    sign_in(client, school.user, school.organisation)
    page = client.get("/notices").get_data(as_text=True)
    assert "06:30" in page and f"/orders/{order.id}" in page
    assert "06:30" in client.get("/dashboard").get_data(as_text=True)

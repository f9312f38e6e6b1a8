from datetime import timedelta

import pytest

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from tests.contracts.test_api import token
from tests.factories import ListingFactory, member
from tests.orders.steps import credit

TOMORROW = local_date(utcnow()) + timedelta(days=1)


@pytest.fixture
def school(session):
    buyer = member(kind=OrgKind.school, role=Role.manager)
    credit(session, buyer.organisation_id, 1_000_000)
    session.flush()
    return buyer, token(buyer, "agl_logistics-school")


@pytest.fixture
def coop(session):
    seller = member(kind=OrgKind.cooperative, role=Role.manager)
    session.flush()
    return seller, token(seller, "agl_logistics-coop")


def canteen(**changes) -> dict:
    return {
        "name": "湄江中学食堂",
        "latitude": 27.772,
        "longitude": 107.481,
        "window_start": "06:00",
        "window_end": "06:30",
        **changes,
    }


def test_a_school_sets_up_its_canteen_and_a_weekday_standing_order(client, session, school, coop):
    _buyer, headers = school
    cabbage = ListingFactory(
        seller=coop[0].organisation, product_code="chinese_cabbage", quantity=5000
    )
    point = client.post("/api/v1/delivery-points", json=canteen(), headers=headers)
    assert point.status_code == 201
    created = client.post(
        "/api/v1/standing-orders",
        json={
            "delivery_point_id": point.get_json()["id"],
            "weekdays": [1, 2, 3, 4, 5],
            "window_start": "06:00",
            "window_end": "06:30",
            "starts_on": TOMORROW.isoformat(),
            "lines": [{"listing_id": cabbage.id, "quantity": 60}],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["weekdays"] == "12345" and body["delivery_point"] == "湄江中学食堂"
    assert [line["quantity"] for line in body["lines"]] == [60]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": 48.86, "longitude": 2.35}, "longitude"),  # Paris is not in Meitan
        ({"latitude": 1.3}, "latitude"),
        ({"window_start": "07:00", "window_end": "06:00"}, "window_end"),
    ],
)
def test_a_delivery_point_outside_china_or_with_a_backward_window_is_refused_on_its_field(
    client, school, changes, field
):
    refused = client.post("/api/v1/delivery-points", json=canteen(**changes), headers=school[1])
    assert refused.status_code == 422
    assert field in refused.get_json()["fields"]


def test_a_vehicle_with_no_capacity_is_refused(client, coop):
    refused = client.post(
        "/api/v1/vehicles",
        json={
            "name": "空车",
            "capacity_kg": 0,
            "depot_latitude": 27.766,
            "depot_longitude": 107.466,
            "shift_start": "05:30",
            "shift_end": "13:00",
        },
        headers=coop[1],
    )
    assert refused.status_code == 422 and "capacity_kg" in refused.get_json()["fields"]


def test_a_standing_order_for_a_listing_not_for_sale_to_schools_is_refused_naming_the_line(
    client, school
):
    _buyer, headers = school
    supermarkets_only = ListingFactory(visible_to=1)
    point = client.post("/api/v1/delivery-points", json=canteen(), headers=headers).get_json()
    refused = client.post(
        "/api/v1/standing-orders",
        json={
            "delivery_point_id": point["id"],
            "weekdays": [1],
            "window_start": "06:00",
            "window_end": "06:30",
            "starts_on": TOMORROW.isoformat(),
            "lines": [{"listing_id": supermarkets_only.id, "quantity": 5}],
        },
        headers=headers,
    )
    assert refused.status_code == 422
    assert "lines.0.listing_id" in refused.get_json()["fields"]


def test_the_dispatcher_plans_tomorrow_and_a_buyer_cannot_see_the_plan(
    client, session, school, coop
):
    _seller, headers = coop
    client.post(
        "/api/v1/vehicles",
        json={
            "name": "湘C 一号车",
            "capacity_kg": 2000,
            "depot_latitude": 27.766,
            "depot_longitude": 107.466,
            "shift_start": "05:30",
            "shift_end": "13:00",
        },
        headers=headers,
    )
    planned = client.post(
        "/api/v1/dispatch/plans", json={"day": TOMORROW.isoformat()}, headers=headers
    )
    assert planned.status_code == 200
    assert planned.get_json()["stops"] == []  # no paid orders for tomorrow yet: an empty plan
    fetched = client.get(f"/api/v1/dispatch/plans?day={TOMORROW.isoformat()}", headers=headers)
    assert fetched.get_json()["id"] == planned.get_json()["id"]
    assert (
        client.get(
            f"/api/v1/dispatch/plans?day={TOMORROW.isoformat()}", headers=school[1]
        ).status_code
        == 403
    )


def test_supply_and_demand_shows_a_shortfall_in_the_week_demand_exceeds_the_harvest(
    client, session, school, coop
):
    seller, headers = coop
    monday = TOMORROW - timedelta(days=TOMORROW.weekday()) + timedelta(weeks=1)
    recorded = client.post(
        "/api/v1/harvests",
        json={
            "product": "potato",
            "quantity_kg": 1000,
            "first_week": monday.isoformat(),
            "weeks": 2,
        },
        headers=headers,
    )
    assert recorded.status_code == 201
    potatoes = ListingFactory(seller=seller.organisation, product_code="potato", quantity=5000)
    buyer_headers = school[1]
    point = client.post("/api/v1/delivery-points", json=canteen(), headers=buyer_headers).get_json()
    client.post(
        "/api/v1/standing-orders",
        json={
            "delivery_point_id": point["id"],
            "weekdays": [1, 2, 3, 4, 5],
            "window_start": "06:00",
            "window_end": "06:30",
            "starts_on": monday.isoformat(),
            "lines": [{"listing_id": potatoes.id, "quantity": 120}],
        },
        headers=buyer_headers,
    )
    weeks = client.get(
        "/api/v1/supply-demand?product=potato&weeks=4", headers=buyer_headers
    ).get_json()
    week = next(row for row in weeks if row["monday"] == monday.isoformat())
    assert (week["supply_kg"], week["standing_kg"], week["shortfall_kg"]) == (500, 600, 100)


def test_a_buyers_idempotency_key_may_not_take_the_form_of_the_platforms_own(client, school):
    listing = ListingFactory(price_fen=100)
    refused = client.post(
        "/api/v1/orders",
        json={
            "lines": [{"listing_id": listing.id, "quantity": 1}],
            "delivery_point": "x",
            "delivery_date": TOMORROW.isoformat(),
            "window_start": "06:00",
            "window_end": "06:30",
        },
        headers={**school[1], "Idempotency-Key": "contract:5:1"},
    )
    assert refused.status_code == 422 and "Idempotency-Key" in refused.get_json()["fields"]

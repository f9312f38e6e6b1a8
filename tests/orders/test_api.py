from datetime import timedelta

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from app.payments import ledger
from app.payments.services import confirm_bank_transfer
from tests.factories import ApiTokenFactory, BatchFactory, ListingFactory, UserFactory, member
from tests.helpers import bearer

TOMORROW = (local_date(utcnow()) + timedelta(days=1)).isoformat()


def token(membership, secret: str) -> dict[str, str]:
    ApiTokenFactory(user=membership.user, organisation_id=membership.organisation_id, secret=secret)
    return bearer(secret)


def order_body(*lines, **extra) -> dict:
    return {
        "lines": [{"listing_id": listing.id, "quantity": quantity} for listing, quantity in lines],
        "delivery_point": "湄江中学食堂",
        "delivery_date": TOMORROW,
        "window_start": "06:00",
        "window_end": "06:30",
        **extra,
    }


def funded_school(session, yuan: int = 10_000):
    buyer = member(kind=OrgKind.school, role=Role.manager)
    confirm_bank_transfer(
        session,
        actor_id=UserFactory().id,
        organisation_id=buyer.organisation_id,
        reference=f"API-{buyer.organisation_id}",
        amount_fen=yuan * 100,
        received_on=local_date(utcnow()),
    )
    return buyer


def test_a_school_orders_by_api_and_follows_the_order_to_acceptance(client, session):
    school = funded_school(session)
    cabbage = ListingFactory(product_code="chinese_cabbage", price_fen=300, batch=BatchFactory())
    seller = member(role=Role.manager)
    cabbage.seller = seller.organisation
    session.flush()
    buying = token(school, "agl_school-erp")
    selling = token(seller, "agl_coop-erp")

    placed = client.post("/api/v1/orders", json=order_body((cabbage, 50)), headers=buying)
    [order] = placed.get_json()["orders"]
    shipped = client.post(f"/api/v1/orders/{order['id']}/ship", headers=selling)
    accepted = client.post(
        f"/api/v1/orders/{order['id']}/accept",
        json={
            "lines": [{"line_id": order["lines"][0]["id"], "accepted_quantity": 48}],
            "inspectors": "李老师、王师傅",
            "test_outcome": "passed",
            "note": "2 kg wilted",
        },
        headers=buying,
    )

    assert placed.status_code == 201 and order["status"] == "paid" and order["total_fen"] == 15000
    assert order["lines"][0]["batch_code"] == cabbage.batch.code
    assert shipped.get_json()["status"] == "shipped"
    assert accepted.status_code == 200
    body = accepted.get_json()
    assert (body["status"], body["accepted_fen"], body["fee_fen"], body["refunded_fen"]) == (
        "accepted",
        14400,
        288,
        600,
    )
    assert body["inspection"]["inspectors"] == "李老师、王师傅"
    wallet = client.get("/api/v1/wallet", headers=selling).get_json()
    assert wallet["owed_to_you_fen"] == 14112


def test_a_replayed_key_returns_the_same_orders_with_200(client, session):
    school = funded_school(session)
    tea = ListingFactory()
    headers = {**token(school, "agl_replay"), "Idempotency-Key": "po-1"}
    first = client.post("/api/v1/orders", json=order_body((tea, 1)), headers=headers)
    again = client.post("/api/v1/orders", json=order_body((tea, 1)), headers=headers)
    other = client.post("/api/v1/orders", json=order_body((tea, 2)), headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["orders"][0]["id"] == again.get_json()["orders"][0]["id"]
    assert other.status_code == 409 and "Idempotency-Key" in other.get_json()["fields"]


def test_bad_order_input_names_each_field_and_rule(client, session):
    school = funded_school(session)
    response = client.post(
        "/api/v1/orders",
        json={
            "lines": [{"listing_id": 1, "quantity": 0}],
            "delivery_date": "soon",
            "payment": "cash",
        },
        headers=token(school, "agl_bad"),
    )
    fields = response.get_json()["fields"]
    assert response.status_code == 422
    assert {"delivery_point", "delivery_date", "window_start", "payment"} <= set(fields)
    assert "lines" in fields


def test_the_last_unit_goes_to_one_buyer_and_the_next_hears_it_sold_out(client, session):
    tea = ListingFactory(quantity=1)
    first, second = funded_school(session), funded_school(session)
    won = client.post("/api/v1/orders", json=order_body((tea, 1)), headers=token(first, "agl_a"))
    lost = client.post("/api/v1/orders", json=order_body((tea, 1)), headers=token(second, "agl_b"))
    assert won.status_code == 201
    assert lost.status_code == 409 and "已售罄" in lost.get_json()["message"]


def test_a_seller_cannot_ship_another_sellers_order(client, session):
    school = funded_school(session)
    tea = ListingFactory()
    placed = client.post(
        "/api/v1/orders", json=order_body((tea, 1)), headers=token(school, "agl_s")
    )
    order_id = placed.get_json()["orders"][0]["id"]
    stranger = member(role=Role.manager)
    response = client.post(f"/api/v1/orders/{order_id}/ship", headers=token(stranger, "agl_x"))
    assert response.status_code == 404


def test_only_the_buyers_inspector_may_accept(client, session):
    school = funded_school(session)
    staff = member(kind=OrgKind.school, role=Role.staff)
    response = client.post(
        "/api/v1/orders/1/accept",
        json={"inspectors": "x", "test_outcome": "passed"},
        headers=token(staff, "agl_staff"),
    )
    assert response.status_code == 403
    assert school.organisation_id != staff.organisation_id


def test_a_buyer_lists_its_orders_and_a_seller_sees_them_as_selling(client, session):
    school = funded_school(session)
    tea = ListingFactory()
    seller = member(role=Role.manager)
    tea.seller = seller.organisation
    session.flush()
    client.post("/api/v1/orders", json=order_body((tea, 1)), headers=token(school, "agl_l"))

    buying = client.get("/api/v1/orders", headers=bearer("agl_l")).get_json()
    selling = client.get("/api/v1/orders?side=selling", headers=token(seller, "agl_m")).get_json()
    assert buying["total"] == selling["total"] == 1
    assert buying["items"][0]["seller"]["id"] == seller.organisation_id
    assert ledger.balance(session, ledger.escrow(buying["items"][0]["id"])) == 68000

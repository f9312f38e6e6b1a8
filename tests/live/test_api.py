from datetime import timedelta

import pytest

from app.auth import OrgKind, Role
from app.db import LOCAL_TIME, utcnow
from app.live.models import FlashDeal
from tests.contracts.test_api import token
from tests.factories import member
from tests.live.steps import buyer_with_money, host_with_chili
from tests.orders.steps import credit


@pytest.fixture
def studio(session, client):
    """The cooperative's host (with a token) and its chili; a session scheduled, announced and live."""
    host, chili = host_with_chili(session, quantity=500)
    headers = token(host, "agl_live-host")
    starts = (utcnow() + timedelta(hours=1)).astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")
    created = client.post(
        "/api/v1/live/sessions",
        json={"title": "辣椒节直播", "starts_at": starts, "listing_ids": [chili.id]},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    session_id = created.get_json()["id"]
    assert (
        client.post(f"/api/v1/live/sessions/{session_id}/announce", headers=headers).status_code
        == 200
    )
    went = client.post(
        f"/api/v1/live/sessions/{session_id}/status", json={"status": "live"}, headers=headers
    )
    assert went.get_json()["status"] == "live"
    return {"id": session_id, "headers": headers, "chili": chili, "host": host}


def deal(**changes) -> dict:
    return {
        "listing_id": changes.pop("listing_id"),
        "price_yuan": "19.90",
        "stock": 100,
        "per_customer_limit": 2,
        "countdown_seconds": 10,
        "duration_minutes": 5,
        **changes,
    }


def test_the_host_pins_the_chili_and_every_viewer_sees_it_with_its_price_and_stock(client, studio):
    pinned = client.post(
        f"/api/v1/live/sessions/{studio['id']}/pin",
        json={"listing_id": studio["chili"].id},
        headers=studio["headers"],
    )
    assert pinned.status_code == 200
    state = client.get(f"/api/v1/live/sessions/{studio['id']}").get_json()
    assert state["pinned"] == {
        "listing_id": studio["chili"].id,
        "title": "湄潭辣椒 干椒",
        "price_fen": 3000,
        "unit": "kg",
        "stock": 500,
        "min_order": 1,
    }
    assert state["session"]["status"] == "live" and "-" in state["cursor"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"price_yuan": "30.00"}, "price", "近 30 天的最低价"),
        ({"countdown_seconds": 5}, "countdown_seconds", "10 到 300 秒"),
        ({"duration_minutes": 21}, "duration_minutes", "1 到 20 分钟"),
        ({"stock": 501}, "stock", "库存仅剩 500"),
    ],
)
def test_a_deal_breaking_a_rule_gets_422_naming_the_rule(client, studio, changes, field, words):
    refused = client.post(
        f"/api/v1/live/sessions/{studio['id']}/deals",
        json=deal(listing_id=studio["chili"].id, **changes),
        headers=studio["headers"],
    )
    assert refused.status_code == 422
    assert words in " ".join(refused.get_json()["fields"][field])


def test_a_buyer_buys_a_deal_in_one_call_and_a_retry_with_the_same_key_buys_nothing_more(
    client, session, studio
):
    started = client.post(
        f"/api/v1/live/sessions/{studio['id']}/deals",
        json=deal(listing_id=studio["chili"].id, countdown_seconds=10),
        headers=studio["headers"],
    )
    assert started.status_code == 201
    card = started.get_json()
    assert (card["status"], card["left"], card["was_fen"]) == ("counting", 100, 3000)
    buyer = member(kind=OrgKind.supermarket, role=Role.staff)
    credit(session, buyer.organisation_id, 100_000)
    headers = {**token(buyer, "agl_live-buyer"), "Idempotency-Key": "tap-1"}
    early = client.post(
        f"/api/v1/live/sessions/{studio['id']}/orders",
        json={"deal_id": card["deal_id"], "quantity": 2},
        headers=headers,
    )
    assert early.status_code == 409 and "秒后开始" in early.get_json()["message"]
    session.get(FlashDeal, card["deal_id"]).opens_at = utcnow() - timedelta(seconds=1)
    session.flush()
    bought = client.post(
        f"/api/v1/live/sessions/{studio['id']}/orders",
        json={"deal_id": card["deal_id"], "quantity": 2},
        headers=headers,
    )
    assert bought.status_code == 201, bought.get_json()
    order = bought.get_json()["orders"][0]
    assert order["total_fen"] == 3980 and order["status"] == "paid"
    again = client.post(
        f"/api/v1/live/sessions/{studio['id']}/orders",
        json={"deal_id": card["deal_id"], "quantity": 2},
        headers=headers,
    )
    assert again.status_code == 200 and again.get_json()["orders"][0]["id"] == order["id"]
    over = client.post(
        f"/api/v1/live/sessions/{studio['id']}/orders",
        json={"deal_id": card["deal_id"], "quantity": 1},
        headers={**headers, "Idempotency-Key": "tap-2"},
    )
    assert over.status_code == 422 and "最多购买 2" in over.get_json()["fields"]["quantity"][0]
    state = client.get(f"/api/v1/live/sessions/{studio['id']}").get_json()
    assert state["deals"][0]["left"] == 98
    figures = client.get(
        f"/api/v1/live/sessions/{studio['id']}/figures", headers=studio["headers"]
    ).get_json()
    assert (figures["orders"], figures["sales_fen"]) == (1, 3980)


def test_a_viewer_cannot_pin_or_start_deals_and_another_seller_cannot_either(
    client, session, studio
):
    viewer = buyer_with_money(session)
    other, _listing = host_with_chili(session)
    for headers in (token(viewer, "agl_live-viewer"), token(other, "agl_live-other")):
        pin = client.post(
            f"/api/v1/live/sessions/{studio['id']}/pin",
            json={"listing_id": studio["chili"].id},
            headers=headers,
        )
        started = client.post(
            f"/api/v1/live/sessions/{studio['id']}/deals",
            json=deal(listing_id=studio["chili"].id),
            headers=headers,
        )
        assert (pin.status_code, started.status_code) == (403, 403)


def test_asking_for_both_a_deal_and_a_listing_or_neither_is_refused(client, session, studio):
    buyer = buyer_with_money(session)
    headers = token(buyer, "agl_live-both")
    both = client.post(
        f"/api/v1/live/sessions/{studio['id']}/orders",
        json={"deal_id": 1, "listing_id": studio["chili"].id, "quantity": 1},
        headers=headers,
    )
    assert both.status_code == 422 and "deal_id" in both.get_json()["fields"]


def test_the_live_api_and_its_event_stream_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/live/sessions/{session_id}/events" in paths
    stream = paths["/api/v1/live/sessions/{session_id}/events"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert "/api/v1/live/sessions/{session_id}/deals" in paths

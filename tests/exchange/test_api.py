"""The exchange's JSON API as a trading system or a warehouse's software uses it."""

from datetime import timedelta

import pytest

from app.auth import OrgKind, Role
from app.db import LOCAL_TIME, utcnow
from app.exchange.models import Receipt, TradingMode
from tests.contracts.test_api import token
from tests.exchange.steps import (
    AROUND_THE_CLOCK,
    cuiya,
    receipt_for,
    trader_with_deposit,
    warehouse,
)
from tests.factories import ListingFactory, member
from tests.factories.catalog import grade_of, product
from tests.helpers import ledger_problems


@pytest.fixture
def market(session):
    """Cuiya tradable at any hour (all modes), a trader selling with a receipt, one buying; both with tokens."""
    tea = cuiya(session, **AROUND_THE_CLOCK)
    seller = trader_with_deposit(session)
    buyer = trader_with_deposit(session)
    receipt = receipt_for(session, tea, seller, kg=100)
    session.flush()
    return {
        "tea": tea,
        "receipt": receipt,
        "seller": token(seller, "agl_x-seller"),
        "buyer": token(buyer, "agl_x-buyer"),
        "buyer_id": buyer.organisation_id,
    }


def _order(client, headers, **fields):
    return client.post(
        "/api/v1/exchange/orders", json={"symbol": "CUIYA-S", **fields}, headers=headers
    )


def test_a_buy_order_trades_against_a_resting_sell_and_both_see_it(client, market, session):
    sell = _order(
        client,
        market["seller"],
        side="sell",
        price_yuan="790",
        lots=4,
        receipt_id=market["receipt"].id,
    )
    assert sell.status_code == 201, sell.get_json()
    assert sell.get_json()["order"]["status"] == "open"
    book = client.get("/api/v1/exchange/instruments/CUIYA-S/book").get_json()
    assert book["asks"] == [{"price_fen": 79_000, "lots": 4, "orders": 1}]

    buy = _order(client, market["buyer"], side="buy", price_yuan="800", lots=3)
    assert buy.status_code == 201
    placed = buy.get_json()
    assert placed["order"]["status"] == "filled"
    assert [(t["price_fen"], t["lots"], t["kg"]) for t in placed["trades"]] == [(79_000, 3, 15)]
    tape = client.get("/api/v1/exchange/instruments/CUIYA-S/trades").get_json()
    assert [(t["price_fen"], t["kg"]) for t in tape] == [(79_000, 15)]
    assert (
        client.get("/api/v1/exchange/instruments/CUIYA-S/book").get_json()["asks"][0]["lots"] == 1
    )
    mine = client.get("/api/v1/exchange/receipts", headers=market["buyer"]).get_json()
    assert [(r["net_kg"], r["status"]) for r in mine] == [(15, "held")]
    deposit = client.get("/api/v1/exchange/deposit", headers=market["buyer"]).get_json()
    assert deposit["free_fen"] == 10_000_000 - 79_000 * 15
    candles = client.get("/api/v1/exchange/instruments/CUIYA-S/candles?interval=5m").get_json()
    assert candles[-1]["close_fen"] == 79_000 and candles[-1]["kg"] == 15
    assert ledger_problems(session) == []


def test_cancelling_an_order_frees_its_money(client, market):
    placed = _order(client, market["buyer"], side="buy", price_yuan="780", lots=2).get_json()
    order_id = placed["order"]["id"]
    assert (
        client.get("/api/v1/exchange/deposit", headers=market["buyer"]).get_json()["reserved_fen"]
        == 780_000
    )
    gone = client.delete(f"/api/v1/exchange/orders/{order_id}", headers=market["buyer"])
    assert gone.status_code == 200 and gone.get_json()["status"] == "cancelled"
    assert (
        client.get("/api/v1/exchange/deposit", headers=market["buyer"]).get_json()["reserved_fen"]
        == 0
    )
    again = client.delete(f"/api/v1/exchange/orders/{order_id}", headers=market["buyer"])
    assert again.status_code == 409
    others = client.delete(f"/api/v1/exchange/orders/{order_id}", headers=market["seller"])
    assert others.status_code == 404


def test_the_same_idempotency_key_gives_one_order(client, market):
    headers = {**market["buyer"], "Idempotency-Key": "erp-20261130-0001"}
    first = _order(client, headers, side="buy", price_yuan="780", lots=1)
    second = _order(client, headers, side="buy", price_yuan="780", lots=1)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["order"]["id"] == second.get_json()["order"]["id"]
    assert len(client.get("/api/v1/exchange/orders", headers=market["buyer"]).get_json()) == 1


@pytest.mark.parametrize(
    ("fields", "status", "field", "words"),
    [
        (
            {"side": "buy", "price_yuan": "800.05", "lots": 1},
            422,
            "price_yuan",
            "最小变动价位 ¥0.10 的整数倍",
        ),
        ({"side": "buy", "price_yuan": "900", "lots": 1}, 422, "price_yuan", "¥720.00"),
        ({"side": "buy", "price_yuan": "800", "lots": 0}, 422, "lots", "1"),
        ({"side": "sell", "price_yuan": "800", "lots": 1}, 422, "receipt_id", "仓单"),
        ({"side": "buy", "price_yuan": "800", "lots": 500}, 409, None, "保证金"),
    ],
)
def test_bad_orders_are_refused_naming_the_field_and_the_rule(
    client, market, fields, status, field, words
):
    refused = _order(client, market["buyer"], **fields)
    assert refused.status_code == status, refused.get_json()
    body = refused.get_json()
    if field:
        assert field in body["fields"]
    assert words in body["message"] + str(body.get("fields"))


def test_a_halt_refuses_new_orders_at_once_and_a_resume_lets_them_in(client, market):
    officer = token(member(kind=OrgKind.exchange, role=Role.officer), "agl_x-officer")
    halt = {"symbol": "CUIYA-S", "reason": "价格异常波动"}
    assert client.post("/api/v1/surveillance/halts", json=halt, headers=officer).status_code == 200
    assert client.get("/api/v1/exchange/instruments/CUIYA-S").get_json()["halted"] is True
    refused = _order(client, market["buyer"], side="buy", price_yuan="800", lots=1)
    assert refused.status_code == 409 and "价格异常波动" in refused.get_json()["message"]
    assert (
        client.post("/api/v1/surveillance/halts", json=halt, headers=market["buyer"]).status_code
        == 403
    )
    client.post(
        "/api/v1/surveillance/resumptions", json={**halt, "reason": "已核实"}, headers=officer
    )
    assert _order(client, market["buyer"], side="buy", price_yuan="800", lots=1).status_code == 201


def test_exchange_staff_open_an_instrument_with_its_rules(client, session):
    officer = token(member(kind=OrgKind.exchange, role=Role.officer), "agl_x-opener")
    tea = product("zunyi_hong")
    rules = {
        "symbol": "zyh-s",
        "product_id": tea.id,
        "grade_id": grade_of(tea, "special").id,
        "packaging": "500 g 礼盒",
        "tick_yuan": "0.5",
        "lot_kg": 10,
        "previous_close_yuan": "520",
        "modes": ["listing", "english"],
        "opens_at": "09:30",
        "closes_at": "09:00",
    }
    backwards = client.post("/api/v1/surveillance/instruments", json=rules, headers=officer)
    assert backwards.status_code == 422 and "closes_at" in backwards.get_json()["fields"]
    opened = client.post(
        "/api/v1/surveillance/instruments", json={**rules, "closes_at": "15:00"}, headers=officer
    )
    assert opened.status_code == 201, opened.get_json()
    shown = opened.get_json()
    assert (shown["symbol"], shown["tick_fen"], shown["modes"]) == (
        "ZYH-S",
        50,
        ["english", "listing"],
    )
    assert (shown["low_fen"], shown["high_fen"]) == (46_800, 57_200)


def test_matching_is_refused_where_the_instrument_does_not_enable_it(client, session):
    cuiya(session, symbol="CUIYA-1", modes=[TradingMode.listing], **AROUND_THE_CLOCK)
    buyer = token(trader_with_deposit(session), "agl_x-only-listing")
    refused = _order(client, buyer, symbol="CUIYA-1", side="buy", price_yuan="800", lots=1)
    assert refused.status_code == 422 and "mode" in refused.get_json()["fields"]


def test_a_warehouse_issues_a_receipt_and_the_holder_lists_and_a_buyer_takes_it(
    client, market, session
):
    store = warehouse()
    tea = product("meitan_cuiya")
    issued = client.post(
        "/api/v1/exchange/receipts",
        json={
            "holder_id": market["buyer_id"],
            "product_id": tea.id,
            "grade_id": grade_of(tea, "special").id,
            "net_kg": 50,
            "packages": 10,
            "inspection": "感官审评 94 分",
        },
        headers=token(store, "agl_x-warehouse"),
    )
    assert issued.status_code == 201, issued.get_json()
    listed = client.post(
        "/api/v1/exchange/lots",
        json={
            "symbol": "CUIYA-S",
            "receipt_id": market["receipt"].id,
            "price_yuan": "805",
            "lots": 10,
            "min_lots": 2,
        },
        headers=market["seller"],
    )
    assert listed.status_code == 201, listed.get_json()
    lot_id = listed.get_json()["id"]
    too_few = client.post(
        f"/api/v1/exchange/lots/{lot_id}/take", json={"lots": 1}, headers=market["buyer"]
    )
    assert too_few.status_code == 422
    taken = client.post(
        f"/api/v1/exchange/lots/{lot_id}/take", json={"lots": 10}, headers=market["buyer"]
    )
    assert taken.status_code == 201 and taken.get_json()["value_fen"] == 80_500 * 50
    gone = client.post(
        f"/api/v1/exchange/lots/{lot_id}/take", json={"lots": 2}, headers=market["buyer"]
    )
    assert gone.status_code == 409
    assert ledger_problems(session) == []


def test_an_english_auction_over_the_api(client, market):
    starts = utcnow().astimezone(LOCAL_TIME)
    created = client.post(
        "/api/v1/exchange/auctions",
        json={
            "kind": "english",
            "symbol": "CUIYA-S",
            "receipt_id": market["receipt"].id,
            "lots": 20,
            "start_yuan": "730",
            "increment_yuan": "5",
            "reserve_yuan": "750",
            "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%S"),
            "ends_at": (starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
        headers=market["seller"],
    )
    assert created.status_code == 201, created.get_json()
    auction_id = created.get_json()["id"]
    bid = client.post(
        f"/api/v1/exchange/auctions/{auction_id}/bids",
        json={"price_yuan": "730"},
        headers=market["buyer"],
    )
    assert bid.status_code == 201, bid.get_json()
    low = client.post(
        f"/api/v1/exchange/auctions/{auction_id}/bids",
        json={"price_yuan": "731"},
        headers=market["buyer"],
    )
    assert low.status_code == 409
    detail = client.get(f"/api/v1/exchange/auctions/{auction_id}").get_json()
    assert (detail["leading_fen"], detail["bid_count"], detail["reserve_met"]) == (73_000, 1, False)
    assert [b["price_fen"] for b in detail["bids"]] == [73_000]


def test_an_auction_missing_its_terms_is_refused_naming_them(client, market):
    refused = client.post(
        "/api/v1/exchange/auctions",
        json={
            "kind": "dutch",
            "symbol": "CUIYA-S",
            "receipt_id": market["receipt"].id,
            "lots": 2,
            "start_yuan": "900",
            "starts_at": "2026-12-01T10:00",
        },
        headers=market["seller"],
    )
    assert refused.status_code == 422
    assert set(refused.get_json()["fields"]) == {"step_yuan", "interval_seconds", "floor_yuan"}


def test_the_exchange_api_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/exchange/orders",
        "/api/v1/exchange/orders/{order_id}",
        "/api/v1/exchange/instruments/{symbol}/book",
        "/api/v1/exchange/instruments/{symbol}/trades",
        "/api/v1/exchange/lots/{lot_id}/take",
        "/api/v1/exchange/auctions/{auction_id}/bids",
        "/api/v1/exchange/receipts",
        "/api/v1/exchange/tenders/{tender_id}/bids",
        "/api/v1/exchange/index/{product_id}/{grade_id}",
    ):
        assert path in paths
    assert "delete" in paths["/api/v1/exchange/orders/{order_id}"]


def test_a_school_posts_a_tender_and_a_cooperative_bids_over_the_api(client, session):
    school = member(kind=OrgKind.school, role=Role.manager)
    coop = member(kind=OrgKind.cooperative, role=Role.manager)
    tea = product("meitan_cuiya")
    listing = ListingFactory(seller=coop.organisation, product_code="meitan_cuiya", unit_code="kg")
    listing.grade_id = grade_of(tea, "special").id
    session.flush()
    closes = utcnow().astimezone(LOCAL_TIME) + timedelta(days=1)
    need = {
        "title": "教工春茶",
        "product_id": tea.id,
        "grade_id": grade_of(tea, "special").id,
        "kg": 30,
        "max_price_yuan": "850",
        "delivery_on": (closes - timedelta(days=2)).date().isoformat(),
        "window_start": "09:00",
        "window_end": "11:00",
        "delivery_point": "湄江中学后勤处",
        "closes_at": closes.strftime("%Y-%m-%dT%H:%M"),
    }
    school_token = token(school, "agl_x-school")
    early = client.post("/api/v1/exchange/tenders", json=need, headers=school_token)
    assert early.status_code == 422 and "delivery_on" in early.get_json()["fields"]
    need["delivery_on"] = (closes + timedelta(days=5)).date().isoformat()
    posted = client.post("/api/v1/exchange/tenders", json=need, headers=school_token)
    assert posted.status_code == 201, posted.get_json()
    tender_id = posted.get_json()["id"]
    coop_token = token(coop, "agl_x-coop")
    over = client.post(
        f"/api/v1/exchange/tenders/{tender_id}/bids",
        json={"listing_id": listing.id, "price_yuan": "900"},
        headers=coop_token,
    )
    assert over.status_code == 422 and "¥850.00" in over.get_json()["message"]
    bid = client.post(
        f"/api/v1/exchange/tenders/{tender_id}/bids",
        json={"listing_id": listing.id, "price_yuan": "830"},
        headers=coop_token,
    )
    assert bid.status_code == 201
    shown = client.get(f"/api/v1/exchange/tenders/{tender_id}").get_json()
    assert (shown["lowest_fen"], shown["bid_count"], shown["status"]) == (83_000, 1, "open")
    assert (
        client.post(
            f"/api/v1/exchange/tenders/{tender_id}/bids",
            json={"listing_id": listing.id, "price_yuan": "820"},
            headers=school_token,
        ).status_code
        == 403
    )


def test_a_take_sent_twice_with_one_key_is_one_trade(client, market, session):
    listed = client.post(
        "/api/v1/exchange/lots",
        json={
            "symbol": "CUIYA-S",
            "receipt_id": market["receipt"].id,
            "price_yuan": "805",
            "lots": 10,
        },
        headers=market["seller"],
    ).get_json()
    headers = {**market["buyer"], "Idempotency-Key": "erp-take-1"}
    first = client.post(
        f"/api/v1/exchange/lots/{listed['id']}/take", json={"lots": 3}, headers=headers
    )
    again = client.post(
        f"/api/v1/exchange/lots/{listed['id']}/take", json={"lots": 3}, headers=headers
    )
    assert first.get_json()["id"] == again.get_json()["id"]
    lots_left = [
        lot for lot in client.get("/api/v1/exchange/lots").get_json() if lot["id"] == listed["id"]
    ]
    assert lots_left[0]["open_lots"] == 7
    assert ledger_problems(session) == []


def test_a_holder_splits_and_merges_over_the_api_and_the_warehouse_releases(
    client, market, session
):
    receipt_id = market["receipt"].id
    part = client.post(
        f"/api/v1/exchange/receipts/{receipt_id}/split", json={"kg": 30}, headers=market["seller"]
    )
    assert part.status_code == 201 and part.get_json()["net_kg"] == 30
    assert part.get_json()["packages"] == 6  # of the receipt's 20 cartons
    session.expire_all()
    assert session.get(Receipt, receipt_id).packages == 14
    merged = client.post(
        "/api/v1/exchange/receipts/merge",
        json={"receipt_ids": [receipt_id, part.get_json()["id"]]},
        headers=market["seller"],
    )
    assert (merged.get_json()["net_kg"], merged.get_json()["packages"]) == (100, 20)
    store = session.get(Receipt, receipt_id).warehouse_id
    keeper = member(kind=OrgKind.warehouse, role=Role.manager)
    keeper.organisation_id = store  # a member of the warehouse that issued it
    session.flush()
    released = client.post(
        f"/api/v1/exchange/receipts/{receipt_id}/release", headers=token(keeper, "agl_x-keeper")
    )
    assert released.status_code == 200 and released.get_json()["status"] == "released"

"""Exchange pages as people use them: the market, an instrument's page with order entry, taking a lot, the
member's trading page and deposit, receipts and listing, the warehouse, and auctions."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind, Role
from app.db import LOCAL_TIME, utcnow
from app.exchange import lots
from app.exchange.models import Auction, Lot, Receipt, ReceiptStatus, Tender
from app.payments import ledger
from tests.exchange.steps import (
    AROUND_THE_CLOCK,
    cuiya,
    dutch_clock,
    english_auction,
    list_lots,
    receipt_for,
    take_lots,
    trader_with_deposit,
    warehouse,
)
from tests.factories import ListingFactory, member
from tests.factories.catalog import grade_of, product
from tests.helpers import ledger_problems, post_form, sign_in


@pytest.fixture
def market(session):
    tea = cuiya(session, **AROUND_THE_CLOCK)
    seller = trader_with_deposit(session)
    buyer = trader_with_deposit(session)
    receipt = receipt_for(session, tea, seller, kg=100)
    session.flush()
    return tea, seller, buyer, receipt


def test_the_market_shows_instruments_and_says_when_nothing_is_listed(client, market):
    page = client.get("/exchange").get_data(as_text=True)
    assert "CUIYA-S" in page and "湄潭翠芽 特级" in page and "¥800.00" in page
    assert "目前没有挂牌。" in page and "目前没有进行中的拍卖。" in page
    with client.session_transaction() as browser:
        browser["language"] = "en"
    english = client.get("/exchange").get_data(as_text=True)
    assert "Meitan Cuiya Premium" in english and "No lots are listed now." in english


def test_a_member_places_orders_from_the_instrument_page_and_sees_the_trade(
    client, session, market
):
    _tea, seller, buyer, receipt = market
    sign_in(client, seller.user, seller.organisation)
    page = client.get("/exchange/CUIYA-S").get_data(as_text=True)
    assert "下单" in page and receipt.number in page  # its receipt is offered to sell from
    sold = post_form(
        client,
        "/exchange/orders",
        {
            "symbol": "CUIYA-S",
            "side": "sell",
            "price_yuan": "790",
            "lots": "4",
            "receipt_id": receipt.id,
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "4 手中已成交 0 手，4 手挂在委托簿上" in sold
    sign_in(client, buyer.user, buyer.organisation)
    bought = post_form(
        client,
        "/exchange/orders",
        {
            "symbol": "CUIYA-S",
            "side": "buy",
            "price_yuan": "800",
            "lots": "3",
            "idempotency_key": "k1",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "3 手中已成交 3 手" in bought
    again = post_form(  # a double click: the same key, the same order
        client,
        "/exchange/orders",
        {
            "symbol": "CUIYA-S",
            "side": "buy",
            "price_yuan": "800",
            "lots": "3",
            "idempotency_key": "k1",
        },
        follow_redirects=True,
    )
    assert again.status_code == 200
    assert (
        ledger.balance(session, ledger.exchange_deposit(buyer.organisation_id))
        == 10_000_000 - 79_000 * 15
    )
    mine = client.get("/exchange/mine").get_data(as_text=True)
    assert "¥11,850.00" in mine and "买入" in mine  # the trade's value, and that this member bought


def test_a_refused_order_says_why_on_the_page(client, market):
    _tea, _seller, buyer, _receipt = market
    sign_in(client, buyer.user, buyer.organisation)
    page = post_form(
        client,
        "/exchange/orders",
        {"symbol": "CUIYA-S", "side": "buy", "price_yuan": "950", "lots": "1"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "价格须在每千克 ¥720.00 至 ¥880.00 之间" in page


def test_a_holder_lists_a_lot_and_a_buyer_takes_it_from_the_market(client, session, market):
    _tea, seller, buyer, receipt = market
    sign_in(client, seller.user, seller.organisation)
    assert receipt.number in client.get("/exchange/receipts").get_data(as_text=True)
    listed = post_form(
        client,
        "/exchange/lots",
        {"symbol": "CUIYA-S", "receipt_id": receipt.id, "lots": "10", "price_yuan": "810"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "已挂牌 10 手" in listed
    lot = session.scalars(select(Lot)).one()
    sign_in(client, buyer.user, buyer.organisation)
    assert "¥810.00" in client.get("/exchange").get_data(as_text=True)
    taken = post_form(client, f"/exchange/lots/{lot.id}/take", {"lots": "4"}, follow_redirects=True)
    assert "已买入 20 千克，每千克 ¥810.00，合计 ¥16,200.00" in taken.get_data(as_text=True)
    assert ledger_problems(session) == []


def test_the_warehouse_issues_and_releases_receipts_and_bad_weights_are_named(
    client, session, market
):
    _tea, seller, _buyer, _receipt = market
    store = warehouse()
    session.flush()
    sign_in(client, store.user, store.organisation)
    tea = product("meitan_cuiya")
    form = {
        "holder_id": seller.organisation_id,
        "product_id": tea.id,
        "grade_id": grade_of(tea, "special").id,
        "net_kg": "0",
        "packages": "10",
    }
    refused = post_form(client, "/warehouse/receipts", form)
    assert refused.status_code == 422 and "1 至 10,000,000 千克" in refused.get_data(as_text=True)
    issued = post_form(
        client, "/warehouse/receipts", {**form, "net_kg": "60"}, follow_redirects=True
    )
    assert "60 千克" in issued.get_data(as_text=True)
    receipt = session.scalars(
        select(Receipt).where(Receipt.warehouse_id == store.organisation_id)
    ).one()
    post_form(client, f"/warehouse/receipts/{receipt.id}/release", follow_redirects=True)
    session.refresh(receipt)
    assert receipt.status == ReceiptStatus.released


def test_an_english_auction_page_shows_the_price_countdown_and_bids(client, session, market):
    tea, seller, buyer, receipt = market
    now = utcnow()
    auction = english_auction(
        session, seller, tea, receipt, now=now, lots=4, start_fen=78_000, reserve_fen=80_000
    )
    session.flush()
    sign_in(client, buyer.user, buyer.organisation)
    page = client.get(f"/exchange/auctions/{auction.id}").get_data(as_text=True)
    assert "还没有人出价。" in page and 'id="countdown"' in page and "未达保留价" in page
    bid = post_form(
        client, f"/exchange/auctions/{auction.id}/bid", {"price_yuan": "781"}, follow_redirects=True
    )
    assert "您出价每千克 ¥781.00，目前领先。" in bid.get_data(as_text=True)
    low = post_form(
        client, f"/exchange/auctions/{auction.id}/bid", {"price_yuan": "782"}, follow_redirects=True
    )
    assert "您已是最高出价者。" in low.get_data(as_text=True)
    session.refresh(auction)
    assert auction.bid_count == 1


def test_a_seller_opens_a_dutch_clock_from_the_form(client, session, market):
    _tea, seller, _buyer, receipt = market
    sign_in(client, seller.user, seller.organisation)
    starts = utcnow().astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")
    form = {
        "kind": "dutch",
        "receipt_id": receipt.id,
        "symbol": "CUIYA-S",
        "lots": "4",
        "start_yuan": "900",
        "starts_at": starts,
    }
    missing = post_form(client, "/exchange/auctions/new", form)
    assert missing.status_code == 422 and "此类拍卖必须填写" in missing.get_data(as_text=True)
    opened = post_form(
        client,
        "/exchange/auctions/new",
        {**form, "step_yuan": "5", "interval_seconds": "30", "floor_yuan": "780"},
        follow_redirects=True,
    )
    assert "已开设" in opened.get_data(as_text=True)
    assert session.scalars(select(Auction)).one().floor_fen == 78_000


def test_only_members_trade_and_only_warehouses_issue(client, market):
    keeper = member(kind=OrgKind.warehouse, role=Role.manager)
    sign_in(client, keeper.user, keeper.organisation)
    assert client.get("/exchange/mine").status_code == 403
    _tea, seller, _buyer, _receipt = market
    sign_in(client, seller.user, seller.organisation)
    assert client.get("/warehouse/receipts").status_code == 403


def test_the_deposit_moves_between_wallet_and_exchange(client, session, market):
    _tea, _seller, buyer, _receipt = market
    sign_in(client, buyer.user, buyer.organisation)
    post_form(client, "/exchange/deposit/withdraw", {"amount_yuan": "1000"}, follow_redirects=True)
    assert (
        ledger.balance(session, ledger.exchange_deposit(buyer.organisation_id))
        == 10_000_000 - 100_000
    )
    too_much = post_form(
        client, "/exchange/deposit/fund", {"amount_yuan": "5000"}, follow_redirects=True
    )
    assert "钱包" in too_much.get_data(as_text=True)  # only ¥1,000 is in the wallet
    assert ledger.available(session, ledger.wallet(buyer.organisation_id)) == 100_000


def test_lots_taken_elsewhere_are_gone_from_the_page(client, session, market):
    tea, seller, buyer, receipt = market
    lot = list_lots(session, seller, tea, receipt, 2, price_fen=81_000)
    take_lots(session, buyer, lot, 2)
    session.flush()
    page = client.get("/exchange/CUIYA-S").get_data(as_text=True)
    assert (
        "目前没有这种茶叶的挂牌。" in page and "¥810.00" in page
    )  # no lot left; its price is the last


def test_a_school_posts_a_tender_from_the_form_and_a_cooperative_bids_on_its_page(client, session):
    school = member(kind=OrgKind.school, role=Role.manager)
    coop = member(kind=OrgKind.cooperative, role=Role.manager)
    tea = product("meitan_cuiya")
    listing = ListingFactory(
        seller=coop.organisation, product_code="meitan_cuiya", unit_code="kg", title="明前特级翠芽"
    )
    listing.grade_id = grade_of(tea, "special").id
    session.flush()
    sign_in(client, school.user, school.organisation)
    closes = utcnow().astimezone(LOCAL_TIME) + timedelta(days=1)
    posted = post_form(
        client,
        "/exchange/tenders/new",
        {
            "title": "教工春茶",
            "product_id": tea.id,
            "grade_id": grade_of(tea, "special").id,
            "kg": "30",
            "max_price_yuan": "850",
            "delivery_on": (closes + timedelta(days=5)).date().isoformat(),
            "window_start": "09:00",
            "window_end": "11:00",
            "delivery_point": "湄江中学后勤处",
            "closes_at": closes.strftime("%Y-%m-%dT%H:%M"),
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "招标已发布" in posted and "教工春茶" in posted
    tender = session.scalars(select(Tender)).one()
    sign_in(client, coop.user, coop.organisation)
    page = client.get(f"/exchange/tenders/{tender.id}").get_data(as_text=True)
    assert "明前特级翠芽" in page  # its listing to bid from
    bid = post_form(
        client,
        f"/exchange/tenders/{tender.id}/bid",
        {"listing_id": listing.id, "price_yuan": "830"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "您已报价每千克 ¥830.00" in bid and "¥830.00" in client.get(
        "/exchange/tenders"
    ).get_data(as_text=True)


def test_a_double_click_on_take_buys_once_and_on_the_deposit_moves_once(client, session, market):
    tea, seller, buyer, receipt = market
    lot = lots.list_lot(
        session,
        organisation_id=seller.organisation_id,
        actor_id=seller.user_id,
        symbol=tea.symbol,
        receipt_id=receipt.id,
        price_fen=81_000,
        lots=10,
    )
    session.flush()
    sign_in(client, buyer.user, buyer.organisation)
    for _click in range(2):
        post_form(
            client, f"/exchange/lots/{lot.id}/take", {"lots": "2", "idempotency_key": "k-take"}
        )
    session.refresh(lot)
    assert lot.open_lots == 8
    for _click in range(2):
        post_form(
            client, "/exchange/deposit/withdraw", {"amount_yuan": "100", "idempotency_key": "k-out"}
        )
    assert ledger.available(session, ledger.wallet(buyer.organisation_id)) == 10_000


def test_a_buyer_stops_the_dutch_clock_from_its_page(client, session, market):
    tea, seller, buyer, receipt = market
    clock = dutch_clock(
        session, seller, tea, receipt, start_fen=86_000, floor_fen=80_000, now=utcnow()
    )
    session.flush()
    sign_in(client, buyer.user, buyer.organisation)
    assert "按此价接受" in client.get(f"/exchange/auctions/{clock.id}").get_data(as_text=True)
    bought = post_form(
        client, f"/exchange/auctions/{clock.id}/accept", {"lots": "2"}, follow_redirects=True
    )
    assert "已买入 10 千克" in bought.get_data(as_text=True)
    session.refresh(clock)
    assert clock.open_lots == 8

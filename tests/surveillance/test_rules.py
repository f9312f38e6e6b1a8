"""Scripted market abuse raises the right alert with the right evidence; a normal day raises none; a
restart neither misses nor repeats an alert."""

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import OrgKind, Role
from app.events import Event
from app.exchange import auctions, tenders, trading
from app.exchange.models import Trade
from app.surveillance.engine import Engine
from app.surveillance.models import Alert, AuditEntry
from tests.exchange.steps import (
    MONDAY_10AM,
    cuiya,
    english_auction,
    order,
    receipt_for,
    sell_new_tea,
    trader_with_deposit,
)
from tests.exchange.test_tenders_and_index import _seller
from tests.factories import member
from tests.factories.catalog import grade_of, product

NOW = MONDAY_10AM


def _alerts(session, rule: str | None = None) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    if rule:
        query = query.where(Alert.rule == rule)
    return list(session.scalars(query))


def _run(session, engine: Engine | None = None, at=NOW) -> Engine:
    engine = engine or Engine()
    engine.evaluate(session, now=at + timedelta(minutes=5))
    return engine


def test_a_wash_trade_loop_between_two_members_raises_an_alert_naming_both_trades(session):
    tea = cuiya(session)
    a, b = trader_with_deposit(session), trader_with_deposit(session)
    a_receipt, b_receipt = receipt_for(session, tea, a), receipt_for(session, tea, b)
    order(session, a, tea, "sell", 80_000, 2, receipt=a_receipt)
    there = order(session, b, tea, "buy", 80_000, 2).trades[0]  # A sells to B
    order(session, b, tea, "sell", 80_000, 2, receipt=b_receipt, now=NOW + timedelta(minutes=3))
    back = order(session, a, tea, "buy", 80_000, 2, now=NOW + timedelta(minutes=3)).trades[
        0
    ]  # and back
    _run(session)
    [alert] = _alerts(session, "wash_trade")
    assert alert.evidence == {"trades": [there.id, back.id]}
    assert sorted(alert.member_ids) == sorted([a.organisation_id, b.organisation_id])
    assert alert.severity == "high" and alert.instrument_id == tea.id
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"alert:{alert.id}")
    ).one()
    assert entry.action == "alert.raised"


def test_trades_between_related_members_raise_an_alert(session):
    tea = cuiya(session)
    a = trader_with_deposit(session)
    b = trader_with_deposit(session)
    b.organisation.legal_representative = a.organisation.legal_representative = "王建国"
    b.organisation.contact_phone, a.organisation.contact_phone = "13900000001", "13900000002"
    sell_new_tea(session, a, tea, 80_000, 1)
    trade = order(session, b, tea, "buy", 80_000, 1).trades[0]
    _run(session)
    [alert] = _alerts(session, "related_trade")
    assert alert.evidence == {"trades": [trade.id]}


def test_a_spoofing_pattern_of_orders_cancelled_at_once_raises_both_alerts(session):
    tea = cuiya(session)
    spoofer = trader_with_deposit(session, fen=500_000_000)
    placed = []
    for n in range(25):
        at = NOW + timedelta(seconds=10 * n)
        placed.append(order(session, spoofer, tea, "buy", 79_000 - 10 * (n % 5), 5, now=at).order)
        trading.cancel_order(
            session,
            organisation_id=spoofer.organisation_id,
            actor_id=spoofer.user_id,
            order_id=placed[-1].id,
            now=at + timedelta(seconds=2),
        )
    _run(session)
    [spoofing] = _alerts(session, "spoofing")
    assert spoofing.facts["orders"] >= 20 and spoofing.facts["trades"] == 0
    assert set(spoofing.evidence["orders"]) <= {o.id for o in placed}
    [rapid] = _alerts(session, "rapid_cancel")
    assert rapid.member_ids == [spoofer.organisation_id] and rapid.facts["cancels"] >= 10


def test_a_shill_bidder_related_to_the_seller_raises_an_alert_with_the_bid(session):
    tea = cuiya(session)
    seller = member(kind=OrgKind.cooperative, role=Role.manager)
    auction = english_auction(session, seller, tea, receipt_for(session, tea, seller, kg=50))
    honest, shill = trader_with_deposit(session), trader_with_deposit(session)
    shill.organisation.address = seller.organisation.address = "湄潭县兴隆镇龙凤村田家沟组 3 号"
    auctions.place_bid(
        session,
        organisation_id=honest.organisation_id,
        actor_id=honest.user_id,
        auction_id=auction.id,
        price_fen=72_500,
        now=NOW + timedelta(minutes=1),
    )
    bid = auctions.place_bid(
        session,
        organisation_id=shill.organisation_id,
        actor_id=shill.user_id,
        auction_id=auction.id,
        price_fen=73_000,
        now=NOW + timedelta(minutes=2),
    )
    _run(session)
    [alert] = _alerts(session, "shill_bidding")
    assert alert.evidence == {"bids": [bid.id], "auctions": [auction.id]}
    assert shill.organisation_id in alert.member_ids


def test_the_same_few_sellers_taking_turns_to_win_tenders_raises_bid_rotation(session):
    school = member(kind=OrgKind.school, role=Role.manager)
    tea = product("meitan_cuiya")
    ring = [_seller(session) for _ in range(3)]
    for n in range(5):
        posted = NOW + timedelta(days=n)
        tender = tenders.post_tender(
            session,
            organisation_id=school.organisation_id,
            actor_id=school.user_id,
            title=f"第 {n + 1} 批",
            product_id=tea.id,
            grade_id=grade_of(tea, "special").id,
            kg=20,
            max_price_fen=90_000,
            delivery_on=(posted + timedelta(days=5)).date(),
            window_start=MONDAY_10AM.time(),
            window_end=(MONDAY_10AM + timedelta(hours=1)).time(),
            delivery_point="学校食堂",
            closes_at=posted + timedelta(hours=2),
            now=posted,
        )
        for k, (coop, listing) in enumerate(ring):
            price = 80_000 if k == n % 3 else 85_000  # each wins in turn
            tenders.place_tender_bid(
                session,
                organisation_id=coop.organisation_id,
                organisation_kind=coop.organisation.kind,
                actor_id=coop.user_id,
                tender_id=tender.id,
                listing_id=listing.id,
                price_fen=price,
                now=posted + timedelta(minutes=k),
            )
        tenders.close_tender(session, tender_id=tender.id, now=posted + timedelta(hours=2))
    _run(session, at=NOW + timedelta(days=5))
    alerts = _alerts(session, "bid_rotation")
    assert alerts and alerts[-1].facts == {"tenders": 5, "bidders": 3}
    assert sorted(alerts[-1].member_ids) == sorted(c.organisation_id for c, _l in ring)


def test_a_price_move_and_one_member_taking_most_of_the_volume_are_flagged(session):
    tea = cuiya(session, band_bps=2000, daily_limit_bps=2000)
    whale, seller = trader_with_deposit(session, fen=900_000_000), trader_with_deposit(session)
    stock = receipt_for(session, tea, seller, kg=2000)
    for n, price in enumerate((80_000, 81_000, 83_000, 85_000)):
        at = NOW + timedelta(minutes=5 * n)
        order(session, seller, tea, "sell", price, 30, receipt=stock, now=at)
        order(session, whale, tea, "buy", price, 30, now=at)
    _run(session)
    [move] = _alerts(session, "price_move")
    assert move.facts["percent"] == pytest.approx(6.25)
    assert {a.member_ids[0] for a in _alerts(session, "concentration")} >= {whale.organisation_id}


def test_a_normal_trading_day_raises_nothing(session):
    """Twenty holders selling and twenty buyers buying, 400 orders near ¥800 over a day, now and then a
    resting order cancelled: no alert."""
    tea = cuiya(session)
    rng = random.Random(2026)
    sellers = [trader_with_deposit(session, fen=1) for _ in range(20)]
    buyers = [trader_with_deposit(session, fen=100_000_000) for _ in range(20)]
    stock = {t.organisation_id: receipt_for(session, tea, t, kg=2000) for t in sellers}
    resting = []
    for n in range(400):
        side = rng.choice(["buy", "sell"])
        who = rng.choice(sellers if side == "sell" else buyers)
        at = NOW + timedelta(seconds=40 * n)
        receipt = stock[who.organisation_id] if side == "sell" else None
        placed = order(
            session,
            who,
            tea,
            side,
            80_000 + rng.randint(-3, 3) * 10,
            rng.randint(1, 3),
            receipt=receipt,
            now=at,
        )
        if placed.order.open_lots:
            resting.append((who, placed.order))
        if n % 40 == 39 and resting:
            owner, old = resting.pop(0)
            if old.status == "open":
                trading.cancel_order(
                    session,
                    organisation_id=owner.organisation_id,
                    actor_id=owner.user_id,
                    order_id=old.id,
                    now=at,
                )
    assert session.scalar(select(func.count()).select_from(Trade)) > 50
    _run(session, at=NOW + timedelta(hours=7))
    assert [(a.rule, a.facts) for a in _alerts(session)] == []


def test_after_a_restart_the_engine_neither_misses_nor_repeats_alerts(session):
    tea = cuiya(session)
    a, b = trader_with_deposit(session), trader_with_deposit(session)
    a_receipt, b_receipt = receipt_for(session, tea, a), receipt_for(session, tea, b)
    order(session, a, tea, "sell", 80_000, 1, receipt=a_receipt)
    order(session, b, tea, "buy", 80_000, 1)
    first = _run(session)  # reads the first leg; nothing to say yet
    assert [(a.rule, a.facts) for a in _alerts(session)] == []
    order(session, b, tea, "sell", 80_000, 1, receipt=b_receipt, now=NOW + timedelta(minutes=2))
    order(session, a, tea, "buy", 80_000, 1, now=NOW + timedelta(minutes=2))
    # A new engine (the scheduler restarted) rebuilds its windows from before its cursor, so the return leg
    # is seen against the first; the old engine's memory is gone.
    _run(session)
    assert len(_alerts(session, "wash_trade")) == 1
    _run(session)  # nothing new: nothing raised
    first.backfill(
        session, since=NOW - timedelta(days=1)
    )  # over the whole history again: no repeats
    assert len(_alerts(session)) == 1
    assert session.scalar(select(func.count()).where(Event.kind == "surveillance.alert")) == 1


def test_two_pairs_trading_the_same_amount_are_not_each_half_the_market(session):
    tea = cuiya(session)
    members_ = [trader_with_deposit(session, fen=900_000_000) for _ in range(4)]
    a, b, c, d = members_
    for seller, buyer in ((a, b), (c, d)):
        sell_new_tea(session, seller, tea, 80_000, 60, kg=300)
        order(session, buyer, tea, "buy", 80_000, 60)
    _run(session)
    assert _alerts(session, "concentration") == []  # each side of 600 kg: 300 of 1,200, a quarter

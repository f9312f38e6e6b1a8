"""Listing and delisting, English auctions and the Dutch clock, through their services."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind, Role
from app.errors import Conflict, RuleViolation
from app.exchange import auctions, lots, settlement
from app.exchange.models import (
    AuctionStatus,
    LotStatus,
    Receipt,
    ReceiptStatus,
    Trade,
    TradingMode,
)
from app.payments import ledger
from app.payments.ledger import InsufficientFunds
from tests.exchange.steps import (
    MONDAY_10AM,
    cuiya,
    dutch_clock,
    english_auction,
    list_lots,
    receipt_for,
    seller_with_receipt,
    take_lots,
    trader_with_deposit,
    warehouse,
)
from tests.factories import member
from tests.helpers import ledger_problems

NOW = MONDAY_10AM


def _list(session, tea, seller, receipt, *, lots_=10, price=80_000, min_lots=1):
    return list_lots(
        session, seller, tea, receipt, lots_, price_fen=price, min_lots=min_lots, now=NOW
    )


def _take(session, buyer, lot, n):
    return take_lots(session, buyer, lot, n, now=NOW)


def test_buyers_take_part_then_the_rest_of_a_listed_lot(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=100)
    lot = _list(session, tea, seller, receipt, lots_=10)  # 50 of the 100 kg
    first, second = trader_with_deposit(session), trader_with_deposit(session)
    trade = _take(session, first, lot, 4)
    assert (trade.kg, trade.value_fen, trade.mode) == (20, 80_000 * 20, TradingMode.listing)
    _take(session, second, lot, 6)
    assert (lot.open_lots, lot.status) == (0, LotStatus.sold)
    assert session.get(Receipt, lot.receipt_id).status == ReceiptStatus.sold
    assert session.get(Receipt, receipt.id).net_kg == 50  # the unlisted half is still the seller's
    # The packages go with the tea: 20 cartons of 5 kg, half listed, 4 and 6 of those bought.
    bought = session.scalars(
        select(Receipt.packages).where(Receipt.parent_id == lot.receipt_id).order_by(Receipt.id)
    ).all()
    assert (bought, session.get(Receipt, receipt.id).packages) == ([4, 6], 10)
    with pytest.raises(Conflict, match="none of it is left"):
        _take(session, first, lot, 1)
    assert ledger_problems(session) == []


def test_a_listed_lot_cannot_be_taken_past_what_is_left_nor_by_its_seller(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    lot = _list(session, tea, seller, receipt, lots_=10, min_lots=2)
    buyer = trader_with_deposit(session)
    with pytest.raises(RuleViolation, match="at least 2"):
        _take(session, buyer, lot, 1)
    with pytest.raises(RuleViolation, match="own lot"):
        _take(session, seller, lot, 2)
    _take(session, buyer, lot, 9)
    with pytest.raises(Conflict, match="only 1 lots are left"):
        _take(session, buyer, lot, 2)


def test_a_delisted_lot_frees_its_receipt(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    lot = _list(session, tea, seller, receipt, lots_=10)
    _take(session, trader_with_deposit(session), lot, 3)
    lots.delist_lot(
        session,
        organisation_id=seller.organisation_id,
        actor_id=seller.user_id,
        lot_id=lot.id,
        now=NOW,
    )
    offered = session.get(Receipt, lot.receipt_id)
    assert (offered.status, offered.net_kg) == (ReceiptStatus.held, 35)


def _bid(session, who, auction, price, at):
    return auctions.place_bid(
        session,
        organisation_id=who.organisation_id,
        actor_id=who.user_id,
        auction_id=auction.id,
        price_fen=price,
        now=at,
    )


def test_the_highest_bidder_at_the_close_wins_and_outbid_money_is_freed(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    auction = english_auction(session, seller, tea, receipt)
    a, b = trader_with_deposit(session), trader_with_deposit(session)
    _bid(session, a, auction, 74_000, NOW + timedelta(minutes=1))
    assert ledger.balance(session, ledger.reserved(a.organisation_id)) == 74_000 * 50
    with pytest.raises(Conflict, match=r"at least ¥745\.00"):
        _bid(session, b, auction, 74_400, NOW + timedelta(minutes=2))
    _bid(session, b, auction, 76_000, NOW + timedelta(minutes=2))
    assert ledger.balance(session, ledger.reserved(a.organisation_id)) == 0
    assert ledger_problems(session) == []

    assert not auctions.close_auction(
        session, auction_id=auction.id, now=NOW + timedelta(minutes=30)
    )
    closes = NOW + timedelta(hours=1)
    assert auctions.close_auction(session, auction_id=auction.id, now=closes)
    assert not auctions.close_auction(session, auction_id=auction.id, now=closes)  # exactly once
    assert (auction.status, auction.leader_id) == (AuctionStatus.sold, b.organisation_id)
    trade = session.scalars(select(Trade).where(Trade.auction_id == auction.id)).one()
    assert (trade.price_fen, trade.kg, trade.buyer_id) == (76_000, 50, b.organisation_id)
    assert session.get(Receipt, trade.receipt_id).holder_id == b.organisation_id
    assert ledger_problems(session) == []


def test_a_late_bid_moves_the_close_on(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    auction = english_auction(session, seller, tea, receipt)
    late = auction.ends_at - timedelta(seconds=30)
    _bid(session, trader_with_deposit(session), auction, 75_000, late)
    assert auction.ends_at == late + timedelta(seconds=120)
    assert not auctions.close_auction(
        session, auction_id=auction.id, now=late + timedelta(seconds=60)
    )


def test_below_the_reserve_nobody_wins_and_the_receipt_is_free_again(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    auction = english_auction(session, seller, tea, receipt)
    bidder = trader_with_deposit(session)
    _bid(session, bidder, auction, 72_000, NOW + timedelta(minutes=1))
    assert auctions.close_auction(session, auction_id=auction.id, now=NOW + timedelta(hours=1))
    assert auction.status == AuctionStatus.unsold
    assert session.get(Receipt, receipt.id).status == ReceiptStatus.held
    assert ledger.balance(session, ledger.reserved(bidder.organisation_id)) == 0
    assert ledger_problems(session) == []


def test_an_unfunded_bid_is_refused(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    auction = english_auction(session, seller, tea, receipt)
    with pytest.raises(InsufficientFunds, match="exchange deposit"):
        _bid(
            session,
            trader_with_deposit(session, fen=1_000_000),
            auction,
            75_000,
            NOW + timedelta(minutes=1),
        )


def test_the_dutch_clock_falls_and_sells_lots_at_the_price_of_the_moment(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    clock = dutch_clock(session, seller, tea, receipt, start_fen=90_000, floor_fen=85_000)
    assert clock.ends_at == NOW + timedelta(seconds=6 * 30)
    buyer = trader_with_deposit(session)
    take = auctions.accept_clock(
        session,
        organisation_id=buyer.organisation_id,
        actor_id=buyer.user_id,
        auction_id=clock.id,
        lots=4,
        now=NOW + timedelta(seconds=65),  # two steps down
    )
    assert (take.price_fen, take.lots) == (88_000, 4)
    assert clock.price_at(NOW + timedelta(hours=1)) == 85_000
    assert auctions.close_auction(session, auction_id=clock.id, now=clock.ends_at)
    assert clock.status == AuctionStatus.sold
    rest = session.get(Receipt, receipt.id)
    assert (rest.status, rest.net_kg) == (ReceiptStatus.held, 30)  # the 6 unsold lots are withdrawn
    assert ledger_problems(session) == []


def test_pickup_pays_the_seller_before_t_plus_n(session):
    tea = cuiya(session)
    store = warehouse()
    seller = member(kind=OrgKind.cooperative, role=Role.manager)
    receipt = receipt_for(session, tea, seller, kg=50, store=store)
    lot = _list(session, tea, seller, receipt, lots_=10)
    trade = _take(session, trader_with_deposit(session), lot, 10)
    settlement.pick_up(
        session,
        warehouse_id=store.organisation_id,
        actor_id=store.user_id,
        receipt_id=trade.receipt_id,
        now=NOW,
    )
    assert session.get(Receipt, trade.receipt_id).status == ReceiptStatus.released
    assert trade.settled_at == NOW
    paid = ledger.balance(session, ledger.payable(seller.organisation_id))
    assert paid == trade.value_fen - trade.fee_fen
    assert ledger_problems(session) == []


def test_a_halted_dutch_clock_stands_still_and_goes_on_from_there(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=50)
    clock = dutch_clock(session, seller, tea, receipt, start_fen=88_000, floor_fen=80_000)
    staff = member(kind=OrgKind.exchange, role=Role.officer)
    halted_at = NOW + timedelta(seconds=65)  # two steps down: ¥860.00
    auctions.set_auction_halt(
        session,
        actor_id=staff.user_id,
        auction_id=clock.id,
        halted=True,
        reason="核查",
        now=halted_at,
    )
    assert clock.price_at(halted_at + timedelta(minutes=10)) == 86_000
    buyer = trader_with_deposit(session)
    with pytest.raises(Conflict, match="halted"):
        auctions.accept_clock(
            session,
            organisation_id=buyer.organisation_id,
            actor_id=buyer.user_id,
            auction_id=clock.id,
            lots=1,
            now=halted_at + timedelta(minutes=1),
        )
    resumed = halted_at + timedelta(minutes=10)
    auctions.set_auction_halt(
        session,
        actor_id=staff.user_id,
        auction_id=clock.id,
        halted=False,
        reason="恢复",
        now=resumed,
    )
    take = auctions.accept_clock(
        session,
        organisation_id=buyer.organisation_id,
        actor_id=buyer.user_id,
        auction_id=clock.id,
        lots=1,
        now=resumed,
    )
    assert take.price_fen == 86_000

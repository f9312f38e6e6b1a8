"""Tenders (the lowest responsive bid wins, and becomes an order contract) and the daily price index per
grade (which market-linked contracts then price by)."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from app.auth import OrgKind, Role
from app.catalog.models import GradePriceIndex, ListingStatus
from app.contracts.models import Contract, ContractStatus
from app.contracts.prices import instalment_price, price_source_label
from app.errors import Conflict, RuleViolation
from app.exchange import index, tenders
from app.exchange.models import Instrument, TenderStatus
from tests.exchange.steps import (
    MONDAY_10AM,
    cuiya,
    list_lots,
    seller_with_receipt,
    take_lots,
    trader_with_deposit,
)
from tests.factories import ListingFactory, member
from tests.factories.catalog import grade_of, product

NOW = MONDAY_10AM


@pytest.fixture
def school_tender(session):
    """A school tenders for 50 kg of premium Cuiya, at most ¥820.00 per kg, bidding closing in a day."""
    school = member(kind=OrgKind.school, role=Role.manager)
    tea = product("meitan_cuiya")
    tender = tenders.post_tender(
        session,
        organisation_id=school.organisation_id,
        actor_id=school.user_id,
        title="春季教工福利茶",
        product_id=tea.id,
        grade_id=grade_of(tea, "special").id,
        kg=50,
        max_price_fen=82_000,
        delivery_on=(NOW + timedelta(days=5)).date(),
        window_start=time(9, 0),
        window_end=time(11, 0),
        delivery_point="湄潭县求是中学后勤处",
        closes_at=NOW + timedelta(days=1),
        now=NOW,
    )
    return school, tender


def _seller(session, unit_code="kg"):
    """A cooperative with a premium Cuiya listing to bid from."""
    coop = member(kind=OrgKind.cooperative, role=Role.manager)
    listing = ListingFactory(
        seller=coop.organisation, product_code="meitan_cuiya", unit_code=unit_code
    )
    listing.grade_id = grade_of(product("meitan_cuiya"), "special").id
    session.flush()
    return coop, listing


def _bid(session, coop, listing, tender, price, at=NOW):
    return tenders.place_tender_bid(
        session,
        organisation_id=coop.organisation_id,
        organisation_kind=coop.organisation.kind,
        actor_id=coop.user_id,
        tender_id=tender.id,
        listing_id=listing.id,
        price_fen=price,
        now=at,
    )


def test_the_lowest_bid_wins_and_becomes_a_contract_sent_to_the_seller(session, school_tender):
    school, tender = school_tender
    (first, first_listing), (second, second_listing) = _seller(session), _seller(session)
    _bid(session, first, first_listing, tender, 81_000)
    _bid(session, second, second_listing, tender, 80_000)
    _bid(session, first, first_listing, tender, 79_500, at=NOW + timedelta(hours=1))  # it undercuts
    assert (tender.bid_count, tender.lowest_fen) == (3, 79_500)
    assert not tenders.close_tender(session, tender_id=tender.id, now=NOW + timedelta(hours=2))
    closes = NOW + timedelta(days=1)
    assert tenders.close_tender(session, tender_id=tender.id, now=closes)
    assert not tenders.close_tender(session, tender_id=tender.id, now=closes)  # exactly once
    assert tender.status == TenderStatus.awarded
    contract = session.get(Contract, tender.contract_id)
    assert (contract.buyer_id, contract.seller_id) == (
        school.organisation_id,
        first.organisation_id,
    )
    assert contract.status == ContractStatus.negotiating  # the seller signs it next
    terms = contract.versions[-1].terms
    assert (terms["quantity"], terms["price_fen"], terms["instalments"][0]["due_on"]) == (
        50,
        79_500,
        (NOW + timedelta(days=5)).date().isoformat(),
    )


def test_equal_bids_go_to_the_earlier(session, school_tender):
    _school, tender = school_tender
    (first, first_listing), (second, second_listing) = _seller(session), _seller(session)
    _bid(session, first, first_listing, tender, 80_000)
    _bid(session, second, second_listing, tender, 80_000, at=NOW + timedelta(minutes=1))
    tenders.close_tender(session, tender_id=tender.id, now=NOW + timedelta(days=1))
    assert session.get(Contract, tender.contract_id).seller_id == first.organisation_id


def test_bids_that_do_not_respond_are_refused_with_the_reason(session, school_tender):
    _school, tender = school_tender
    coop, listing = _seller(session)
    with pytest.raises(RuleViolation, match=r"¥820\.00"):
        _bid(session, coop, listing, tender, 83_000)
    _bid(session, coop, listing, tender, 81_000)
    with pytest.raises(Conflict, match="lower"):
        _bid(session, coop, listing, tender, 81_000)
    other, _listing = _seller(session)
    with pytest.raises(RuleViolation, match="your listings"):
        _bid(session, other, listing, tender, 80_000)
    with pytest.raises(Conflict, match="closed"):
        _bid(session, coop, listing, tender, 80_000, at=NOW + timedelta(days=2))


def test_a_tender_nobody_bid_on_closes_unawarded(session, school_tender):
    _school, tender = school_tender
    assert tenders.close_tender(session, tender_id=tender.id, now=NOW + timedelta(days=1))
    assert tender.status == TenderStatus.unawarded and tender.contract_id is None


def test_the_daily_index_is_volume_weighted_and_100_on_the_base_day(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=200)
    buyer = trader_with_deposit(session, fen=100_000_000)

    def trade_at(price, lots_, at):
        lot = list_lots(session, seller, tea, receipt, lots_, price_fen=price, now=at)
        take_lots(session, buyer, lot, lots_, now=at)

    trade_at(80_000, 1, NOW)  # 5 kg at ¥800
    trade_at(82_000, 3, NOW + timedelta(hours=1))  # 15 kg at ¥820
    monday = date(2026, 11, 30)
    [first] = index.compute_index(session, day=monday)
    assert (first.vwap_fen, first.kg, first.points, first.base_day) == (81_500, 20, 10_000, monday)
    index.roll_day(session, day=monday)
    session.refresh(tea)
    assert (tea.previous_close_fen, tea.last_price_fen) == (82_000, None)

    trade_at(84_000, 2, NOW + timedelta(days=1))
    [second] = index.compute_index(session, day=monday + timedelta(days=1))
    assert (second.vwap_fen, second.points) == (84_000, 10_307)  # 840 / 815 = 103.07
    assert (
        index.compute_index(session, day=monday + timedelta(days=1))[0].id == second.id
    )  # re-run: same row
    assert session.scalar(select(func.count()).select_from(GradePriceIndex)) == 2


def test_market_linked_contracts_price_by_the_index(session):
    tea = product("meitan_cuiya")
    special = grade_of(tea, "special")
    session.add(
        GradePriceIndex(
            product_id=tea.id,
            grade_id=special.id,
            day=date(2026, 11, 30),
            vwap_fen=84_000,
            kg=20,
            value_fen=1_680_000,
            base_day=date(2026, 11, 30),
            points=10_000,
        )
    )
    listing = ListingFactory(product_code="meitan_cuiya", unit_code="tin_250g")
    listing.grade_id = special.id
    session.flush()
    terms = {"price_rule": "market_linked", "price_fen": 15_000, "market_adjust_bps": -500}
    price = instalment_price(session, terms, listing, date(2026, 12, 2))
    assert price.fen == 19_950  # ¥840/kg is ¥210 a 250 g tin, less 5 %
    assert "¥210.00" in price_source_label(price.source) and "2026-11-30" in price_source_label(
        price.source
    )
    assert (
        session.scalar(select(func.count()).select_from(Instrument)) == 0
    )  # the index alone did it


def test_when_the_lowest_bid_cannot_become_a_contract_the_next_one_wins(session, school_tender):
    _school, tender = school_tender
    (first, first_listing), (second, second_listing) = _seller(session), _seller(session)
    _bid(session, first, first_listing, tender, 79_000)
    _bid(session, second, second_listing, tender, 80_000)
    first_listing.status = ListingStatus.draft  # withdrawn by its seller after bidding
    session.flush()
    assert tenders.close_tender(session, tender_id=tender.id, now=NOW + timedelta(days=1))
    assert tender.status == TenderStatus.awarded
    assert session.get(Contract, tender.contract_id).seller_id == second.organisation_id

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.catalog import services
from app.catalog.models import Listing, ListingSearch, ListingStatus, StockKind, StockMovement
from app.db import utcnow
from app.errors import PermissionDenied, RuleViolation
from app.events import Event
from tests.factories import BatchFactory, ListingFactory, OrganisationFactory, UserFactory
from tests.factories.catalog import product


def _seller():
    return OrganisationFactory(), UserFactory()


def test_a_cooperative_lists_cuiya_from_its_batch_and_it_is_live(session):
    coop, manager = _seller()
    batch = BatchFactory(seller=coop, town="兴隆镇", village="龙凤村")

    listing = services.create_listing(
        session,
        organisation_id=coop.id,
        actor_id=manager.id,
        product="meitan_cuiya",
        grade="一级",
        batch=batch.code,
        price_fen=68000,
        quantity=80,
        min_order=2,
    )

    assert listing.status == ListingStatus.active
    assert listing.title == "湄潭翠芽 一级"
    assert (listing.town, listing.village) == ("兴隆镇", "龙凤村")  # origin taken from the batch
    assert listing.is_sellable(utcnow())
    [first] = session.scalars(
        select(StockMovement).where(StockMovement.listing_id == listing.id)
    ).all()
    assert (first.kind, first.delta, first.balance) == (StockKind.listed, 80, 80)
    assert session.get(ListingSearch, listing.id) is not None
    kinds = session.scalars(
        select(Event.kind).where(Event.subject == f"listing:{listing.id}")
    ).all()
    assert kinds == ["listing.created", "listing.published"]


def test_a_grade_that_does_not_belong_to_the_product_is_refused_on_the_grade_field(session):
    coop, manager = _seller()
    with pytest.raises(RuleViolation) as refused:
        services.create_listing(
            session,
            organisation_id=coop.id,
            actor_id=manager.id,
            product="meitan_rice",
            grade="special",
            price_fen=18750,
            quantity=10,
        )
    assert refused.value.field == "grade"
    assert "一等" in refused.value.message


def test_a_batch_of_another_seller_is_refused_on_the_batch_field(session):
    coop, manager = _seller()
    elsewhere = BatchFactory()

    with pytest.raises(RuleViolation) as refused:
        services.create_listing(
            session,
            organisation_id=coop.id,
            actor_id=manager.id,
            product="meitan_cuiya",
            grade="first",
            batch=elsewhere.code,
            price_fen=68000,
            quantity=10,
        )

    assert refused.value.field == "batch"
    assert session.scalars(select(Listing)).all() == []


def test_a_batch_of_another_product_is_refused(session):
    coop, manager = _seller()
    chili = BatchFactory(seller=coop, product=product("chaotian_chili"))
    with pytest.raises(RuleViolation, match="朝天椒"):
        services.create_listing(
            session,
            organisation_id=coop.id,
            actor_id=manager.id,
            product="meitan_cuiya",
            grade="first",
            batch=chili.code,
            price_fen=68000,
            quantity=10,
        )


def test_prices_in_other_units_compare_per_kg(session):
    coop, manager = _seller()
    tin = services.create_listing(
        session,
        organisation_id=coop.id,
        actor_id=manager.id,
        product="meitan_cuiya",
        grade="first",
        unit="tin_250g",
        price_fen=19800,
        quantity=10,
    )
    jin = services.create_listing(
        session,
        organisation_id=coop.id,
        actor_id=manager.id,
        product="chinese_cabbage",
        grade="一级",
        unit="斤",
        price_fen=121,
        quantity=10,
    )

    assert tin.price_per_kg_fen == 79200  # ¥198 for 250 g is ¥792 a kg
    assert jin.price_per_kg_fen == 242  # ¥1.21 a 斤 is ¥2.42 a kg


def test_a_listing_past_its_shelf_life_stops_selling_and_the_job_marks_it(session):
    coop, manager = _seller()
    now = utcnow()
    listing = services.create_listing(
        session,
        organisation_id=coop.id,
        actor_id=manager.id,
        product="tomato",
        grade="first",
        price_fen=560,
        quantity=100,
        production_date=now.date() - timedelta(days=5),
        shelf_life_days=7,
        now=now,
    )

    later = now + timedelta(days=3)
    assert listing.is_sellable(now) and not listing.is_sellable(later)
    assert services.expire_listings(session, now=later) == 1
    session.refresh(listing)
    assert listing.status == ListingStatus.expired


def test_a_listing_already_expired_cannot_be_put_on_sale(session):
    coop, manager = _seller()
    with pytest.raises(RuleViolation) as refused:
        services.create_listing(
            session,
            organisation_id=coop.id,
            actor_id=manager.id,
            product="tomato",
            grade="first",
            price_fen=560,
            quantity=100,
            production_date=date(2026, 1, 1),
            shelf_life_days=7,
        )
    assert refused.value.field == "production_date"


def test_stock_moves_with_a_reason_and_never_below_zero(session):
    listing = ListingFactory(quantity=50)
    seller = listing.organisation_id

    services.adjust_stock(
        session,
        organisation_id=seller,
        actor_id=UserFactory().id,
        listing_id=listing.id,
        change=-3,
        reason="损耗：运输挤压",
    )
    with pytest.raises(RuleViolation) as refused:
        services.adjust_stock(
            session,
            organisation_id=seller,
            actor_id=UserFactory().id,
            listing_id=listing.id,
            change=-48,
            reason="清仓",
        )

    session.refresh(listing)
    assert listing.quantity == 47
    assert refused.value.field == "change" and "47" in refused.value.message
    history = session.scalars(
        select(StockMovement)
        .where(StockMovement.listing_id == listing.id)
        .order_by(StockMovement.id)
    ).all()
    assert [(m.delta, m.balance, m.reason) for m in history][-1] == (-3, 47, "损耗：运输挤压")


def test_selling_out_and_restocking_move_the_status(session):
    listing = ListingFactory(quantity=5)
    seller, actor = listing.organisation_id, UserFactory().id

    services.adjust_stock(
        session,
        organisation_id=seller,
        actor_id=actor,
        listing_id=listing.id,
        change=-5,
        reason="卖完",
    )
    assert listing.status == ListingStatus.sold_out
    services.adjust_stock(
        session,
        organisation_id=seller,
        actor_id=actor,
        listing_id=listing.id,
        change=20,
        reason="新采摘",
    )
    assert listing.status == ListingStatus.active


def test_a_paused_listing_leaves_the_market_and_comes_back(session):
    listing = ListingFactory()
    seller, actor = listing.organisation_id, UserFactory().id

    services.pause_listing(session, organisation_id=seller, actor_id=actor, listing_id=listing.id)
    assert not listing.is_sellable(utcnow())
    services.publish_listing(session, organisation_id=seller, actor_id=actor, listing_id=listing.id)
    assert listing.is_sellable(utcnow())


def test_a_seller_cannot_change_another_sellers_listing(session):
    listing = ListingFactory()
    with pytest.raises(PermissionDenied):
        services.update_listing(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            listing_id=listing.id,
            price_fen=1,
        )
    with pytest.raises(PermissionDenied):
        services.adjust_stock(
            session,
            organisation_id=OrganisationFactory().id,
            actor_id=UserFactory().id,
            listing_id=listing.id,
            change=-1,
            reason="x",
        )
    assert listing.price_fen == 68000 and listing.quantity == 50


def test_stock_cannot_be_changed_through_an_update(session):
    listing = ListingFactory()
    with pytest.raises(RuleViolation, match="quantity"):
        services.update_listing(
            session,
            organisation_id=listing.organisation_id,
            actor_id=UserFactory().id,
            listing_id=listing.id,
            quantity=9999,
        )


def test_an_update_recomputes_the_price_per_kg_and_the_search_words(session):
    listing = ListingFactory()
    services.update_listing(
        session,
        organisation_id=listing.organisation_id,
        actor_id=UserFactory().id,
        listing_id=listing.id,
        unit="jin",
        price_fen=30000,
        title="明前翠芽 散装",
    )

    assert listing.price_per_kg_fen == 60000
    assert "u0660e" in session.get(ListingSearch, listing.id).document  # 明 is now searchable

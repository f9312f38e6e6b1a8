from datetime import timedelta

import pytest

from app.catalog.models import Listing, ListingPrice, StockReserve
from app.db import utcnow
from app.errors import Conflict, PermissionDenied, RuleViolation
from app.live import buying, deals, queries, services
from app.live.models import LiveSale, SessionStatus
from app.orders import services as order_services
from app.orders.models import OrderStatus, PaymentMethod
from tests.helpers import ledger_problems
from tests.live.steps import (
    buy_deal,
    buyer_with_money,
    flash_deal,
    host_with_chili,
    live_session,
)


def test_a_deal_takes_its_stock_from_the_listing_and_sells_it_at_the_deal_price(session):
    host, chili = host_with_chili(session, quantity=500)
    live = live_session(session, host, [chili])
    deal = flash_deal(session, host, live, chili)
    assert session.get(Listing, chili.id).quantity == 400
    buyer = buyer_with_money(session)
    placed = buy_deal(session, buyer, deal, 2)
    order = placed.orders[0]
    assert order.status == OrderStatus.paid
    assert order.total_fen == 2 * 1990
    assert session.get(StockReserve, deal.reserve_id).left == 98
    assert session.get(Listing, chili.id).quantity == 400  # the deal's own stock was sold
    sale = session.get(LiveSale, order.lines[0].id)
    assert (sale.live_session_id, sale.deal_id, sale.host_id) == (live.id, deal.id, host.user_id)
    assert ledger_problems(session) == []


def test_nobody_buys_more_than_the_limit_per_customer_even_over_several_orders(session):
    host, chili = host_with_chili(session)
    deal = flash_deal(session, host, live_session(session, host, [chili]), chili)
    buyer = buyer_with_money(session)
    buy_deal(session, buyer, deal, 1)
    with pytest.raises(RuleViolation, match="at most 2") as refused:
        buy_deal(session, buyer, deal, 2)
    assert refused.value.field == "quantity"
    with pytest.raises(RuleViolation):
        buy_deal(session, buyer_with_money(session), deal, 3)


def test_the_last_units_of_a_deal_go_to_whoever_asks_first_and_the_rest_are_told_it_sold_out(
    session,
):
    host, chili = host_with_chili(session)
    deal = flash_deal(session, host, live_session(session, host, [chili]), chili, stock=3)
    buy_deal(session, buyer_with_money(session), deal, 2)
    with pytest.raises(Conflict, match="Only 1"):
        buy_deal(session, buyer_with_money(session), deal, 2)
    buy_deal(session, buyer_with_money(session), deal, 1)
    with pytest.raises(Conflict, match="Sold out"):
        buy_deal(session, buyer_with_money(session), deal, 1)


def test_nothing_is_sold_before_the_countdown_ends_or_after_the_deal_closes(session):
    host, chili = host_with_chili(session)
    deal = flash_deal(session, host, live_session(session, host, [chili]), chili)
    buyer = buyer_with_money(session)
    with pytest.raises(Conflict, match="opens in"):
        buy_deal(session, buyer, deal, 1, now=deal.opens_at - timedelta(seconds=5))
    with pytest.raises(Conflict, match="ended"):
        buy_deal(session, buyer, deal, 1, now=deal.closes_at)


def test_an_unpaid_deal_order_that_expires_gives_its_stock_back_to_the_deal_and_the_buyer(session):
    host, chili = host_with_chili(session)
    deal = flash_deal(session, host, live_session(session, host, [chili]), chili)
    buyer = buyer_with_money(session)
    opened = deal.opens_at + timedelta(seconds=1)
    placed = buy_deal(session, buyer, deal, 2, payment=PaymentMethod.later, unpaid_minutes=5)
    assert placed.orders[0].status == OrderStatus.placed
    assert session.get(StockReserve, deal.reserve_id).left == 98
    expired = order_services.expire_unpaid_orders(session, now=opened + timedelta(minutes=6))
    assert expired == 1
    session.expire_all()
    assert session.get(StockReserve, deal.reserve_id).left == 100
    buy_deal(session, buyer, deal, 2)  # the limit counts orders still standing
    assert queries.figures(session, deal.live_session).units == 2


def test_a_deal_ending_puts_its_unsold_stock_back_and_a_later_cancellation_goes_to_the_listing(
    session,
):
    host, chili = host_with_chili(session, quantity=500)
    live = live_session(session, host, [chili])
    deal = flash_deal(session, host, live, chili)
    buyer = buyer_with_money(session)
    order = buy_deal(session, buyer, deal, 2).orders[0]
    assert deals.close_deal_on_time(session, deal_id=deal.id, now=deal.closes_at) is True
    assert deals.close_deal_on_time(session, deal_id=deal.id, now=deal.closes_at) is False
    session.expire_all()
    assert session.get(Listing, chili.id).quantity == 498
    order_services.cancel_order(
        session, organisation_id=buyer.organisation_id, actor_id=buyer.user_id, order_id=order.id
    )
    session.expire_all()
    assert session.get(Listing, chili.id).quantity == 500
    assert ledger_problems(session) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price_fen": 3000}, "price"),  # not below ¥30.00
        ({"countdown_seconds": 5}, "countdown_seconds"),
        ({"duration_minutes": 30}, "duration_minutes"),
        ({"stock": 501}, "stock"),
        ({"per_customer_limit": 101}, "per_customer_limit"),
    ],
)
def test_a_deal_that_breaks_a_rule_is_refused_on_its_field_and_sets_nothing_aside(
    session, changes, field
):
    host, chili = host_with_chili(session, quantity=500)
    live = live_session(session, host, [chili])
    with pytest.raises(RuleViolation) as refused:
        flash_deal(session, host, live, chili, **changes)
    assert refused.value.field == field
    assert session.get(Listing, chili.id).quantity == 500


def test_a_deal_must_undercut_the_lowest_price_of_the_last_30_days_not_just_today(session):
    host, chili = host_with_chili(session, price_fen=3000)
    session.add(
        ListingPrice(listing_id=chili.id, price_fen=1800, ended_at=utcnow() - timedelta(days=3))
    )
    live = live_session(session, host, [chili])
    with pytest.raises(RuleViolation, match=r"18\.00"):
        flash_deal(session, host, live, chili, price_fen=1990)
    session.add(
        ListingPrice(listing_id=chili.id, price_fen=900, ended_at=utcnow() - timedelta(days=31))
    )
    assert flash_deal(session, host, live, chili, price_fen=1700).was_fen == 1800


def test_only_the_hosts_organisation_runs_its_session(session):
    host, chili = host_with_chili(session)
    live = live_session(session, host, [chili])
    other, _ = host_with_chili(session)
    with pytest.raises(PermissionDenied):
        services.pin_listing(
            session,
            organisation_id=other.organisation_id,
            actor_id=other.user_id,
            session_id=live.id,
            listing_id=chili.id,
        )
    with pytest.raises(PermissionDenied):
        flash_deal(session, other, live, chili)


def test_an_announced_session_keeps_its_time(session):
    host, chili = host_with_chili(session)
    live = live_session(session, host, [chili], status=SessionStatus.scheduled)
    with pytest.raises(RuleViolation, match="fixed") as refused:
        services.update_session(
            session,
            organisation_id=host.organisation_id,
            actor_id=host.user_id,
            session_id=live.id,
            starts_at=live.starts_at + timedelta(hours=1),
        )
    assert refused.value.field == "starts_at"


def test_a_paused_session_sells_nothing_until_it_resumes(session):
    host, chili = host_with_chili(session)
    live = live_session(session, host, [chili])
    buyer = buyer_with_money(session)
    services.change_status(
        session,
        organisation_id=host.organisation_id,
        actor_id=host.user_id,
        session_id=live.id,
        status=SessionStatus.paused,
    )
    with pytest.raises(Conflict, match="paused"):
        buying.buy(
            session,
            session_id=live.id,
            buyer_id=buyer.organisation_id,
            buyer_kind=buyer.organisation.kind,
            actor_id=buyer.user_id,
            quantity=1,
            listing_id=chili.id,
        )


def test_ending_a_session_closes_its_deals_and_the_report_counts_what_sold(session):
    host, chili = host_with_chili(session, quantity=500)
    live = live_session(session, host, [chili])
    deal = flash_deal(session, host, live, chili)
    for _ in range(3):
        buy_deal(session, buyer_with_money(session), deal, 2)
    buyer = buyer_with_money(session)
    buying.buy(
        session,
        session_id=live.id,
        buyer_id=buyer.organisation_id,
        buyer_kind=buyer.organisation.kind,
        actor_id=buyer.user_id,
        quantity=5,
        listing_id=chili.id,
    )
    services.note_visit(session, session_id=live.id, visitor="browser:a")
    for visitor in ("browser:a", "browser:b", "user:1", "user:2", "user:3", "user:4", "user:5"):
        services.note_visit(session, session_id=live.id, visitor=visitor)
    services.change_status(
        session,
        organisation_id=host.organisation_id,
        actor_id=host.user_id,
        session_id=live.id,
        status=SessionStatus.ended,
    )
    session.expire_all()
    assert session.get(Listing, chili.id).quantity == 500 - 6 - 5
    found = queries.report(session, live)
    assert (found.totals.orders, found.totals.buyers, found.totals.visitors) == (4, 4, 7)
    assert found.totals.sales_fen == 6 * 1990 + 5 * 3000
    assert [line["units"] for line in found.deals] == [6]
    assert found.deals[0]["sell_through"] == pytest.approx(0.06)
    assert sum(minute["sales"] for minute in found.minutes) == found.totals.sales_fen
    assert found.totals.conversion == pytest.approx(4 / 7)


def test_viewer_counts_add_up_over_web_processes_and_the_peak_is_kept(session):
    host, chili = host_with_chili(session)
    live = live_session(session, host, [chili])
    now = utcnow()
    services.report_presence(session, process="web-1", viewers={live.id: 120}, now=now)
    services.report_presence(session, process="web-2", viewers={live.id: 80}, now=now)
    assert queries.viewers_now(session, live.id, now) == 200
    later = now + timedelta(seconds=5)
    services.report_presence(session, process="web-1", viewers={live.id: 20}, now=later)
    session.expire_all()
    assert queries.viewers_now(session, live.id, later) == 100
    assert queries.viewers_now(session, live.id, now + timedelta(minutes=1)) == 0
    assert live.peak_viewers == 200

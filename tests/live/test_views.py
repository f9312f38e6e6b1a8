from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import LOCAL_TIME, utcnow
from app.live import services
from app.live.models import LiveSession, Visit
from app.orders.models import Order
from tests.helpers import post_form, sign_in
from tests.live.steps import (
    buy_deal,
    buyer_with_money,
    flash_deal,
    host_with_chili,
    live_session,
)


@pytest.fixture
def studio(session):
    """The host's session, live, with the chili pinned and a deal that has opened."""
    host, chili = host_with_chili(session, quantity=500)
    live = live_session(session, host, [chili])
    services.pin_listing(
        session,
        organisation_id=host.organisation_id,
        actor_id=host.user_id,
        session_id=live.id,
        listing_id=chili.id,
    )
    deal = flash_deal(session, host, live, chili, now=utcnow() - timedelta(seconds=20))
    session.flush()
    return host, chili, live, deal


def test_a_viewer_sees_the_pinned_chili_and_the_deal_with_its_stock_in_chinese_and_english(
    client, session, studio
):
    _host, _chili, live, deal = studio
    page = client.get(f"/live/{live.id}").get_data(as_text=True)
    assert "辣椒节直播" in page and "正在讲解" in page and "限时秒杀" in page
    assert "¥19.90" in page and "¥30.00" in page  # the deal price beside the price it undercuts
    assert f'data-reserve="{deal.reserve_id}"' in page and "100</span> / 100" in page
    assert "登录后购买" in page  # not signed in: asked to sign in, not shown a dead button
    with client.session_transaction() as browser:
        browser["language"] = "en"
    english = client.get(f"/live/{live.id}").get_data(as_text=True)
    assert "On screen now" in english and "Flash deals" in english
    visits = session.scalar(select(func.count()).select_from(Visit))
    assert visits == 1  # the same browser twice is one visitor


def test_a_signed_in_buyer_buys_the_deal_in_one_tap_and_is_told_what_was_ordered(
    client, session, studio
):
    _host, _chili, live, deal = studio
    buyer = buyer_with_money(session)
    sign_in(client, buyer.user, buyer.organisation)
    page = client.get(f"/live/{live.id}").get_data(as_text=True)
    assert "立即购买" in page
    bought = post_form(
        client,
        f"/live/{live.id}/buy",
        {"deal_id": deal.id, "quantity": "2", "payment": "wallet", "idempotency_key": "k1"},
        follow_redirects=True,
    )
    text = bought.get_data(as_text=True)
    assert "已从钱包付款" in text and "¥39.80" in text
    again = post_form(
        client,
        f"/live/{live.id}/buy",
        {"deal_id": deal.id, "quantity": "1", "payment": "wallet", "idempotency_key": "k2"},
        follow_redirects=True,
    )
    assert "最多购买 2" in again.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_the_host_runs_the_console_and_a_bad_deal_comes_back_with_the_rule_on_its_field(
    client, session, studio
):
    host, chili, live, _deal = studio
    sign_in(client, host.user, host.organisation)
    console = client.get(f"/live/{live.id}/console")
    assert console.status_code == 200
    assert "在线观众" in console.get_data(as_text=True)
    refused = post_form(
        client,
        f"/live/{live.id}/deals",
        {
            "listing_id": chili.id,
            "price_yuan": "12",
            "stock": "10",
            "per_customer_limit": "1",
            "countdown_seconds": "5",
            "duration_minutes": "5",
        },
    )
    assert refused.status_code == 422
    assert "倒计时为 10 到 300 秒" in refused.get_data(as_text=True)


def test_a_buyer_cannot_open_the_hosts_console(client, session, studio):
    _host, _chili, live, _deal = studio
    buyer = buyer_with_money(session)
    sign_in(client, buyer.user, buyer.organisation)
    assert client.get(f"/live/{live.id}/console").status_code == 403


def test_the_host_schedules_a_session_from_the_form(client, session):
    host, chili = host_with_chili(session)
    sign_in(client, host.user, host.organisation)
    starts = (utcnow() + timedelta(days=1)).astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")
    created = post_form(
        client,
        "/live/new",
        {"title": "周末辣椒直播", "starts_at": starts, "listing_ids": str(chili.id)},
        follow_redirects=True,
    )
    assert "直播已安排" in created.get_data(as_text=True)
    live = session.scalar(select(LiveSession))
    assert live.title == "周末辣椒直播" and live.announced_at is None


def test_the_report_shows_what_each_deal_sold_with_a_chart(client, session, studio):
    host, _chili, live, deal = studio
    buy_deal(session, buyer_with_money(session), deal, 2, now=utcnow())
    sign_in(client, host.user, host.organisation)
    page = client.get(f"/live/{live.id}/report").get_data(as_text=True)
    assert 'id="sales-chart"' in page and 'id="deals-chart"' in page
    assert "2 / 100" in page and "¥39.80" in page


def test_the_host_pauses_from_the_console_and_is_told_buying_stops(client, session, studio):
    host, _chili, live, _deal = studio
    sign_in(client, host.user, host.organisation)
    paused = post_form(
        client, f"/live/{live.id}/status", {"status": "paused"}, follow_redirects=True
    )
    assert "已暂停：继续直播前观众无法购买" in paused.get_data(as_text=True)
    session.expire_all()
    assert session.get(LiveSession, live.id).status == "paused"

"""The exchange's trading calendar: on a day staff closed (a public holiday) nothing trades, and the refusal
names the holiday; staff close and reopen coming days, each step in the audit trail."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange import instruments
from app.surveillance import services
from app.surveillance.models import AuditEntry
from tests.contracts.test_api import token
from tests.exchange.steps import (
    MONDAY_10AM,
    SUNDAY_10AM,
    cuiya,
    list_lots,
    order,
    receipt_for,
    sell_new_tea,
    take_lots,
    trader_with_deposit,
)
from tests.factories import member
from tests.helpers import post_form, sign_in

MONDAY = date(2026, 11, 30)
TOMORROW = local_date(utcnow()) + timedelta(days=1)


@pytest.fixture
def officer(session):
    return member(kind=OrgKind.exchange, role=Role.officer)


def close(session, officer, day, name="元旦", now=SUNDAY_10AM):
    return services.close_exchange_day(
        session, actor_id=officer.user_id, day=day, name=name, now=now
    )


def test_nothing_trades_on_a_closed_day_and_the_refusal_names_it(session, officer):
    tea = cuiya(session)
    seller, buyer = trader_with_deposit(session), trader_with_deposit(session)
    receipt = receipt_for(session, tea, seller)
    lot = list_lots(session, seller, tea, receipt, 2, now=SUNDAY_10AM - timedelta(days=2))  # Friday
    close(session, officer, MONDAY, name="调休")

    with pytest.raises(RuleViolation, match="closed today \\(2026-11-30, 调休\\)") as refused:
        order(session, buyer, tea, "buy", 80_000, 1)
    assert refused.value.field == "symbol"
    with pytest.raises(RuleViolation, match="调休"):
        take_lots(session, buyer, lot, 1, now=MONDAY_10AM)
    assert not instruments.in_session(tea, MONDAY_10AM)
    # Tuesday trades again.
    assert instruments.in_session(tea, MONDAY_10AM + timedelta(days=1))
    placed = order(session, buyer, tea, "buy", 80_000, 1, now=MONDAY_10AM + timedelta(days=1))
    assert placed.order.id is not None


def test_only_coming_days_close_or_reopen_once_each_and_every_step_is_audited(session, officer):
    with pytest.raises(RuleViolation) as past:
        close(session, officer, date(2026, 11, 29))  # "today" is that Sunday
    assert past.value.field == "day"
    close(session, officer, MONDAY)
    with session.begin_nested(), pytest.raises(Conflict, match="already closed"):
        close(session, officer, MONDAY)
    with pytest.raises(NotFound):
        services.reopen_exchange_day(
            session, actor_id=officer.user_id, day=MONDAY + timedelta(days=1), reason="x"
        )

    services.reopen_exchange_day(
        session, actor_id=officer.user_id, day=MONDAY, reason="国务院调整放假安排", now=SUNDAY_10AM
    )

    assert instruments.closed_days(session, after=MONDAY) == []
    entries = session.execute(
        select(AuditEntry.action, AuditEntry.subject, AuditEntry.reason).order_by(AuditEntry.id)
    ).all()
    assert entries == [
        ("exchange.day_closed", "day:2026-11-30", "元旦"),
        ("exchange.day_reopened", "day:2026-11-30", "国务院调整放假安排"),
    ]


def test_staff_close_a_day_over_the_api_and_everyone_sees_the_calendar(client, session, officer):
    staff = token(officer, "agl_cal-officer")
    trader = token(trader_with_deposit(session), "agl_cal-trader")
    day = TOMORROW.isoformat()

    closed = client.post(
        "/api/v1/surveillance/closed-days", json={"day": day, "name": "春节"}, headers=staff
    )
    again = client.post(
        "/api/v1/surveillance/closed-days", json={"day": day, "name": "春节"}, headers=staff
    )
    past = client.post(
        "/api/v1/surveillance/closed-days",
        json={"day": local_date(utcnow()).isoformat(), "name": "x"},
        headers=staff,
    )
    nameless = client.post(
        "/api/v1/surveillance/closed-days", json={"day": day, "name": ""}, headers=staff
    )
    by_a_trader = client.post(
        "/api/v1/surveillance/closed-days", json={"day": day, "name": "x"}, headers=trader
    )

    assert (closed.status_code, closed.get_json()) == (201, {"day": day, "name": "春节"})
    assert (again.status_code, past.status_code, nameless.status_code) == (409, 422, 422)
    assert "day" in past.get_json()["fields"] and "name" in nameless.get_json()["fields"]
    assert by_a_trader.status_code == 403
    assert client.get("/api/v1/exchange/calendar").get_json() == [{"day": day, "name": "春节"}]
    not_a_day = client.post(
        "/api/v1/surveillance/closed-days/2026-02-30/reopen", json={"reason": "x"}, headers=staff
    )
    assert not_a_day.status_code == 404
    reopened = client.post(
        f"/api/v1/surveillance/closed-days/{day}/reopen", json={"reason": "补班"}, headers=staff
    )
    assert reopened.status_code == 200
    assert client.get("/api/v1/exchange/calendar").get_json() == []


def test_staff_close_a_day_on_the_calendar_page_and_the_instrument_page_says_so(
    client, session, officer
):
    tea = cuiya(session)
    sign_in(client, officer.user, officer.organisation, language="en")

    post_form(
        client, "/surveillance/calendar", {"day": TOMORROW.isoformat(), "name": "Spring Festival"}
    )

    page = client.get("/surveillance/calendar").get_data(as_text=True)
    assert TOMORROW.isoformat() in page and "Spring Festival" in page
    instrument_page = client.get(f"/exchange/{tea.symbol}").get_data(as_text=True)
    assert f"Exchange closed: {TOMORROW.isoformat()} Spring Festival" in instrument_page
    post_form(client, f"/surveillance/calendar/{TOMORROW.isoformat()}/reopen", {"reason": "补班"})
    assert "No closed days ahead" in client.get("/surveillance/calendar").get_data(as_text=True)


def test_t_plus_n_counts_trading_days_past_weekends_and_closed_days(session, officer):
    tea = cuiya(session)  # trades Monday to Friday, T+3
    seller, buyer = trader_with_deposit(session), trader_with_deposit(session)
    friday = MONDAY_10AM - timedelta(days=3)
    sell_new_tea(session, seller, tea, 80_000, 2, now=friday)
    close(session, officer, MONDAY + timedelta(days=1), now=friday)  # Tuesday closed

    [trade] = order(session, buyer, tea, "buy", 80_000, 2, now=friday).trades

    # Friday + 3 trading days: Monday, (Tuesday closed), Wednesday, Thursday.
    assert trade.settle_due_at == friday + timedelta(days=6)

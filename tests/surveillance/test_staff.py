"""What exchange staff do, through the API and the pages: work an alert, halt, force-cancel, suspend with
four eyes, set thresholds; every step in the audit trail, whose chain breaks visibly when a row is edited."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.auth import OrgKind, Role
from app.errors import PermissionDenied, RuleViolation
from app.exchange import trading
from app.exchange.models import OrderStatus, SuspensionStatus
from app.surveillance import audit, services
from app.surveillance.engine import Engine
from app.surveillance.models import Alert, AlertStatus, AuditEntry
from tests.contracts.test_api import token
from tests.exchange.steps import (
    AROUND_THE_CLOCK,
    MONDAY_10AM,
    cuiya,
    order,
    sell_new_tea,
    trader_with_deposit,
)
from tests.factories import member
from tests.factories.catalog import grade_of, product
from tests.helpers import post_form, sign_in


@pytest.fixture
def staff(session):
    officer = member(kind=OrgKind.exchange, role=Role.officer)
    supervisor = member(kind=OrgKind.exchange, role=Role.supervisor, name_zh="交易所")
    return officer, supervisor


def _wash(session, tea):
    a, b = trader_with_deposit(session), trader_with_deposit(session)
    sell_new_tea(session, a, tea, 80_000, 1)
    order(session, b, tea, "buy", 80_000, 1)
    sell_new_tea(session, b, tea, 80_000, 1, now=MONDAY_10AM + timedelta(minutes=1))
    order(session, a, tea, "buy", 80_000, 1, now=MONDAY_10AM + timedelta(minutes=1))
    Engine().evaluate(session, now=MONDAY_10AM + timedelta(minutes=2))
    return a, b


def test_an_officer_works_an_alert_through_the_api_and_every_step_is_audited(
    client, session, staff
):
    officer, supervisor = staff
    tea = cuiya(session)
    _wash(session, tea)
    headers = token(officer, "agl_s-officer")
    [alert] = client.get("/api/v1/surveillance/alerts", headers=headers).get_json()
    assert alert["rule"] == "wash_trade" and "来回买卖" in alert["summary"]
    base = f"/api/v1/surveillance/alerts/{alert['id']}"
    assert (
        client.post(f"{base}/acknowledge", headers=headers).get_json()["status"] == "acknowledged"
    )
    assert (
        client.post(
            f"{base}/assign", json={"assignee_id": supervisor.user_id}, headers=headers
        ).status_code
        == 200
    )
    refused = client.post(f"{base}/assign", json={"assignee_id": 999_999}, headers=headers)
    assert refused.status_code == 422 and "assignee_id" in refused.get_json()["fields"]
    client.post(f"{base}/notes", json={"text": "两家同一法人代表，待核实"}, headers=headers)
    client.post(f"{base}/escalate", json={"reason": "疑似对倒"}, headers=headers)
    case = client.post(
        "/api/v1/surveillance/cases",
        json={"title": "对倒调查", "alert_ids": [alert["id"]]},
        headers=headers,
    )
    assert case.status_code == 201 and case.get_json()["alert_ids"] == [alert["id"]]
    closed = client.post(
        f"{base}/close", json={"resolution": "已移交稽查"}, headers=headers
    ).get_json()
    assert closed["status"] == "closed" and closed["case_id"] == case.get_json()["id"]
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [
        "alert.raised",
        "alert.acknowledged",
        "alert.assigned",
        "alert.annotated",
        "alert.escalated",
        "alert.added_to_case",
        "case.opened",
        "alert.closed",
    ]
    assert audit.verify(session) == (8, None)


def test_editing_one_audit_row_makes_verify_name_it(session, staff, app):
    officer, _supervisor = staff
    tea = cuiya(session)
    for reason in ("开盘前核查", "价格异常", "恢复交易"):
        services.halt_instrument(
            session,
            actor_id=officer.user_id,
            symbol=tea.symbol,
            halted=reason != "恢复交易",
            reason=reason,
        )
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert audit.verify(session) == (3, None)
    session.execute(
        text("UPDATE audit_entries SET reason = '无' WHERE id = :id"), {"id": entries[1].id}
    )
    session.expire_all()
    checked, broken = audit.verify(session)
    assert (checked, broken.entry_id) == (1, entries[1].id) and "edited" in broken.why
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"entry {entries[1].id} is broken" in result.output


def test_a_halt_refuses_orders_and_a_resume_lets_them_in(client, session, staff):
    officer, _supervisor = staff
    tea = cuiya(session, **AROUND_THE_CLOCK)
    trader = trader_with_deposit(session)
    headers = token(officer, "agl_s-halt")
    halted = client.post(
        "/api/v1/surveillance/halts",
        json={"symbol": tea.symbol, "reason": "异常波动"},
        headers=headers,
    )
    assert halted.status_code == 200
    refused = client.post(
        "/api/v1/exchange/orders",
        json={"symbol": tea.symbol, "side": "buy", "price_yuan": "800", "lots": 1},
        headers=token(trader, "agl_s-trader"),
    )
    assert refused.status_code == 409 and "异常波动" in refused.get_json()["message"]
    missing = client.post(
        "/api/v1/surveillance/halts", json={"symbol": tea.symbol}, headers=headers
    )
    assert missing.status_code == 422 and "reason" in missing.get_json()["fields"]
    client.post(
        "/api/v1/surveillance/resumptions",
        json={"symbol": tea.symbol, "reason": "已核实"},
        headers=headers,
    )
    assert [e.action for e in session.scalars(select(AuditEntry))] == [
        "instrument.halted",
        "instrument.resumed",
    ]


def test_a_force_cancel_frees_the_members_money(session, staff):
    officer, _supervisor = staff
    tea = cuiya(session)
    trader = trader_with_deposit(session)
    resting = order(session, trader, tea, "buy", 79_000, 2).order
    services.force_cancel(session, actor_id=officer.user_id, order_id=resting.id, reason="虚假申报")
    assert resting.status == OrderStatus.cancelled and resting.reserved_fen == 0


def test_a_suspension_takes_two_people_and_stops_the_member_at_once(session, staff):
    officer, supervisor = staff
    tea = cuiya(session)
    trader = trader_with_deposit(session)
    proposed = services.propose_suspension(
        session, actor_id=officer.user_id, organisation_id=trader.organisation_id, reason="多次对倒"
    )
    order(session, trader, tea, "buy", 79_000, 1)  # still trading while it is only proposed
    with pytest.raises(PermissionDenied, match="proposed this suspension"):
        services.decide_suspension(
            session, actor_id=officer.user_id, suspension_id=proposed.id, approve=True
        )
    services.decide_suspension(
        session, actor_id=supervisor.user_id, suspension_id=proposed.id, approve=True
    )
    assert proposed.status == SuspensionStatus.active
    with pytest.raises(PermissionDenied, match="suspended from trading"):
        order(session, trader, tea, "buy", 79_000, 1)
    services.lift_suspension(
        session, actor_id=supervisor.user_id, suspension_id=proposed.id, note="整改完成"
    )
    order(session, trader, tea, "buy", 79_000, 1)


def test_only_supervisors_set_thresholds_and_decide_suspensions_and_traders_see_no_alerts(
    client, session, staff
):
    officer, supervisor = staff
    officer_headers, supervisor_headers = token(officer, "agl_s-o"), token(supervisor, "agl_s-s")
    change = {"values": {"percent": 3}}
    assert (
        client.put(
            "/api/v1/surveillance/thresholds/price_move", json=change, headers=officer_headers
        ).status_code
        == 403
    )
    saved = client.put(
        "/api/v1/surveillance/thresholds/price_move", json=change, headers=supervisor_headers
    )
    assert saved.status_code == 200 and saved.get_json()["values"]["percent"] == 3
    odd = client.put(
        "/api/v1/surveillance/thresholds/price_move",
        json={"values": {"colour": 1}},
        headers=supervisor_headers,
    )
    assert odd.status_code == 422
    trader = trader_with_deposit(session)
    assert (
        client.get("/api/v1/surveillance/alerts", headers=token(trader, "agl_s-t")).status_code
        == 403
    )


def test_the_console_and_alert_pages_show_the_alert_and_its_trades(client, session, staff):
    officer, _supervisor = staff
    tea = cuiya(session)
    a, _b = _wash(session, tea)
    sign_in(client, officer.user, officer.organisation)
    console = client.get("/surveillance").get_data(as_text=True)
    assert "CUIYA-S" in console and "对倒" in console
    alert_id = session.scalars(select(Alert.id)).one()
    page = client.get(f"/surveillance/alerts/{alert_id}").get_data(as_text=True)
    assert a.organisation.name_zh in page and "¥800.00" in page
    post_form(client, f"/surveillance/alerts/{alert_id}/acknowledge", follow_redirects=True)
    done = post_form(
        client,
        f"/surveillance/alerts/{alert_id}/close",
        {"resolution": "误报"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert session.get(Alert, alert_id).status == AlertStatus.closed
    csv = client.get("/surveillance/audit.csv").get_data(as_text=True)
    assert "alert.closed" in csv and "误报" in csv


def test_a_trader_cannot_open_the_console(client, session):
    trader = trader_with_deposit(session)
    sign_in(client, trader.user, trader.organisation)
    assert client.get("/surveillance").status_code == 403


def test_cancelled_orders_are_in_a_members_activity(client, session, staff):
    officer, _supervisor = staff
    tea = cuiya(session)
    trader = trader_with_deposit(session)
    placed = order(session, trader, tea, "buy", 79_000, 1).order
    trading.cancel_order(
        session, organisation_id=trader.organisation_id, actor_id=trader.user_id, order_id=placed.id
    )
    sign_in(client, officer.user, officer.organisation)
    page = client.get(f"/surveillance/members/{trader.organisation_id}").get_data(as_text=True)
    assert f"#{placed.id}" in page and "1 / 1" in page  # one order, one cancel


def test_an_officer_opens_an_instrument_from_the_form(client, session, staff):
    officer, _supervisor = staff
    sign_in(client, officer.user, officer.organisation)
    tea = product("meijiang_cuipian")
    form = {
        "symbol": "CUIPIAN-1",
        "product_id": tea.id,
        "grade_id": grade_of(tea, "first").id,
        "packaging": "5 kg 纸箱",
        "tick_yuan": "0.1",
        "lot_kg": "5",
        "previous_close_yuan": "420",
        "trading_days": "12345",
        "opens_at": "09:00",
        "closes_at": "15:00",
        "modes": ["listing", "english"],
    }
    none = post_form(client, "/surveillance/instruments/new", {**form, "modes": []})
    assert none.status_code == 422
    opened = post_form(
        client, "/surveillance/instruments/new", form, follow_redirects=True
    ).get_data(as_text=True)
    assert "CUIPIAN-1" in opened and "¥420.00" in opened
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "instrument.opened")
    ).one()
    assert entry.actor_id == officer.user_id


def test_thresholds_must_be_numbers_above_zero(session, staff):
    _officer, supervisor = staff
    for bad in (0, float("inf"), float("nan"), -1):
        with pytest.raises(RuleViolation, match="above zero"):
            services.set_thresholds(
                session,
                actor_id=supervisor.user_id,
                rule="price_move",
                values={"window_minutes": bad},
            )


def test_an_approved_suspension_takes_the_members_resting_orders_off_the_book(session, staff):
    officer, supervisor = staff
    tea = cuiya(session)
    trader = trader_with_deposit(session)
    resting = order(session, trader, tea, "buy", 79_000, 2).order
    proposed = services.propose_suspension(
        session, actor_id=officer.user_id, organisation_id=trader.organisation_id, reason="幌骗"
    )
    services.decide_suspension(
        session, actor_id=supervisor.user_id, suspension_id=proposed.id, approve=True
    )
    assert resting.status == OrderStatus.cancelled and resting.reserved_fen == 0
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "suspension.approved")
    ).one()
    assert entry.detail["orders_cancelled"] == [resting.id]

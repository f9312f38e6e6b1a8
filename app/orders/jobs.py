"""Scheduled order work: cancel orders left unpaid, remind buyers of invoices falling due."""

from datetime import datetime

from app.db import get_session, transaction
from app.jobs import Job
from app.orders import payouts, services


def expire_unpaid_orders(now: datetime | None = None) -> dict[str, int]:
    """Cancel orders not paid in time, each in its own transaction; their stock goes back on sale."""
    cancelled = 0
    for order_id in services.unpaid_past_their_time(get_session(), now=now):
        with transaction() as session:
            cancelled += services.expire_unpaid_order(session, order_id=order_id, now=now)
    return {"cancelled": cancelled}


def remind_due_invoices(now: datetime | None = None) -> dict[str, int]:
    """Remind buyers on account of invoices due within a few days."""
    with transaction() as session:
        return {"reminded": payouts.remind_due_invoices(session, now=now)}


JOBS = [
    Job(
        name="orders.expire_unpaid",
        description="Cancel orders not paid in time and give their stock back.",
        run=expire_unpaid_orders,
        trigger={"trigger": "interval", "minutes": 1},
    ),
    Job(
        name="orders.remind_invoices",
        description="Remind buyers on account of invoices falling due.",
        run=remind_due_invoices,
        trigger={"trigger": "cron", "hour": 8},
    ),
]

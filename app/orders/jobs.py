"""Scheduled order work: cancel orders left unpaid, remind buyers of invoices falling due."""

from datetime import datetime

from app.db import transaction
from app.jobs import Job
from app.orders import payouts, services


def expire_unpaid_orders(now: datetime | None = None) -> dict[str, int]:
    """Cancel orders not paid in time; their stock goes back on sale."""
    with transaction() as session:
        return {"cancelled": services.expire_unpaid_orders(session, now=now)}


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

"""Scheduled logistics work: make standing orders' orders ahead of each day."""

from datetime import datetime

from app.db import get_session, transaction, utcnow
from app.errors import DomainError
from app.jobs import Job
from app.logistics import standing


def order_standing_days(now: datetime | None = None) -> dict[str, int]:
    """Each due day of each standing order in its own transaction; a refusal is kept with its reason."""
    now = now or utcnow()
    counts = {"ordered": 0, "closed": 0, "not_ordered": 0}
    for standing_order_id, day in standing.days_to_order(get_session(), now=now):
        try:
            with transaction() as session:
                status = standing.order_day(
                    session, standing_order_id=standing_order_id, day=day, now=now
                )
        except DomainError as refusal:  # out of stock, over capacity, past the cut-off
            with transaction() as session:
                standing.record_refusal(
                    session,
                    standing_order_id=standing_order_id,
                    day=day,
                    problem=refusal.message,
                    now=now,
                )
            counts["not_ordered"] += 1
            continue
        if status is not None:
            counts[status] += 1
    return counts


JOBS = [
    Job(
        name="logistics.order_standing",
        description="Make standing orders' orders ahead of each day, once per day, within stock, "
        "capacity and cut-off.",
        run=order_standing_days,
        trigger={"trigger": "interval", "minutes": 15},
    ),
]

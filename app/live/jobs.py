"""Scheduled live-commerce work: close flash deals whose time is up, their unsold stock back on sale."""

from datetime import datetime

from app.db import get_session, transaction
from app.jobs import Job
from app.live import deals


def close_finished_deals(now: datetime | None = None) -> dict[str, int]:
    """Close each deal past its time in its own transaction (the host may have closed it already)."""
    closed = 0
    for deal_id in deals.deals_past_their_time(get_session(), now=now):
        with transaction() as session:
            closed += deals.close_deal_on_time(session, deal_id=deal_id, now=now)
    return {"closed": closed}


JOBS = [
    Job(
        name="live.close_deals",
        description="Close flash deals whose time is up; what they did not sell goes back on sale.",
        run=close_finished_deals,
        trigger={"trigger": "interval", "seconds": 30},
    ),
]

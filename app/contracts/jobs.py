"""Scheduled contract work: order instalments ahead, remind, mark what was missed, end finished contracts."""

from datetime import datetime

from app.contracts import instalments
from app.db import get_session, local_date, transaction, utcnow
from app.jobs import Job

BATCH = 200  # instalments ordered per transaction


def order_due_instalments(now: datetime | None = None) -> dict[str, int]:
    """Every due instalment's order, a batch per transaction; one that cannot be ordered stops no other."""
    now = now or utcnow()
    counts = {"ordered": 0, "not_ordered": 0}
    due = instalments.due_for_ordering(get_session(), today=local_date(now))
    for start in range(0, len(due), BATCH):
        with transaction() as session:
            done = instalments.order_instalments(
                session, instalment_ids=due[start : start + BATCH], now=now
            )
        for name, count in done.items():
            counts[name] += count
    return counts


def remind_instalments(now: datetime | None = None) -> dict[str, int]:
    with transaction() as session:
        return {"reminded": instalments.remind(session, now=now)}


def mark_missed_instalments(now: datetime | None = None) -> dict[str, int]:
    with transaction() as session:
        return {"missed": instalments.mark_missed(session, now=now)}


def end_finished_contracts(now: datetime | None = None) -> dict[str, int]:
    with transaction() as session:
        return instalments.end_finished(session, now=now)


JOBS = [
    Job(
        name="contracts.order_instalments",
        description="Create each contract instalment's order a few days ahead, exactly once.",
        run=order_due_instalments,
        trigger={"trigger": "interval", "minutes": 10},
    ),
    Job(
        name="contracts.remind_instalments",
        description="Remind both sides of contract deliveries due tomorrow.",
        run=remind_instalments,
        trigger={"trigger": "cron", "hour": 9},
    ),
    Job(
        name="contracts.mark_missed",
        description="Mark contract instalments whose day passed undelivered as missed.",
        run=mark_missed_instalments,
        trigger={"trigger": "cron", "hour": 0, "minute": 30},
    ),
    Job(
        name="contracts.end_finished",
        description="Complete or expire contracts with nothing left to deliver; return deposits.",
        run=end_finished_contracts,
        trigger={"trigger": "cron", "hour": 1},
    ),
]

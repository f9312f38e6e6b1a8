"""Scheduled housekeeping for accounts."""

from datetime import datetime

from app.accounts import people
from app.db import transaction
from app.jobs import Job


def purge_sign_in_attempts(now: datetime | None = None) -> dict[str, int]:
    """Forget old sign-in attempts; they only matter for the lockout window."""
    with transaction() as session:
        return {"deleted": people.purge_sign_in_attempts(session, now=now)}


JOBS = [
    Job(
        name="accounts.purge_sign_in_attempts",
        description="Forget sign-in attempts older than a day.",
        run=purge_sign_in_attempts,
        trigger={"trigger": "cron", "hour": 3, "minute": 17},
    ),
]

"""Scheduled catalog work: expire listings past their shelf life, check the rows of large imports."""

from datetime import datetime

from app.catalog import imports, services
from app.db import get_session, transaction
from app.jobs import Job


def expire_listings(now: datetime | None = None) -> dict[str, int]:
    """Take listings past their shelf life off sale (searches already hide them)."""
    with transaction() as session:
        return {"expired": services.expire_listings(session, now=now)}


def check_imports(now: datetime | None = None) -> dict[str, int]:
    """Check waiting import rows chunk by chunk, committing each chunk so the page can show progress."""
    checked = 0
    for import_id in imports.pending_imports(get_session()):
        finished = False
        while not finished:
            with transaction() as session:
                finished = imports.check_rows(session, import_id=import_id, now=now)
            checked += 1
    return {"chunks": checked}


JOBS = [
    Job(
        name="catalog.expire_listings",
        description="Take listings past their shelf life off sale.",
        run=expire_listings,
        trigger={"trigger": "interval", "minutes": 10},
    ),
    Job(
        name="catalog.check_imports",
        description="Check the rows of uploaded spreadsheets, chunk by chunk.",
        run=check_imports,
        trigger={"trigger": "interval", "seconds": 3},
    ),
]

"""Scheduled catalog work: expire listings past their shelf life, check the rows of large imports."""

import logging
from datetime import datetime

from sqlalchemy.exc import OperationalError

from app.catalog import imports, queries, services
from app.db import get_session, transaction
from app.jobs import Job

log = logging.getLogger(__name__)


def expire_listings(now: datetime | None = None) -> dict[str, int]:
    """Take listings past their shelf life off sale (searches already hide them)."""
    with transaction() as session:
        return {"expired": services.expire_listings(session, now=now)}


def check_imports(now: datetime | None = None) -> dict[str, int]:
    """Check waiting import rows chunk by chunk, committing each chunk so the page can show progress.

    Each import is checked on its own: one that fails is logged and, unless the database was only busy or
    out of reach, marked failed so its page says so; the others are checked all the same.
    """
    chunks = failed = 0
    for import_id in queries.pending_imports(get_session()):
        try:
            chunks += _check_import(import_id, now)
        except (
            OperationalError
        ):  # a lock or a lost connection passes: the next run goes on from here
            log.exception("checking import %s failed; the next run tries again", import_id)
            failed += 1
        except Exception:
            log.exception("checking import %s failed; marking it failed", import_id)
            failed += 1
            _fail(import_id, now)
    return {"chunks": chunks, "failed": failed}


def _check_import(import_id: int, now: datetime | None) -> int:
    chunks, finished = 0, False
    while not finished:
        with transaction() as session:
            finished = imports.check_rows(session, import_id=import_id, now=now)
        chunks += 1
    return chunks


def _fail(import_id: int, now: datetime | None) -> None:
    # Left in checking, a broken import would fail again every few seconds and its page never end.
    try:
        with transaction() as session:
            imports.fail_import(session, import_id=import_id, now=now)
    except Exception:  # the database itself may be down; the next run tries again
        log.exception("import %s could not be marked failed", import_id)


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

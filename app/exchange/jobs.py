"""Scheduled exchange work: close auctions and tenders whose time is up, pay sellers whose trades reached
T+N, and after each trading day compute the price index and roll the instruments' reference prices."""

import logging
from datetime import datetime, timedelta

from app.db import get_session, local_date, transaction, utcnow
from app.exchange import auctions, index, settlement, tenders
from app.jobs import Job

log = logging.getLogger(__name__)


def close_auctions(now: datetime | None = None) -> dict[str, int]:
    """Close each auction past its time in its own transaction (another run may have closed it already)."""
    now = now or utcnow()
    due = auctions.auctions_due(get_session(), now=now)
    return _close_each(
        "auction",
        due,
        lambda session, auction_id: auctions.close_auction(session, auction_id=auction_id, now=now),
    )


def close_tenders(now: datetime | None = None) -> dict[str, int]:
    """Award each tender whose bidding has closed, in its own transaction."""
    now = now or utcnow()
    due = tenders.tenders_due(get_session(), now=now)
    return _close_each(
        "tender",
        due,
        lambda session, tender_id: tenders.close_tender(session, tender_id=tender_id, now=now),
    )


def _close_each(what: str, due: list[int], close) -> dict[str, int]:
    closed = failed = 0
    for thing_id in due:
        try:
            with transaction() as session:
                closed += close(session, thing_id)
        except Exception:  # one that cannot close must not hold up the others
            log.exception("%s %s could not be closed", what, thing_id)
            failed += 1
    return {"closed": closed, "failed": failed}


def settle_trades(now: datetime | None = None) -> dict[str, int]:
    """Pay the sellers of trades whose settlement day has come, a batch per transaction."""
    now = now or utcnow()
    settled = 0
    while True:
        with transaction() as session:
            batch = settlement.settle_due(session, now=now)
        settled += batch
        if not batch:
            return {"settled": settled}


def close_day(now: datetime | None = None) -> dict[str, int]:
    """After a trading day (China time): its price index per grade, and the instruments' new previous close."""
    day = local_date(now or utcnow()) - timedelta(days=1)
    with transaction() as session:
        graded = len(index.compute_index(session, day=day))
        rolled = index.roll_day(session, day=day)
    return {"grades": graded, "instruments": rolled}


JOBS = [
    Job(
        name="exchange.close_auctions",
        description="Close auctions whose time is up: the winner's trade, or the lot back to its seller.",
        run=close_auctions,
        trigger={"trigger": "interval", "seconds": 5},
    ),
    Job(
        name="exchange.close_tenders",
        description="Award tenders whose bidding has closed: the lowest bid's contract goes to its seller.",
        run=close_tenders,
        trigger={"trigger": "interval", "seconds": 30},
    ),
    Job(
        name="exchange.close_day",
        description="After each trading day: the daily price index per grade, and each instrument's new "
        "previous close (the base of the daily limit).",
        run=close_day,
        trigger={"trigger": "cron", "hour": 0, "minute": 10},
    ),
    Job(
        name="exchange.settle_trades",
        description="Pay sellers from the escrow of trades that reached their settlement day (T+N).",
        run=settle_trades,
        trigger={"trigger": "interval", "minutes": 10},
    ),
]

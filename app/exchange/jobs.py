"""Scheduled exchange work: close auctions whose time is up, and pay sellers whose trades reached T+N."""

from datetime import datetime

from app.db import get_session, transaction, utcnow
from app.exchange import auctions, settlement
from app.jobs import Job


def close_auctions(now: datetime | None = None) -> dict[str, int]:
    """Close each auction past its time in its own transaction (another run may have closed it already)."""
    now = now or utcnow()
    closed = 0
    for auction_id in auctions.auctions_due(get_session(), now=now):
        with transaction() as session:
            closed += auctions.close_auction(session, auction_id=auction_id, now=now)
    return {"closed": closed}


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


JOBS = [
    Job(
        name="exchange.close_auctions",
        description="Close auctions whose time is up: the winner's trade, or the lot back to its seller.",
        run=close_auctions,
        trigger={"trigger": "interval", "seconds": 5},
    ),
    Job(
        name="exchange.settle_trades",
        description="Pay sellers from the escrow of trades that reached their settlement day (T+N).",
        run=settle_trades,
        trigger={"trigger": "interval", "minutes": 10},
    ),
]

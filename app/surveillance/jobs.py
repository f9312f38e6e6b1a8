"""The rule engine's scheduled run: every two seconds, whatever the exchange did since the last run."""

from datetime import datetime

from flask import current_app

from app.db import transaction
from app.jobs import Job
from app.surveillance.engine import Engine

BATCH = 5000


def engine() -> Engine:
    """The scheduler process's one engine (its rules' memory lives between runs)."""
    return current_app.extensions.setdefault("surveillance.engine", Engine())


def evaluate_events(now: datetime | None = None) -> dict[str, float]:
    """Read the new exchange events, batch by batch, raising alerts; a failed batch makes the engine
    rebuild its memory from the log, so nothing it half-read is counted twice."""
    watcher = engine()
    totals = {"events": 0, "alerts": 0, "lag_seconds": 0.0}
    while True:
        try:
            with transaction() as session:
                run = watcher.evaluate(session, limit=BATCH, now=now)
        except Exception:
            watcher.watcher = None
            raise
        totals["events"] += run.events
        totals["alerts"] += run.alerts
        totals["lag_seconds"] = max(totals["lag_seconds"], round(run.lag_seconds, 3))
        if run.events < BATCH:
            return totals


JOBS = [
    Job(
        name="surveillance.evaluate",
        description="Run the surveillance rules over the exchange's new events and raise alerts.",
        run=evaluate_events,
        trigger={"trigger": "interval", "seconds": 2},
    ),
]

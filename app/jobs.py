"""What a scheduled job is. Each domain lists its jobs in its jobs.py; app/scheduler.py runs them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Job:
    """A named, idempotent unit of scheduled work: safe to run twice, or by hand with `flask jobs run`."""

    name: str
    description: str
    run: Callable[
        [datetime | None], dict[str, Any]
    ]  # takes `now`, returns counts for the run record
    trigger: dict[str, Any] = field(
        default_factory=dict
    )  # APScheduler trigger, e.g. {"trigger": "cron", "hour": 3}

"""What a scheduled job is, and the record of each run. Each domain lists its jobs in its jobs.py;
app/scheduler.py runs them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, utcnow


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


class Outcome(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class JobRun(Base):
    """One run of a job, by the scheduler or by an operator: when, how it ended, and what it counted."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(80), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[Outcome] = mapped_column(default=Outcome.running)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(40), default="scheduler")  # or "operator"

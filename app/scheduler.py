"""The one scheduler process: every domain's jobs, run by APScheduler 3 outside the web workers.

Start it with `flask scheduler run` (make run does this beside the web server). Web workers never start it,
because a scheduler per web worker would run every job once per worker.
"""

import logging
import time
import traceback
from datetime import datetime, timedelta

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import delete

from app.accounts import jobs as accounts_jobs
from app.catalog import jobs as catalog_jobs
from app.contracts import jobs as contracts_jobs
from app.db import transaction, utcnow
from app.exchange import jobs as exchange_jobs
from app.jobs import Job, JobRun, Outcome
from app.live import jobs as live_jobs
from app.logistics import jobs as logistics_jobs
from app.orders import jobs as orders_jobs
from app.payments import jobs as payments_jobs
from app.surveillance import jobs as surveillance_jobs

log = logging.getLogger(__name__)


KEEP_RUNS_DAYS = 14  # job runs are kept this long (a job every few seconds makes many)


def prune_runs(now: datetime | None = None) -> dict[str, int]:
    """Forget job runs older than two weeks."""
    cutoff = (now or utcnow()) - timedelta(days=KEEP_RUNS_DAYS)
    with transaction() as session:
        removed = session.execute(delete(JobRun).where(JobRun.started_at < cutoff)).rowcount
    return {"removed": removed}


SCHEDULER_JOBS = [
    Job(
        name="scheduler.prune_runs",
        description="Forget job runs older than two weeks.",
        run=prune_runs,
        trigger={"trigger": "cron", "hour": 3, "minute": 15},
    )
]


def all_jobs() -> list[Job]:
    return [
        *SCHEDULER_JOBS,
        *accounts_jobs.JOBS,
        *catalog_jobs.JOBS,
        *orders_jobs.JOBS,
        *payments_jobs.JOBS,
        *contracts_jobs.JOBS,
        *logistics_jobs.JOBS,
        *live_jobs.JOBS,
        *exchange_jobs.JOBS,
        *surveillance_jobs.JOBS,
    ]


def find_job(name: str) -> Job:
    for job in all_jobs():
        if job.name == name:
            return job
    raise click.BadParameter(f"no job named {name!r}; `flask jobs list` shows them")


def run_job(app: Flask, name: str, *, by: str = "scheduler") -> dict:
    """Run one job in its own app context, recording its start, end, outcome and counts."""
    with app.app_context():
        job = find_job(name)
        started = time.monotonic()
        with transaction() as session:
            run = JobRun(job=name, by=by, started_at=utcnow())
            session.add(run)
            session.flush()  # the run's id, to find it again when the job ends
            run_id = run.id
        try:
            counts = job.run(None)
        except Exception:
            _finish(run_id, Outcome.failed, {}, traceback.format_exc(limit=5))
            log.exception("job %s failed", name)
            raise
        _finish(run_id, Outcome.succeeded, counts, "")
        # Jobs that run every few seconds mostly find nothing to do: say so only when asked to (DEBUG).
        level = logging.INFO if any(counts.values()) else logging.DEBUG
        log.log(level, "job %s done in %.2fs: %s", name, time.monotonic() - started, counts)
        return counts


def _finish(run_id: int, outcome: Outcome, counts: dict, error: str) -> None:
    with transaction() as session:
        run = session.get(JobRun, run_id)
        run.finished_at, run.outcome, run.counts, run.error = utcnow(), outcome, counts, error


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
    for job in all_jobs():
        scheduler.add_job(
            run_job,
            args=[app, job.name],
            id=job.name,
            name=job.description,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=300,
            **job.trigger,
        )
    return scheduler


scheduler_cli = AppGroup("scheduler", help="The one scheduler process.")
jobs_cli = AppGroup("jobs", help="Scheduled jobs, for operators.")


@scheduler_cli.command("run")
def run_scheduler() -> None:
    """Run every domain's jobs on their schedules until stopped."""
    app = current_app._get_current_object()
    scheduler = build_scheduler(app)
    click.echo(f"scheduler: {len(all_jobs())} jobs scheduled; Ctrl-C stops it")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@jobs_cli.command("list")
def list_jobs() -> None:
    """Name, schedule and purpose of every job."""
    for job in all_jobs():
        schedule = ", ".join(f"{key}={value}" for key, value in job.trigger.items())
        click.echo(f"{job.name:45} {schedule:40} {job.description}")


@jobs_cli.command("run")
@click.argument("name")
def run_job_now(name: str) -> None:
    """Run one job now (jobs are idempotent, so this is always safe)."""
    counts = run_job(current_app._get_current_object(), name, by="operator")
    click.echo(f"{name}: {counts}")

"""`flask audit verify` (the audit chain holds, or where it breaks) and `flask surveillance backfill`."""

from datetime import UTC, datetime, timedelta

import click
from flask.cli import AppGroup

from app.db import get_session, transaction
from app.surveillance import audit
from app.surveillance.jobs import engine

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")
surveillance_cli = AppGroup("surveillance", help="Market surveillance.")


@audit_cli.command("verify")
def verify() -> None:
    """Check every link of the audit chain; name the first broken one and exit non-zero if any is."""
    checked, broken = audit.verify(get_session())
    if broken is not None:
        click.echo(
            f"audit: entry {broken.entry_id} is broken: {broken.why} ({checked:,} entries before it hold)",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"audit: {checked:,} entries, the chain holds")


@surveillance_cli.command("backfill")
@click.option("--days", type=int, default=30, show_default=True, help="How far back to look.")
def backfill(days: int) -> None:
    """Run the rules over past events (after a rule or threshold changed); raises only new alerts."""
    since = datetime.now(UTC) - timedelta(days=days)
    with transaction() as session:
        run = engine().backfill(session, since=since)
    click.echo(f"surveillance: {run.events:,} events read, {run.alerts:,} new alerts")

"""`flask ledger check`: prove the books balance, or name what is wrong."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.db import get_session
from app.orders.models import HOLDING, Order
from app.payments import ledger

ledger_cli = AppGroup("ledger", help="The double-entry ledger.")


def problems(session) -> list[ledger.Problem]:
    """Everything wrong with the books, the escrows measured against what each order says it holds."""
    held = dict(
        session.execute(select(Order.id, Order.total_fen).where(Order.status.in_(HOLDING))).all()
    )
    return ledger.check(session, held_by_order=held)


@ledger_cli.command("check")
def check() -> None:
    """Every transaction sums to zero, balances match their entries, no floor is crossed, escrows match."""
    found = problems(get_session())
    for problem in found:
        click.echo(f"{problem.what}: {problem.detail}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("ledger: the books balance")

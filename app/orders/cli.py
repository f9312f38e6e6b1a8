"""`flask ledger check`: prove the books balance, or name what is wrong."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.db import get_session
from app.orders.models import HOLDING, Order
from app.payments import ledger

ledger_cli = AppGroup("ledger", help="The double-entry ledger.")


def held_by_orders(session) -> dict[str, int]:
    """What each order's escrow should hold: its total while the buyer's money is held, else nothing."""
    query = select(Order.id, Order.total_fen).where(Order.status.in_(HOLDING))
    return {ledger.escrow(order_id): total for order_id, total in session.execute(query)}


def problems(session) -> list[ledger.Problem]:
    """Everything wrong with the books, each holding account measured against what its owner says it holds.
    Domains that hold money (orders, contracts) list their holdings in app.extensions["ledger_holdings"]."""
    held: dict[str, int] = {}
    for holdings in current_app.extensions["ledger_holdings"]:
        held.update(holdings(session))
    return ledger.check(session, held=held)


@ledger_cli.command("check")
def check() -> None:
    """Every transaction sums to zero, balances match their entries, no floor is crossed, escrows match."""
    found = problems(get_session())
    for problem in found:
        click.echo(f"{problem.what}: {problem.detail}", err=True)
    if found:
        raise SystemExit(1)
    click.echo("ledger: the books balance")

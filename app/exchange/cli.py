"""`flask exchange replay ORDERS.csv --out TRADES.csv`: an order log through the matching core."""

import click
from flask.cli import AppGroup

from app.exchange.replay import BadLog, read_log, replay, write_trades

exchange_cli = AppGroup("exchange", help="The tea exchange.")


@exchange_cli.command("replay")
@click.argument("orders", type=click.File("r", encoding="utf-8"))
@click.option("--out", "out", type=click.File("w", encoding="utf-8"), default="-")
def replay_command(orders, out) -> None:
    """Replay ORDERS.csv through the matching core and write its trades (to --out, or the screen)."""
    try:
        rows = read_log(orders)
        count = write_trades(replay(rows), out)
    except BadLog as problem:
        raise click.ClickException(f"{orders.name}: {problem}") from problem
    if out.name != "<stdout>":
        click.echo(f"replay: {len(rows):,} rows, {count:,} trades written to {out.name}", err=True)

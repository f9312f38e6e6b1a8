"""Replaying an order log through the matching core: what an audit or a dispute runs, and what proves the
live book did what its log says.

Input: a header line, then `seq,action,order_id,account,side,price,quantity` rows; `action` is `new` or
`cancel` (a cancel names the order to cancel; its other fields may be empty), `side` is `buy` or `sell`,
the price in fen, the quantity in whole lots. Rows run in `seq` order. Output: a header line, then
`trade_seq,buy_order_id,sell_order_id,price,quantity` rows numbered from 1 in execution order. The same input
always gives byte-identical output.
"""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from app.exchange.matching import Book, Side, Trade

INPUT_HEADER = ("seq", "action", "order_id", "account", "side", "price", "quantity")
OUTPUT_HEADER = ("trade_seq", "buy_order_id", "sell_order_id", "price", "quantity")


class BadLog(ValueError):
    """A row the replay cannot read; the message names its line."""


@dataclass(frozen=True)
class LogRow:
    seq: int
    action: str
    order_id: int
    account: int = 0
    side: Side = Side.buy
    price: int = 0
    quantity: int = 0


def read_log(lines: TextIO) -> list[LogRow]:
    """The log's rows in `seq` order, each checked."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(name.strip() for name in header) != INPUT_HEADER:
        raise BadLog(f"line 1: the header must be {','.join(INPUT_HEADER)}")
    rows = [_row(line_number, fields) for line_number, fields in enumerate(reader, start=2)]
    seqs = [row.seq for row in rows]
    if len(set(seqs)) != len(seqs):
        raise BadLog("two rows have the same seq")
    return sorted(rows, key=lambda row: row.seq)


def _row(line_number: int, fields: list[str]) -> LogRow:
    if len(fields) != len(INPUT_HEADER):
        raise BadLog(
            f"line {line_number}: {len(INPUT_HEADER)} fields expected, {len(fields)} found"
        )
    seq, action, order_id, account, side, price, quantity = (field.strip() for field in fields)
    try:
        if action == "cancel":
            return LogRow(int(seq), action, int(order_id))
        if action != "new":
            raise BadLog(f"line {line_number}: action must be new or cancel, not {action!r}")
        if side not in ("buy", "sell"):
            raise BadLog(f"line {line_number}: side must be buy or sell, not {side!r}")
        row = LogRow(
            int(seq), action, int(order_id), int(account), Side(side), int(price), int(quantity)
        )
    except ValueError as error:
        if isinstance(error, BadLog):
            raise
        raise BadLog(
            f"line {line_number}: seq, ids, price and quantity are whole numbers"
        ) from error
    if row.price <= 0 or row.quantity <= 0:
        raise BadLog(f"line {line_number}: price and quantity must be positive")
    return row


def replay(rows: Iterable[LogRow], book: Book | None = None) -> Iterator[Trade]:
    """Run the rows through a book (a new one unless given): its trades, in execution order."""
    book = book or Book()
    for row in rows:
        if row.action == "cancel":
            book.cancel(row.order_id)
            continue
        if row.order_id in book.orders:
            raise BadLog(f"seq {row.seq}: order {row.order_id} is already on the book")
        yield from book.submit(row.order_id, row.account, row.side, row.price, row.quantity).trades


def write_trades(trades: Iterable[Trade], out: TextIO) -> int:
    """The trades as CSV, numbered from 1; how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    count = 0
    for count, trade in enumerate(trades, start=1):
        writer.writerow(
            (count, trade.buy_order_id, trade.sell_order_id, trade.price, trade.quantity)
        )
    return count

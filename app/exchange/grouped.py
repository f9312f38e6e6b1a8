"""Limit orders written in batches: under load, the orders that arrive together in a process are matched and
written in one transaction (app.batching.GroupCommit), in about twenty statements and four round trips
for the whole batch instead of twenty or thirty statements for each order.

The batch locks what trading.place_order locks, once for all its orders and each kind in id order: the
instruments' rows first (they serialise the books across processes), then the receipts its sells offer and
those of the resting sells it may take from, then the deposit accounts of the members buying. It reads the
resting orders the batch can reach (best first; no more on a side than the lots the batch asks of it, since
every trade takes at least one), runs the orders through the matching core in arrival order, each checked by
place_order's rules against what the orders before it left, and writes what happened, each table's rows in
one statement. The order log, the trades, the receipts' histories, the ledger and the events come out as
place_order would have written them one order at a time.

Every round trip the writer waits on under load also waits for the GIL, which the process's request
threads share, and the instruments' locks are held from the first read to the commit. So the locks and the
reads under them go in one pipeline (db.read_together): the statements that lock the receipts and accounts
find the resting orders' ones by reading the book again themselves.

An order a rule refuses, one whose Idempotency-Key was used before, or one on a day the exchange is closed
is left to trading.place_order, which places it alone or refuses it with the reason in the member's
language, exactly as without batching.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    CompoundSelect,
    Date,
    Integer,
    Select,
    Table,
    bindparam,
    cast,
    insert,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from app import events
from app.auth import Actor
from app.batching import GroupCommit
from app.db import local_date, new_ids, pipelined, read_with_ids, utcnow
from app.errors import DomainError
from app.exchange import instruments, receipts, settlement
from app.exchange.matching import Book, Outcome, TimeInForce
from app.exchange.matching import Side as CoreSide
from app.exchange.models import (
    ClosedDay,
    ExchangeOrder,
    Instrument,
    MoveKind,
    OrderStatus,
    Receipt,
    ReceiptMove,
    ReceiptStatus,
    Side,
    Suspension,
    SuspensionStatus,
    Trade,
    TradingMode,
)
from app.exchange.trading import Placed, order_event, rest_of
from app.payments import ledger


@dataclass(frozen=True, eq=False)  # each request is itself, even when two ask for the same
class OrderRequest:
    organisation_id: int
    actor_id: int
    symbol: str  # upper case, as instruments store it
    side: Side
    price_fen: int
    lots: int
    time_in_force: TimeInForce
    receipt_id: int | None
    key: str | None  # the Idempotency-Key


def place(
    actor: Actor,
    *,
    symbol: str,
    side: Side,
    price_fen: int,
    lots: int,
    time_in_force: TimeInForce = TimeInForce.gtc,
    receipt_id: int | None = None,
    idempotency_key: str | None = None,
) -> Placed | None:
    """Place the order in a batch with whatever else this process is placing now; None: place it alone
    (trading.place_order), which places it or refuses it with the reason."""
    return writer.submit(
        OrderRequest(
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            symbol=symbol.upper(),
            side=side,
            price_fen=price_fen,
            lots=lots,
            time_in_force=time_in_force,
            receipt_id=receipt_id,
            key=idempotency_key,
        )
    )


def place_orders(session: Session, requests: list[OrderRequest]) -> list[Placed | None]:
    """Place each order that passes every rule; None for the others (place_order's to place or refuse).

    Two round trips read what the batch needs: before any lock, the closed days, the suspended members,
    the keys used before and the ids drawn ahead; then, in one pipeline, the instruments' locks, the
    resting orders, the receipts' and accounts' locks and the ids of orders and trades (drawn under the
    instruments' locks, so that they follow the order log). A third writes everything."""
    now = utcnow()
    keys = list({request.key for request in requests if request.key})
    members = list({request.organisation_id for request in requests})
    # The ids drawn before any row is locked (locks are held to the end).
    most = _most_ids(requests, reached=_REACHED_PER_ORDER * len(requests))
    (found, used), _ahead = read_with_ids(
        session,
        [
            (_CLOSED_AND_SUSPENDED, {"today": local_date(now), "members": members}),
            (_USED_KEYS, {"keys": keys}),
        ],
        {},
        ahead={table: n for table, n in most.items() if table not in _IN_LOG_ORDER},
    )
    closed = {day for day, _member in found if day is not None}
    if local_date(now) in closed:
        return [None] * len(requests)
    suspended = {member for day, member in found if day is None}
    taking = _admissible(requests, suspended, used={tuple(row) for row in used})
    if not taking:
        return [None] * len(requests)
    batch = _Batch(session, closed, now)
    batch.load(taking)
    taking = [request for request in taking if request.symbol in batch.instruments]
    placed = {request: batch.place(request) for request in taking}
    batch.write()
    return [placed.get(request) for request in requests]


# Ids are drawn for orders reaching this many resting orders each; more are drawn if a batch reaches more.
_REACHED_PER_ORDER = 4


def _most_ids(requests: list[OrderRequest], *, reached: int) -> dict[Table, int]:
    """The most ids of each table a batch of these orders can use, when they reach `reached` resting
    orders. Each trade takes at least a lot of the incoming order, and fills the incoming order or a
    resting one, so there are no more trades than lots asked, nor than orders placed and reached; each
    sell splits off one receipt and each trade makes one; the ledger posts each buy's reserve and release
    and each trade, opening each trade's escrow and the buyers' reserved accounts."""
    orders = len(requests)
    sells = sum(request.side == Side.sell for request in requests)
    buys = orders - sells
    trades = min(sum(request.lots for request in requests), 2 * orders + reached)
    return {
        _ORDERS: orders,
        _TRADES: trades,
        _RECEIPTS: sells + trades,
        **ledger.ids_for(2 * buys + trades, new=buys + trades),
    }


_LOCK_INSTRUMENTS = (
    select(*Instrument.__table__.columns)
    .where(Instrument.symbol.in_(bindparam("symbols", expanding=True)))
    .order_by(Instrument.id)
    .with_for_update(key_share=True)  # as UPDATE locks: rows inserted naming it need not wait
)
_CLOSED_AND_SUSPENDED = union_all(
    select(ClosedDay.day, cast(null(), Integer)).where(ClosedDay.day >= bindparam("today")),
    select(cast(null(), Date), Suspension.organisation_id).where(
        Suspension.organisation_id.in_(bindparam("members", expanding=True)),
        Suspension.status == SuspensionStatus.active,
    ),
)
_USED_KEYS = select(ExchangeOrder.organisation_id, ExchangeOrder.idempotency_key).where(
    ExchangeOrder.idempotency_key.in_(bindparam("keys", expanding=True))
)


def _admissible(
    requests: list[OrderRequest], suspended: set[int], *, used: set[tuple[int, str]]
) -> list[OrderRequest]:
    """The requests of members not suspended, without the keys used before (or earlier in the batch)."""
    admitted = []
    for request in requests:
        keyed = (request.organisation_id, request.key)
        if request.organisation_id in suspended or keyed in used:
            continue
        if request.key:
            used.add(keyed)
        admitted.append(request)
    return admitted


@dataclass
class _Order:
    """An order on the batch's books: a resting one read from the database, or one the batch placed."""

    id: int
    organisation_id: int
    side: Side
    price_fen: int
    open_lots: int
    filled_lots: int
    reserved_fen: int
    receipt_id: int | None
    status: OrderStatus = OrderStatus.open
    row: dict | None = None  # a new order's row as placed; None for one read (updated if it trades)
    traded: bool = False

    def final_row(self) -> dict:
        """A new order's row to insert: as placed, with what later orders of the batch filled."""
        return {
            **self.row,
            "open_lots": self.open_lots,
            "filled_lots": self.filled_lots,
            "reserved_fen": self.reserved_fen,
            "status": self.status,
        }


@dataclass
class _Receipt:
    """A receipt as the batch read (and locked) it or made it; `row` is set on the ones it made."""

    id: int
    warehouse_id: int
    holder_id: int
    product_id: int
    grade_id: int
    batch_id: int | None
    net_kg: int
    packages: int
    inspection: str
    status: ReceiptStatus
    row: dict | None = None
    changed: bool = False

    def final_row(self) -> dict:
        """A new receipt's row to insert: as made, with what the batch took off it since."""
        return {**self.row, "net_kg": self.net_kg, "packages": self.packages, "status": self.status}


_RECEIPT_COLUMNS = (
    Receipt.id,
    Receipt.warehouse_id,
    Receipt.holder_id,
    Receipt.product_id,
    Receipt.grade_id,
    Receipt.batch_id,
    Receipt.net_kg,
    Receipt.packages,
    Receipt.inspection,
    Receipt.status,
)
_ORDERS, _TRADES = ExchangeOrder.__table__, Trade.__table__
_RECEIPTS, _MOVES = Receipt.__table__, ReceiptMove.__table__
_OWN_TABLES = (_ORDERS, _TRADES, _RECEIPTS)  # receipt moves take the database's ids
_IN_LOG_ORDER = (_ORDERS, _TRADES)


@functools.cache
def _reach(sides: tuple[Side, ...]) -> CompoundSelect:
    """The resting orders of one side of an instrument each part reaches (parameters symbol<n>: the
    instrument's, price<n>: the best price asked of it, lots<n>: the lots asked of it), one part per side
    given."""
    price = ExchangeOrder.price_fen
    parts = []
    for n, side in enumerate(sides):
        selling = side == Side.sell
        limit = bindparam(f"price{n}")
        instrument = (
            select(Instrument.id)
            .where(Instrument.symbol == bindparam(f"symbol{n}"))
            .scalar_subquery()
        )
        parts.append(
            select(
                ExchangeOrder.id,
                ExchangeOrder.instrument_id,
                ExchangeOrder.organisation_id,
                ExchangeOrder.side,
                price,
                ExchangeOrder.open_lots,
                ExchangeOrder.filled_lots,
                ExchangeOrder.reserved_fen,
                ExchangeOrder.receipt_id,
                ExchangeOrder.seq,
            )
            .where(
                ExchangeOrder.instrument_id == instrument,
                ExchangeOrder.side == side,
                ExchangeOrder.status == OrderStatus.open,
                price <= limit if selling else price >= limit,
            )
            .order_by(price if selling else price.desc(), ExchangeOrder.seq)
            .limit(bindparam(f"lots{n}"))
            .subquery()
            .select()
        )
    return union_all(*parts)


def _priority(row) -> tuple:
    """A resting order's place in its book: by instrument and side, best price first, then oldest."""
    price = row.price_fen if row.side == Side.sell else -row.price_fen
    return row.instrument_id, row.side, price, row.seq


@functools.cache
def _lock_receipts(sides: tuple[Side, ...]) -> Select:
    """The receipts the batch's sells offer (parameter receipts) and those of the resting sells it
    reaches (_reach's parameters), locked in id order."""
    reached = _reach(sides).subquery()
    return (
        select(*_RECEIPT_COLUMNS)
        .where(
            Receipt.id.in_(
                union_all(
                    select(Receipt.id).where(Receipt.id.in_(bindparam("receipts", expanding=True))),
                    select(reached.c.receipt_id).where(reached.c.side == Side.sell),
                )
            )
        )
        .order_by(Receipt.id)
        .with_for_update(key_share=True)
    )


@functools.cache
def _lock_accounts(sides: tuple[Side, ...]) -> Select:
    """ledger.lock_accounts' statement (parameter codes: the buyers' deposits and reserves), also locking
    the reserves of the resting buys the batch reaches (_reach's parameters)."""
    reached = _reach(sides).subquery()
    return ledger.locking_accounts(
        also=select(ledger.reserved_of(reached.c.organisation_id)).where(reached.c.side == Side.buy)
    )


@dataclass
class _Batch:
    session: Session
    closed: set  # the days the exchange is closed, from today
    now: datetime
    instruments: dict[str, Instrument] = field(default_factory=dict)  # by symbol, as locked
    books: dict[int, Book] = field(default_factory=dict)  # by instrument id
    named: dict[int, Instrument] = field(default_factory=dict)  # by id, only id and symbol
    orders: dict[int, _Order] = field(default_factory=dict)
    receipts: dict[int, _Receipt] = field(default_factory=dict)
    accounts: dict[str, ledger.LockedAccount] = field(default_factory=dict)
    free: dict[int, int] = field(default_factory=dict)  # each buyer's free deposit, as it goes
    seq: dict[int, int] = field(default_factory=dict)  # each instrument's last order-log number
    ids: dict = field(default_factory=dict)  # iterators of ids drawn for each table
    trades: list[dict] = field(default_factory=list)
    moves: list[dict] = field(default_factory=list)
    postings: list[ledger.Posting] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    # --- reading and locking -------------------------------------------------------------------------

    def load(self, requests: list[OrderRequest]) -> None:
        """In one round trip: lock the requests' instruments, read the resting orders they can reach
        into books, lock the receipts and accounts they may move, and draw ids for the orders and
        trades they can make."""
        sides, reach = self._reach_parameters(requests)
        buyers = {r.organisation_id for r in requests if r.side == Side.buy}
        most = _most_ids(requests, reached=_REACHED_PER_ORDER * len(requests))
        (locked, resting, receipts_locked, accounts_locked), drawn = read_with_ids(
            self.session,
            [
                (_LOCK_INSTRUMENTS, {"symbols": sorted({r.symbol for r in requests})}),
                (_reach(sides), reach),
                (
                    _lock_receipts(sides),
                    {**reach, "receipts": [r.receipt_id for r in requests if r.side == Side.sell]},
                ),
                (
                    _lock_accounts(sides),
                    {
                        **reach,
                        "codes": [ledger.exchange_deposit(buyer) for buyer in buyers]
                        + [ledger.reserved(buyer) for buyer in buyers],
                    },
                ),
            ],
            {table: most[table] for table in _OWN_TABLES},
        )
        self.ids = {table: iter(ids) for table, ids in drawn.items()}
        self._open_books(locked, resting)
        self.receipts = {values.id: _Receipt(*values) for values in receipts_locked}
        self.accounts = ledger.locked_accounts(accounts_locked)
        self._check_locked(resting)
        for buyer in buyers:
            account = self.accounts.get(ledger.exchange_deposit(buyer))
            self.free[buyer] = (
                0 if account is None else account.balance_fen - (account.floor_fen or 0)
            )

    def _open_books(self, locked: list, resting: list) -> None:
        """The locked instruments, each with a book holding the resting orders read."""
        for row in locked:
            # Not the session's: the batch writes the instrument's new state itself.
            instrument = Instrument(**row._asdict())
            self.instruments[instrument.symbol] = instrument
            self.books[instrument.id] = Book()
            self.seq[instrument.id] = instrument.seq
            # As the answers name it.
            self.named[instrument.id] = Instrument(id=instrument.id, symbol=instrument.symbol)
        # Into each book in priority order: best price first, then oldest.
        for row in sorted(resting, key=_priority):
            self.orders[row.id] = _Order(
                row.id,
                row.organisation_id,
                row.side,
                row.price_fen,
                row.open_lots,
                row.filled_lots,
                row.reserved_fen,
                row.receipt_id,
            )
            entered = self.books[row.instrument_id].submit(
                row.id, row.organisation_id, CoreSide(row.side), row.price_fen, row.open_lots
            )
            if entered.trades:
                raise RuntimeError(f"the stored book of instrument {row.instrument_id} is crossed")

    def _check_locked(self, resting: list) -> None:
        """The locks found the resting orders' receipts and reserves by reading the book again: the same
        rows, since every change to a book holds its instrument's lock."""
        missed = [
            row.id
            for row in resting
            if (
                row.receipt_id not in self.receipts
                if row.side == Side.sell
                else ledger.reserved(row.organisation_id) not in self.accounts
            )
        ]
        if missed:
            raise RuntimeError(f"resting orders {missed} changed under their instruments' locks")

    @staticmethod
    def _reach_parameters(requests: list[OrderRequest]) -> tuple[tuple[Side, ...], dict]:
        """What _reach reads for these requests: the sides of its parts, and their parameters. Each
        instrument has a part for each side (so that the statements take few shapes, each compiled
        once), reaching the open orders the requests of the other side can: no more than the lots they
        ask, at prices they accept (none if no request is on the other side)."""
        reach: dict[tuple[str, Side], tuple[int, int]] = {}  # (symbol, side) -> (price, lots)
        for request in requests:
            other = Side.sell if request.side == Side.buy else Side.buy
            price, lots = reach.get((request.symbol, other), (request.price_fen, 0))
            better = max if request.side == Side.buy else min
            reach[request.symbol, other] = (better(price, request.price_fen), lots + request.lots)
        parameters, sides = {}, []
        for symbol in sorted({request.symbol for request in requests}):
            for side in (Side.buy, Side.sell):
                n = len(sides)
                price, lots = reach.get((symbol, side), (0, 0))
                parameters |= {f"symbol{n}": symbol, f"price{n}": price, f"lots{n}": lots}
                sides.append(side)
        return tuple(sides), parameters

    def _new_id(self, table: Table) -> int:
        """The next id drawn for `table`; more are drawn if the batch reached more resting orders than
        the ids drawn allowed for (under the instruments' locks, so they still follow the order log)."""
        drawn = next(self.ids[table], None)
        if drawn is None:
            more = max(1, len(self.orders))
            self.ids[table] = iter(new_ids(self.session, {table: more})[table])
            drawn = next(self.ids[table])
        return drawn

    # --- placing -------------------------------------------------------------------------------------

    def place(self, request: OrderRequest) -> Placed | None:
        """Run one order through the rules and its book; None if place_order should place it alone."""
        instrument = self.instruments[request.symbol]
        try:
            instruments.check_open_on(instrument, TradingMode.matching, self.now, None)
            instruments.check_lots(instrument, request.lots)
            instruments.check_price(instrument, request.price_fen)
        except DomainError:
            return None
        kg = request.lots * instrument.lot_kg
        if request.side == Side.buy:
            reserved = request.price_fen * kg
            if self.free.get(request.organisation_id, 0) < reserved:
                return None
        elif not self._offerable(request, instrument, kg):
            return None
        seq = self._next_seq(instrument)
        order = _Order(
            id=self._new_id(_ORDERS),
            organisation_id=request.organisation_id,
            side=request.side,
            price_fen=request.price_fen,
            open_lots=request.lots,
            filled_lots=0,
            reserved_fen=0,
            receipt_id=None,
        )
        self.orders[order.id] = order
        if request.side == Side.buy:
            self._reserve(order, instrument, seq, reserved)
        else:
            order.receipt_id = self._offer(request, kg)
        outcome = self.books[instrument.id].submit(
            order.id,
            order.organisation_id,
            CoreSide(order.side),
            order.price_fen,
            request.lots,
            request.time_in_force,
        )
        trades = [self._trade(fill, instrument) for fill in outcome.trades]
        cancelled_seq = self._rest(order, instrument, seq, outcome)
        order.row = {
            "id": order.id,
            "instrument_id": instrument.id,
            "organisation_id": order.organisation_id,
            "placed_by_id": request.actor_id,
            "side": order.side,
            "price_fen": order.price_fen,
            "lots": request.lots,
            "open_lots": order.open_lots,
            "filled_lots": order.filled_lots,
            "time_in_force": request.time_in_force.value,
            "seq": seq,
            "cancelled_seq": cancelled_seq,
            "status": order.status,
            "reserved_fen": order.reserved_fen,
            "receipt_id": order.receipt_id,
            "idempotency_key": request.key,
            "created_at": self.now,
        }
        placed = ExchangeOrder(
            **order.row, instrument=self.named[instrument.id]
        )  # as it is now, to answer
        self.events.append(
            order_event(
                "exchange.order_placed",
                placed,
                instrument,
                None,
                self_trade=outcome.self_trade,
            )
        )
        return Placed(placed, trades)

    def _next_seq(self, instrument: Instrument) -> int:
        self.seq[instrument.id] += 1
        return self.seq[instrument.id]

    def _reserve(self, order: _Order, instrument: Instrument, seq: int, fen: int) -> None:
        """A buy's money set aside from its deposit (deposits.reserve)."""
        order.reserved_fen = fen
        self.free[order.organisation_id] -= fen
        self._post(
            f"exchange-order:{instrument.id}:{seq}:reserve",
            "exchange_reserve",
            ledger.exchange_deposit(order.organisation_id),
            ledger.reserved(order.organisation_id),
            fen,
        )

    def _post(self, key: str, kind: str, source: str, target: str, fen: int) -> None:
        self.postings.append(ledger.Posting(key, kind, {source: -fen, target: fen}))

    def _offerable(self, request: OrderRequest, instrument: Instrument, kg: int) -> bool:
        """Whether the sell's receipt is the member's, free, of the instrument's tea and big enough."""
        receipt = self.receipts.get(request.receipt_id)
        return (
            receipt is not None
            and receipt.holder_id == request.organisation_id
            and receipt.status == ReceiptStatus.held
            and (receipt.product_id, receipt.grade_id)
            == (instrument.product_id, instrument.grade_id)
            and kg <= receipt.net_kg
        )

    def _offer(self, request: OrderRequest, kg: int) -> int:
        """Set the sold kilograms aside (receipts.offer_receipt): the receipt itself when it is exactly
        that size, else a part split off it. The offered receipt's id."""
        receipt = self.receipts[request.receipt_id]
        actor_id = request.actor_id
        if kg < receipt.net_kg:
            part = self._part(receipt, kg, receipt.holder_id, ReceiptStatus.offered)
            self._move(receipt, MoveKind.split, -kg, other=part, actor_id=actor_id)
            self._move(part, MoveKind.split, kg, other=receipt, actor_id=actor_id)
        else:
            receipt.status, receipt.changed, part = ReceiptStatus.offered, True, receipt
        self._move(part, MoveKind.offered, 0, actor_id=actor_id)
        return part.id

    def _part(self, receipt: _Receipt, kg: int, holder_id: int, status: ReceiptStatus) -> _Receipt:
        """A new receipt of `kg` taken off `receipt`, with its share of the packages (receipts._take_kg)."""
        left = receipt.net_kg - kg
        moved, kept = receipts.share_packages(receipt.packages, kg, left)
        receipt.net_kg, receipt.packages, receipt.changed = left, kept, True
        part = _Receipt(
            self._new_id(_RECEIPTS),
            receipt.warehouse_id,
            holder_id,
            receipt.product_id,
            receipt.grade_id,
            receipt.batch_id,
            kg,
            moved,
            receipt.inspection,
            status,
        )
        part.row = {
            "id": part.id,
            "number": receipts.receipt_number(self.now),
            "warehouse_id": part.warehouse_id,
            "holder_id": holder_id,
            "product_id": part.product_id,
            "grade_id": part.grade_id,
            "batch_id": part.batch_id,
            "net_kg": kg,
            "packages": moved,
            "inspection": part.inspection,
            "parent_id": receipt.id,
            "status": status,
            "issued_at": self.now,
        }
        self.receipts[part.id] = part
        return part

    def _move(self, receipt: _Receipt, kind: MoveKind, kg: int, **about) -> None:
        """A line of the receipt's history (receipts.note_move)."""
        other = about.pop("other", None)
        self.moves.append(
            {
                "receipt_id": receipt.id,
                "kind": kind,
                "kg": kg,
                "holder_id": receipt.holder_id,
                "other_receipt_id": other.id if other else None,
                "trade_id": about.get("trade_id"),
                "actor_id": about.get("actor_id"),
                "created_at": self.now,
            }
        )

    def _trade(self, fill, instrument: Instrument) -> Trade:
        """Record one of the core's trades as settlement.execute_trade does, and fill the resting order."""
        buy, sell = self.orders[fill.buy_order_id], self.orders[fill.sell_order_id]
        kg = fill.quantity * instrument.lot_kg
        offered = self.receipts[sell.receipt_id]
        bought = self._part(offered, kg, buy.organisation_id, ReceiptStatus.held)
        trade = settlement.new_trade(
            instrument,
            mode=TradingMode.matching,
            buyer_id=buy.organisation_id,
            seller_id=sell.organisation_id,
            price_fen=fill.price,
            lots=fill.quantity,
            receipt_id=bought.id,
            now=self.now,
            settle_due_at=instruments.due_after(instrument, self.now, self.closed),
            buy_order_id=buy.id,
            sell_order_id=sell.id,
        )
        trade.id = self._new_id(_TRADES)
        self.trades.append({column.key: getattr(trade, column.key) for column in _TRADES.columns})
        trade.instrument = self.named[instrument.id]
        self._move(offered, MoveKind.traded, -kg, other=bought, trade_id=trade.id)
        self._move(bought, MoveKind.traded, kg, other=offered, trade_id=trade.id)
        self._post(
            f"exchange-trade:{trade.id}",
            "exchange_trade",
            ledger.reserved(buy.organisation_id),
            ledger.trade_escrow(trade.id),
            trade.value_fen,
        )
        instruments.set_last_price(instrument, fill.price, self.now)
        self.events.append(settlement.trade_event(trade, instrument))
        resting = sell if fill.aggressor == CoreSide.buy else buy
        resting.open_lots -= fill.quantity
        resting.filled_lots += fill.quantity
        resting.traded = True
        if resting.side == Side.buy:
            resting.reserved_fen -= trade.value_fen
        if not resting.open_lots:
            resting.status = OrderStatus.filled
            if resting.side == Side.sell:
                self._withdraw(self.receipts[resting.receipt_id])  # all of it is sold
        return trade

    def _withdraw(self, receipt: _Receipt) -> None:
        """What is left of an offered receipt goes back to its holder (receipts.withdraw_offer)."""
        receipt.status = ReceiptStatus.held if receipt.net_kg else ReceiptStatus.sold
        receipt.changed = True
        self._move(receipt, MoveKind.withdrawn, 0)

    def _rest(
        self, order: _Order, instrument: Instrument, seq: int, outcome: Outcome
    ) -> int | None:
        """The new order's own state after matching (as trading._rest sets it); the log number of its
        cancel, if the core cancelled its rest as immediate-or-cancel."""
        rest = rest_of(order.side, order.price_fen, order.reserved_fen, outcome, instrument.lot_kg)
        order.status, order.filled_lots, order.open_lots = (
            rest.status,
            rest.filled_lots,
            rest.open_lots,
        )
        if order.side == Side.buy:
            order.reserved_fen = rest.reserved_fen
            if rest.freed_fen:
                self.free[order.organisation_id] += rest.freed_fen
                self._post(
                    f"exchange-order:{instrument.id}:{seq}:release",
                    "exchange_release",
                    ledger.reserved(order.organisation_id),
                    ledger.exchange_deposit(order.organisation_id),
                    rest.freed_fen,
                )
        elif not outcome.rested:
            self._withdraw(self.receipts[order.receipt_id])
        return self._next_seq(instrument) if rest.logs_cancel else None

    # --- writing -------------------------------------------------------------------------------------

    def write(self) -> None:
        """Everything the batch did, each table in one statement, parents before the rows naming them."""
        connection = self.session.connection()
        made = [order.final_row() for order in self.orders.values() if order.row is not None]
        if not made:
            return
        filled = [order for order in self.orders.values() if order.row is None and order.traded]
        with pipelined(self.session):
            new_receipts = [r.final_row() for r in self.receipts.values() if r.row is not None]
            if new_receipts:
                connection.execute(insert(_RECEIPTS).inline(), new_receipts)
            changed = [r for r in self.receipts.values() if r.row is None and r.changed]
            if changed:
                connection.execute(
                    _SET_RECEIPT,
                    [
                        {"receipt": r.id, "kg": r.net_kg, "left": r.packages, "now": r.status}
                        for r in changed
                    ],
                )
            connection.execute(insert(_ORDERS).inline(), made)
            if filled:
                connection.execute(
                    _FILL_ORDER,
                    [
                        {
                            "order": order.id,
                            "open": order.open_lots,
                            "filled": order.filled_lots,
                            "reserved": order.reserved_fen,
                            "now": order.status,
                        }
                        for order in filled
                    ],
                )
            if self.trades:
                connection.execute(insert(_TRADES).inline(), self.trades)
            if self.moves:
                connection.execute(insert(_MOVES).inline(), self.moves)
            connection.execute(
                _SET_INSTRUMENT,
                [
                    {
                        "instrument": instrument.id,
                        "seq": self.seq[instrument.id],
                        "price": instrument.last_price_fen,
                        "at": instrument.last_traded_at,
                    }
                    for instrument in self.instruments.values()
                    if self.seq[instrument.id] != instrument.seq
                ],
            )
            events.record_many(self.session, self.events, now=self.now)
            ledger.post_many(
                self.session,
                self.postings,
                new=list(
                    dict.fromkeys(
                        code
                        for posting in self.postings
                        for code in posting.moves
                        if code not in self.accounts
                    )
                ),
                locked=self.accounts,
                unseen=True,  # keyed by order-log numbers and trades this batch has just made
            )


_SET_RECEIPT = (
    update(_RECEIPTS)
    .where(_RECEIPTS.c.id == bindparam("receipt"))
    .values(net_kg=bindparam("kg"), packages=bindparam("left"), status=bindparam("now"))
)
_FILL_ORDER = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order"))
    .values(
        open_lots=bindparam("open"),
        filled_lots=bindparam("filled"),
        reserved_fen=bindparam("reserved"),
        status=bindparam("now"),
    )
)
_SET_INSTRUMENT = (
    update(Instrument.__table__)
    .where(Instrument.__table__.c.id == bindparam("instrument"))
    .values(seq=bindparam("seq"), last_price_fen=bindparam("price"), last_traded_at=bindparam("at"))
)


writer = GroupCommit("exchange-orders", place_orders)

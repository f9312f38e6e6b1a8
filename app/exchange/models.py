"""The tea exchange (贵州遵义茶叶交易中心): instruments, warehouse receipts, limit orders, listed lots,
auctions and the trades they make.

Every sale on the exchange is of tea lying in an approved warehouse under an electronic warehouse receipt
(仓单): the seller's receipt backs the offer, and the traded part of it moves to the buyer. Every bid and
buy order is backed by money reserved from the member's exchange deposit (保证金).
"""

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Organisation
from app.catalog.models import Batch, Grade, Product
from app.db import Base, BigId, utcnow
from app.i18n import N_


class TradingMode(StrEnum):
    listing = "listing"  # 挂牌/摘牌: a seller lists a lot at a price, buyers take part or all
    english = "english"  # 竞买: ascending bids, the highest at the close wins
    dutch = "dutch"  # the clock: the price falls until a buyer takes it
    matching = (
        "matching"  # 撮合: continuous limit-order matching (off unless the exchange enables it)
    )


MODE_LABELS = {
    TradingMode.listing: N_("listing and delisting"),
    TradingMode.english: N_("English auction"),
    TradingMode.dutch: N_("Dutch clock auction"),
    TradingMode.matching: N_("continuous matching"),
}
# Chinese rules keep continuous centralised matching for licensed futures venues: it is a setting per
# instrument, off by default.
DEFAULT_MODES = [TradingMode.listing, TradingMode.english, TradingMode.dutch]


class Instrument(Base):
    """What the exchange trades: one product and grade in one packaging, with its rules."""

    __tablename__ = "exchange_instruments"
    __table_args__ = (
        CheckConstraint("tick_fen > 0", name="tick_positive"),
        CheckConstraint("lot_kg > 0", name="lot_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20), unique=True)  # "CUIYA-S", shown everywhere
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"))
    packaging: Mapped[str] = mapped_column(String(60))  # "5 kg tins in 25 kg cartons"
    modes: Mapped[list[str]] = mapped_column(JSON)  # the TradingMode values it enables
    tick_fen: Mapped[int]  # prices are per kg, in steps of this
    lot_kg: Mapped[int]  # quantities are whole lots of this many kg
    band_bps: Mapped[int]  # an order further than this from the reference price is refused
    daily_limit_bps: Mapped[int]  # no trade further than this from the previous close (涨跌停)
    fee_bps: Mapped[int]  # the exchange's fee, taken from the seller's proceeds
    settlement_days: Mapped[int] = mapped_column(
        default=3
    )  # T+N: the seller is paid N trading days on at latest
    trading_days: Mapped[str] = mapped_column(
        String(7), default="12345"
    )  # ISO weekdays, China time
    opens_at: Mapped[time]  # China time
    closes_at: Mapped[time]
    previous_close_fen: Mapped[
        int
    ]  # the day's reference until the first trade; the daily limit's base
    last_price_fen: Mapped[int | None]
    last_traded_at: Mapped[datetime | None]
    halted: Mapped[bool] = mapped_column(default=False)
    halt_reason: Mapped[str] = mapped_column(String(200), default="")
    # The order log's sequence: taken (and the row locked) by every new order and cancel, which is what
    # serialises the instrument's book across processes and hosts.
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship()
    grade: Mapped[Grade] = relationship()

    def enables(self, mode: TradingMode) -> bool:
        return mode.value in self.modes

    @property
    def reference_fen(self) -> int:
        """The price bands are measured from: the last trade, or the previous close before any."""
        return self.last_price_fen or self.previous_close_fen


class ClosedDay(Base):
    """A day the exchange does not trade (a public holiday, 春节): no instrument is in session on it.
    Auctions and tenders keep the times they were given."""

    __tablename__ = "exchange_closed_days"

    day: Mapped[date] = mapped_column(primary_key=True)  # in China time
    name: Mapped[str] = mapped_column(String(60))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceiptStatus(StrEnum):
    held = "held"  # in the holder's hands, free to offer, split, merge or take out
    offered = "offered"  # backing a sell order, a listed lot or an auction: nothing else may use it
    sold = "sold"  # all of it has moved to buyers
    merged = "merged"  # folded into another receipt
    released = "released"  # the tea has left the warehouse (picked up)
    pledged = "pledged"  # security for a loan (仓单质押): nothing else may use it until discharged


RECEIPT_LABELS = {
    ReceiptStatus.held: N_("held"),
    ReceiptStatus.offered: N_("offered"),
    ReceiptStatus.sold: N_("sold"),
    ReceiptStatus.merged: N_("merged"),
    ReceiptStatus.released: N_("released"),
    ReceiptStatus.pledged: N_("pledged"),
}


class Receipt(Base):
    """An electronic warehouse receipt (仓单): so many kg of one product and grade in one warehouse."""

    __tablename__ = "warehouse_receipts"
    __table_args__ = (CheckConstraint("net_kg >= 0", name="net_kg_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    net_kg: Mapped[int]
    packages: Mapped[int]
    inspection: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse_receipts.id"))
    status: Mapped[ReceiptStatus] = mapped_column(default=ReceiptStatus.held, index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    warehouse: Mapped[Organisation] = relationship(foreign_keys=[warehouse_id])
    holder: Mapped[Organisation] = relationship(foreign_keys=[holder_id])
    product: Mapped[Product] = relationship()
    grade: Mapped[Grade] = relationship()
    batch: Mapped[Batch | None] = relationship()
    moves: Mapped[list["ReceiptMove"]] = relationship(
        back_populates="receipt", order_by="ReceiptMove.id", foreign_keys="ReceiptMove.receipt_id"
    )
    # The pledge it stands under now (status pledged), if any.
    pledge: Mapped["ReceiptPledge | None"] = relationship(
        primaryjoin="and_(ReceiptPledge.receipt_id == Receipt.id, "
        "ReceiptPledge.discharged_at.is_(None))",
        viewonly=True,
        uselist=False,
    )


class MoveKind(StrEnum):
    issued = "issued"
    split = "split"
    merged = "merged"
    offered = "offered"
    withdrawn = "withdrawn"
    traded = "traded"
    released = "released"
    pledged = "pledged"
    discharged = "discharged"  # its pledge ended: free again


class ReceiptPledge(Base):
    """A receipt pledged to a lender as security for a loan (仓单质押). The holder pledges it; the warehouse,
    which keeps the tea, discharges the pledge when the lender confirms the loan is repaid."""

    __tablename__ = "receipt_pledges"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("warehouse_receipts.id"), index=True)
    lender: Mapped[str] = mapped_column(String(120))
    loan_reference: Mapped[str] = mapped_column(String(60))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[date]  # when the loan falls due
    pledged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    pledged_at: Mapped[datetime] = mapped_column(default=utcnow)
    discharged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    discharged_at: Mapped[datetime | None]

    receipt: Mapped[Receipt] = relationship()


class ReceiptMove(Base):
    """One line of a receipt's history: issued, split off, merged, offered, traded, pledged, released."""

    __tablename__ = "receipt_moves"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("warehouse_receipts.id"), index=True)
    kind: Mapped[MoveKind]
    kg: Mapped[int]
    holder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    other_receipt_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse_receipts.id"))
    trade_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_trades.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    receipt: Mapped[Receipt] = relationship(back_populates="moves", foreign_keys=[receipt_id])


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class OrderStatus(StrEnum):
    open = "open"  # resting on the book
    filled = "filled"
    cancelled = "cancelled"  # by its owner or staff, or the unfilled rest of an IOC or a self-trade


class ExchangeOrder(Base):
    """A limit order on an instrument's book (continuous matching)."""

    __tablename__ = "exchange_orders"
    __table_args__ = (
        CheckConstraint("open_lots >= 0", name="open_lots_not_negative"),
        # The book: open orders of a side by price and time, which is all matching reads.
        Index(
            "ix_exchange_orders_book",
            "instrument_id",
            "side",
            "price_fen",
            "seq",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_exchange_orders_owner", "organisation_id", "id"),
        UniqueConstraint("organisation_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("exchange_instruments.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    side: Mapped[Side]
    price_fen: Mapped[int]  # limit, per kg
    lots: Mapped[int]
    open_lots: Mapped[int]  # still on the book
    filled_lots: Mapped[int] = mapped_column(default=0)
    time_in_force: Mapped[str] = mapped_column(String(3))  # gtc, ioc
    seq: Mapped[int] = mapped_column(BigInteger)  # its place in the instrument's order log
    cancelled_seq: Mapped[int | None] = mapped_column(BigInteger)  # a cancel's place in that log
    status: Mapped[OrderStatus] = mapped_column(default=OrderStatus.open)
    reserved_fen: Mapped[int] = mapped_column(
        BigInteger, default=0
    )  # a buy's money still set aside
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse_receipts.id"))  # a sell's
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    instrument: Mapped[Instrument] = relationship()


class Trade(Base):
    """One execution, in any mode: the buyer's money goes into the trade's escrow and the traded part of
    the seller's receipt to the buyer; the escrow pays the seller on pickup or after T+N days."""

    __tablename__ = "exchange_trades"
    __table_args__ = (
        Index("ix_exchange_trades_instrument", "instrument_id", "id"),
        Index(
            "ix_exchange_trades_unsettled",
            "settle_due_at",
            postgresql_where=text("settled_at IS NULL"),
            sqlite_where=text("settled_at IS NULL"),
        ),
        # A unique index rather than a constraint: SQLite adds it without copying the table.
        Index("ix_exchange_trades_buyer_key", "buyer_id", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("exchange_instruments.id"))
    mode: Mapped[TradingMode]
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    buy_order_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_orders.id"))
    sell_order_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_orders.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_lots.id"))
    auction_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_auctions.id"))
    price_fen: Mapped[int]  # per kg
    lots: Mapped[int]
    kg: Mapped[int]
    value_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("warehouse_receipts.id"))  # the buyer's
    idempotency_key: Mapped[str | None] = mapped_column(
        String(80)
    )  # a take's or a clock's, per buyer
    executed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    settle_due_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]

    instrument: Mapped[Instrument] = relationship()
    buyer: Mapped[Organisation] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_id])
    receipt: Mapped[Receipt] = relationship()


class LotStatus(StrEnum):
    open = "open"
    sold = "sold"
    withdrawn = "withdrawn"


class Lot(Base):
    """A listed lot (挂牌): receipt-backed tea at a fixed price; buyers take part or all (摘牌)."""

    __tablename__ = "exchange_lots"
    __table_args__ = (CheckConstraint("open_lots >= 0", name="open_lots_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("exchange_instruments.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("warehouse_receipts.id"))
    price_fen: Mapped[int]  # per kg
    lots: Mapped[int]
    open_lots: Mapped[int]
    min_lots: Mapped[int] = mapped_column(default=1)  # the least a buyer may take
    status: Mapped[LotStatus] = mapped_column(default=LotStatus.open, index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    listed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    instrument: Mapped[Instrument] = relationship()
    seller: Mapped[Organisation] = relationship()
    receipt: Mapped[Receipt] = relationship()


class AuctionStatus(StrEnum):
    open = "open"  # taking bids from starts_at (shown as "starting soon" until then)
    sold = "sold"  # closed with a winner (English), or every lot taken (Dutch)
    unsold = "unsold"  # closed without a bid at the reserve, or the clock reached its floor with lots left


AUCTION_LABELS = {
    AuctionStatus.open: N_("open"),
    AuctionStatus.sold: N_("sold"),
    AuctionStatus.unsold: N_("unsold"),
}


class Auction(Base):
    """An English auction (竞买) of a whole receipt-backed lot, or a Dutch clock auction of its lots."""

    __tablename__ = "exchange_auctions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TradingMode]  # english or dutch
    instrument_id: Mapped[int] = mapped_column(ForeignKey("exchange_instruments.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("warehouse_receipts.id"))
    lots: Mapped[int]
    open_lots: Mapped[int]  # Dutch: still on the clock
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)  # English: moved on by late bids
    # English: the first bid's least price, each next bid's least step, the least price that sells, and
    # the window before the close in which a bid moves the close on by as much.
    start_fen: Mapped[int]
    increment_fen: Mapped[int] = mapped_column(default=0)
    reserve_fen: Mapped[int] = mapped_column(default=0)
    extend_seconds: Mapped[int] = mapped_column(default=0)
    # Dutch: the price falls from start_fen by step_fen every interval_seconds down to floor_fen.
    step_fen: Mapped[int] = mapped_column(default=0)
    interval_seconds: Mapped[int] = mapped_column(default=0)
    floor_fen: Mapped[int] = mapped_column(default=0)
    status: Mapped[AuctionStatus] = mapped_column(default=AuctionStatus.open, index=True)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    leading_fen: Mapped[int | None]
    bid_count: Mapped[int] = mapped_column(default=0)
    halted: Mapped[bool] = mapped_column(
        default=False
    )  # by exchange staff: no bids, takes or close
    halt_reason: Mapped[str] = mapped_column(String(200), default="")
    halted_at: Mapped[datetime | None]  # a Dutch clock stands still while halted
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    instrument: Mapped[Instrument] = relationship()
    seller: Mapped[Organisation] = relationship(foreign_keys=[seller_id])
    leader: Mapped[Organisation | None] = relationship(foreign_keys=[leader_id])
    receipt: Mapped[Receipt] = relationship()
    bids: Mapped[list["Bid"]] = relationship(back_populates="auction", order_by="Bid.seq.desc()")

    def price_at(self, now: datetime) -> int:
        """The Dutch clock's price at a moment: down a step each interval from the start, to the floor (a
        halted clock stands at the price it had when it was halted)."""
        if self.halted and self.halted_at is not None:
            now = min(now, self.halted_at)
        steps = max(0, int((now - self.starts_at).total_seconds()) // self.interval_seconds)
        return max(self.floor_fen, self.start_fen - steps * self.step_fen)

    def least_bid(self) -> int:
        """The lowest price an English auction's next bid may carry."""
        if self.leading_fen is None:
            return self.start_fen
        return self.leading_fen + self.increment_fen


class Bid(Base):
    """An English auction bid: never withdrawn; the leader's money stays reserved until it is outbid."""

    __tablename__ = "exchange_bids"
    __table_args__ = (UniqueConstraint("auction_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("exchange_auctions.id"), index=True)
    seq: Mapped[int]  # 1, 2, 3 ... in the order the auction accepted them
    bidder_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    price_fen: Mapped[int]  # per kg
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)

    auction: Mapped[Auction] = relationship(back_populates="bids")
    bidder: Mapped[Organisation] = relationship()


class TenderStatus(StrEnum):
    open = "open"  # taking bids until closes_at
    awarded = "awarded"  # the lowest responsive bid won; its contract is with both sides
    unawarded = "unawarded"  # closed with no responsive bid
    withdrawn = "withdrawn"  # the buyer called it off before any bid


TENDER_LABELS = {
    TenderStatus.open: N_("taking bids"),
    TenderStatus.awarded: N_("awarded"),
    TenderStatus.unawarded: N_("no responsive bid"),
    TenderStatus.withdrawn: N_("withdrawn"),
}


class Tender(Base):
    """A buyer's need put out to tender (竞卖/招标): sellers bid prices down, the lowest responsive bid at the
    close wins, and the award becomes an order contract between the two."""

    __tablename__ = "exchange_tenders"
    __table_args__ = (CheckConstraint("kg > 0", name="kg_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"))
    title: Mapped[str] = mapped_column(String(120))
    kg: Mapped[int]
    max_price_fen: Mapped[int]  # per kg: a bid above it is not responsive
    delivery_on: Mapped[date]
    window_start: Mapped[time]
    window_end: Mapped[time]
    delivery_point: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    closes_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[TenderStatus] = mapped_column(default=TenderStatus.open, index=True)
    bid_count: Mapped[int] = mapped_column(default=0)
    lowest_fen: Mapped[
        int | None
    ]  # the best bid so far, per kg (shown to bidders, not who made it)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    buyer: Mapped[Organisation] = relationship()
    product: Mapped[Product] = relationship()
    grade: Mapped[Grade] = relationship()
    bids: Mapped[list["TenderBid"]] = relationship(
        back_populates="tender", order_by="TenderBid.id", foreign_keys="TenderBid.tender_id"
    )


class TenderBid(Base):
    """A seller's offer to fill a tender at a price per kg, from one of its listings (what the contract will
    be for). A seller may bid again, only lower; its latest bid stands."""

    __tablename__ = "exchange_tender_bids"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("exchange_tenders.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    price_fen: Mapped[int]  # per kg
    won: Mapped[bool] = mapped_column(default=False)
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)

    tender: Mapped[Tender] = relationship(back_populates="bids", foreign_keys=[tender_id])
    seller: Mapped[Organisation] = relationship()


class SuspensionStatus(StrEnum):
    proposed = "proposed"  # by an officer, waiting for a supervisor
    active = "active"  # approved by a supervisor: the member may not trade
    rejected = "rejected"
    lifted = "lifted"


SUSPENSION_LABELS = {
    SuspensionStatus.proposed: N_("proposed"),
    SuspensionStatus.active: N_("in force"),
    SuspensionStatus.rejected: N_("rejected"),
    SuspensionStatus.lifted: N_("lifted"),
}


class Suspension(Base):
    """A member barred from trading on the exchange: proposed by an officer, approved by a supervisor who is
    not the proposer (four eyes), lifted by a supervisor."""

    __tablename__ = "exchange_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[SuspensionStatus] = mapped_column(default=SuspensionStatus.proposed, index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    lifted_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()

"""What members, warehouse staff and exchange staff send to the exchange, and what they get back. Prices
are typed in yuan per kg and kept in fen; quantities are whole lots (an instrument says how many kg a lot
is); weights are kg."""

from datetime import time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.schemas import Text
from app.auth import current_actor
from app.catalog.schemas import PRICE_RANGE, Yuan
from app.db import utcnow
from app.exchange.instruments import price_range
from app.exchange.matching import TimeInForce
from app.exchange.models import Side, TradingMode
from app.i18n import current_language
from app.live.schemas import LocalDateTime
from app.web import ID_RANGE

_LOTS = validate.Range(min=1, max=100_000, error=_l("Between 1 and 100,000 lots."))
_KG = validate.Range(min=1, max=10_000_000, error=_l("Between 1 and 10,000,000 kg."))
_MONEY = validate.Range(
    min=1, max=10_000_000_000, error=_l("Must be more than ¥0 and at most ¥100,000,000.")
)
_SYMBOL = validate.Regexp(r"^[A-Za-z0-9-]{2,20}$", error=_l("2 to 20 letters, digits or hyphens."))


class PlaceExchangeOrderSchema(Schema):
    symbol = Text(required=True, validate=_SYMBOL, metadata={"example": "CUIYA-S"})
    side = fields.Enum(Side, required=True, metadata={"description": "buy or sell"})
    price_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Limit price per kg, yuan."}
    )
    lots = fields.Integer(required=True, validate=_LOTS)
    time_in_force = fields.Enum(
        TimeInForce,
        load_default=TimeInForce.gtc,
        metadata={
            "description": "gtc (good till cancelled: the rest rests) or ioc (immediate or cancel)"
        },
    )
    receipt_id = fields.Integer(
        load_default=None,
        validate=ID_RANGE,
        metadata={
            "description": "A sell order's warehouse receipt (the part sold is split off it)."
        },
    )

    @validates_schema
    def _sell_names_a_receipt(self, data, **_kwargs) -> None:
        if data.get("side") == Side.sell and data.get("receipt_id") is None:
            raise ValidationError(
                _("A sell order names the warehouse receipt it sells."), "receipt_id"
            )


class PlaceOrderForm(PlaceExchangeOrderSchema):
    """The order entry form: the key it was drawn with makes a double click one order."""

    idempotency_key = Text(
        load_default=None, validate=[validate.Length(min=1, max=80), validate.Regexp(r"^[^:]+$")]
    )


class ExchangeOrderListQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "all"]))


class AmountSchema(Schema):
    amount_yuan = Yuan(required=True, validate=_MONEY)


class IssueReceiptSchema(Schema):
    holder_id = fields.Integer(
        required=True, validate=ID_RANGE, metadata={"description": "The depositor."}
    )
    product_id = fields.Integer(required=True, validate=ID_RANGE)
    grade_id = fields.Integer(required=True, validate=ID_RANGE)
    net_kg = fields.Integer(required=True, validate=_KG)
    packages = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))
    batch_code = Text(load_default="", validate=validate.Length(max=40))
    inspection = Text(load_default="", validate=validate.Length(max=2000))


class SplitSchema(Schema):
    kg = fields.Integer(required=True, validate=_KG)


class MergeSchema(Schema):
    receipt_ids = fields.List(
        fields.Integer(validate=ID_RANGE),
        required=True,
        validate=validate.Length(min=2, max=50, error=_l("Choose 2 to 50 receipts.")),
    )


class PledgeSchema(Schema):
    lender = Text(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "Who lends against the receipt (a bank, say)."},
    )
    loan_reference = Text(required=True, validate=validate.Length(min=1, max=60))
    amount_yuan = Yuan(
        required=True, validate=_MONEY, metadata={"description": "The loan, in yuan."}
    )
    until = fields.Date(required=True, metadata={"description": "When the loan falls due."})


class ListLotSchema(Schema):
    symbol = Text(required=True, validate=_SYMBOL)
    receipt_id = fields.Integer(required=True, validate=ID_RANGE)
    price_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Per kg, yuan."}
    )
    lots = fields.Integer(required=True, validate=_LOTS)
    min_lots = fields.Integer(load_default=1, validate=_LOTS)
    note = Text(load_default="", validate=validate.Length(max=200))


class TakeSchema(Schema):
    lots = fields.Integer(required=True, validate=_LOTS)


class TakeForm(TakeSchema):
    """A take or clock form: the key it was drawn with makes a double click one purchase."""

    idempotency_key = Text(
        load_default=None, validate=[validate.Length(min=1, max=80), validate.Regexp(r"^[^:]+$")]
    )


class AmountForm(AmountSchema):
    """The deposit forms: the key they were drawn with makes a double click one move of money."""

    idempotency_key = Text(
        load_default=None, validate=[validate.Length(min=1, max=80), validate.Regexp(r"^[^:]+$")]
    )


class CreateAuctionSchema(Schema):
    kind = fields.Enum(
        TradingMode,
        required=True,
        validate=validate.OneOf(
            [TradingMode.english, TradingMode.dutch], error=_l("english or dutch.")
        ),
    )
    symbol = Text(required=True, validate=_SYMBOL)
    receipt_id = fields.Integer(required=True, validate=ID_RANGE)
    lots = fields.Integer(required=True, validate=_LOTS)
    start_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Per kg, yuan."}
    )
    starts_at = LocalDateTime(required=True, metadata={"example": "2026-12-01T10:00"})
    # English
    ends_at = LocalDateTime(
        metadata={"description": "English: when bidding closes (late bids move it on)."}
    )
    increment_yuan = Yuan(
        validate=PRICE_RANGE, metadata={"description": "English: least step between bids."}
    )
    reserve_yuan = Yuan(
        validate=PRICE_RANGE, metadata={"description": "English: the least price that sells."}
    )
    extend_seconds = fields.Integer(
        load_default=120,
        validate=validate.Range(min=0, max=1800, error=_l("Between 0 and 1,800 seconds.")),
        metadata={
            "description": "English: a bid this close to the end moves the end on by as much."
        },
    )
    # Dutch
    step_yuan = Yuan(
        validate=PRICE_RANGE, metadata={"description": "Dutch: how far the price falls each step."}
    )
    interval_seconds = fields.Integer(
        validate=validate.Range(min=5, max=3600, error=_l("Between 5 and 3,600 seconds.")),
        metadata={"description": "Dutch: seconds between steps."},
    )
    floor_yuan = Yuan(
        validate=PRICE_RANGE, metadata={"description": "Dutch: the clock stops here."}
    )

    @validates_schema
    def _terms_of_the_kind(self, data, **_kwargs) -> None:
        needed = {
            TradingMode.english: ("ends_at", "increment_yuan"),
            TradingMode.dutch: ("step_yuan", "interval_seconds", "floor_yuan"),
        }.get(data.get("kind"), ())
        missing = {
            name: [_("Required for this kind of auction.")]
            for name in needed
            if data.get(name) is None
        }
        if missing:
            raise ValidationError(missing)


class BidSchema(Schema):
    price_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Per kg, yuan."}
    )


class CandleQuery(Schema):
    interval = fields.String(
        load_default="1h",
        validate=validate.OneOf(["5m", "1h", "1d"], error=_l("One of 5m, 1h, 1d.")),
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class TradeListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class PostTenderSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=120))
    product_id = fields.Integer(required=True, validate=ID_RANGE)
    grade_id = fields.Integer(required=True, validate=ID_RANGE)
    kg = fields.Integer(required=True, validate=_KG)
    max_price_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Per kg, yuan."}
    )
    delivery_on = fields.Date(required=True)
    window_start = fields.Time(required=True, metadata={"example": "06:00"})
    window_end = fields.Time(required=True, metadata={"example": "06:30"})
    delivery_point = Text(required=True, validate=validate.Length(min=1, max=200))
    closes_at = LocalDateTime(required=True, metadata={"example": "2026-12-01T17:00"})
    note = Text(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "Quality asked for."},
    )


class TenderBidSchema(Schema):
    listing_id = fields.Integer(
        required=True,
        validate=ID_RANGE,
        metadata={"description": "Your listing the contract will be for."},
    )
    price_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Per kg, yuan."}
    )


class IndexQuery(Schema):
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=1000))


def in_fen(data: dict) -> dict:
    """Typed prices (`*_yuan`, already exact fen) under the names the services take (`*_fen`)."""
    return {
        (name.removesuffix("_yuan") + "_fen" if name.endswith("_yuan") else name): value
        for name, value in data.items()
    }


# --- what comes back ---------------------------------------------------------------------------------


class CreateInstrumentSchema(Schema):
    symbol = Text(required=True, validate=_SYMBOL)
    product_id = fields.Integer(required=True, validate=ID_RANGE)
    grade_id = fields.Integer(required=True, validate=ID_RANGE)
    packaging = Text(required=True, validate=validate.Length(min=1, max=60))
    tick_yuan = Yuan(
        required=True, validate=PRICE_RANGE, metadata={"description": "Price step per kg."}
    )
    lot_kg = fields.Integer(required=True, validate=_KG)
    previous_close_yuan = Yuan(
        required=True,
        validate=PRICE_RANGE,
        metadata={"description": "The first day's reference price."},
    )
    band_bps = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10_000))
    daily_limit_bps = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10_000))
    fee_bps = fields.Integer(load_default=30, validate=validate.Range(min=0, max=1000))
    modes = fields.List(
        fields.Enum(TradingMode),
        load_default=None,
        validate=validate.Length(min=1, error=_l("Enable at least one trading mode.")),
        metadata={"description": "Listing and auctions unless told; matching only when named."},
    )
    trading_days = fields.String(load_default="12345", validate=validate.Regexp(r"^[1-7]{1,7}$"))
    opens_at = fields.Time(load_default=time(9, 0))
    closes_at = fields.Time(load_default=time(15, 0))

    @validates_schema
    def _hours(self, data, **_kwargs) -> None:
        if data["opens_at"] >= data["closes_at"]:
            raise ValidationError(_("The market must open before it closes."), "closes_at")


def instrument_name(instrument) -> str:
    language = current_language()
    return f"{instrument.product.name(language)} {instrument.grade.name(language)}"


class InstrumentSchema(Schema):
    symbol = fields.String()
    name = fields.Function(
        instrument_name, metadata={"description": "Product and grade, in the caller's language."}
    )
    packaging = fields.String()
    modes = fields.List(fields.String())
    tick_fen = fields.Integer()
    lot_kg = fields.Integer()
    band_bps = fields.Integer()
    daily_limit_bps = fields.Integer()
    fee_bps = fields.Integer()
    settlement_days = fields.Integer()
    trading_days = fields.String(metadata={"description": "ISO weekdays, 1 = Monday"})
    opens_at = fields.Time()
    closes_at = fields.Time()
    previous_close_fen = fields.Integer()
    last_price_fen = fields.Integer(allow_none=True)
    halted = fields.Boolean()
    halt_reason = fields.String()
    low_fen = fields.Function(
        lambda instrument: price_range(instrument)[0],
        metadata={"description": "The lowest price an order may carry now."},
    )
    high_fen = fields.Function(
        lambda instrument: price_range(instrument)[1],
        metadata={"description": "The highest price an order may carry now."},
    )


class ExchangeOrderSchema(Schema):
    id = fields.Integer()
    symbol = fields.Function(lambda order: order.instrument.symbol)
    side = fields.String()
    price_fen = fields.Integer()
    lots = fields.Integer()
    open_lots = fields.Integer()
    filled_lots = fields.Integer()
    time_in_force = fields.String()
    status = fields.String()
    reserved_fen = fields.Integer()
    receipt_id = fields.Integer(allow_none=True)
    seq = fields.Integer()
    created_at = fields.DateTime()


class PublicTradeSchema(Schema):
    """A trade as the market sees it: no names."""

    id = fields.Integer()
    symbol = fields.Function(lambda trade: trade.instrument.symbol)
    mode = fields.String()
    price_fen = fields.Integer()
    lots = fields.Integer()
    kg = fields.Integer()
    executed_at = fields.DateTime()


class TradeSchema(PublicTradeSchema):
    """A trade as its buyer or seller sees it: the money, the orders, when the seller is paid."""

    value_fen = fields.Integer()
    fee_fen = fields.Integer()
    buy_order_id = fields.Integer(allow_none=True)
    sell_order_id = fields.Integer(allow_none=True)
    settle_due_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)


class PlacedSchema(Schema):
    order = fields.Nested(ExchangeOrderSchema)
    trades = fields.List(fields.Nested(TradeSchema))


class LevelSchema(Schema):
    price_fen = fields.Integer()
    lots = fields.Integer()
    orders = fields.Integer()


class BookSchema(Schema):
    symbol = fields.String()
    bids = fields.List(
        fields.Nested(LevelSchema), metadata={"description": "Best (highest) first."}
    )
    asks = fields.List(fields.Nested(LevelSchema), metadata={"description": "Best (lowest) first."})
    last_price_fen = fields.Integer(allow_none=True)


class CandleSchema(Schema):
    starts_at = fields.DateTime()
    open_fen = fields.Integer()
    high_fen = fields.Integer()
    low_fen = fields.Integer()
    close_fen = fields.Integer()
    kg = fields.Integer()
    value_fen = fields.Integer()


class DepositSchema(Schema):
    free_fen = fields.Integer(
        metadata={"description": "Free to back new bids and orders, or to withdraw."}
    )
    reserved_fen = fields.Integer(metadata={"description": "Backing open bids and buy orders."})
    wallet_fen = fields.Integer(
        metadata={"description": "In the platform wallet, to fund the deposit from."}
    )


class ClosedDaySchema(Schema):
    day = fields.Date()
    name = fields.String()


class PledgeOutSchema(Schema):
    lender = fields.String()
    loan_reference = fields.String()
    amount_fen = fields.Integer()
    until = fields.Date()
    pledged_at = fields.DateTime()


class ReceiptSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    holder_id = fields.Integer()
    warehouse_id = fields.Integer()
    product_id = fields.Integer()
    grade_id = fields.Integer()
    batch_code = fields.Function(lambda receipt: receipt.batch.code if receipt.batch else None)
    net_kg = fields.Integer()
    packages = fields.Integer()
    inspection = fields.String()
    status = fields.String()
    parent_id = fields.Integer(allow_none=True)
    issued_at = fields.DateTime()
    pledge = fields.Nested(
        PledgeOutSchema,
        allow_none=True,
        metadata={"description": "While it is pledged: to whom, for what loan, until when."},
    )


class LotSchema(Schema):
    id = fields.Integer()
    symbol = fields.Function(lambda lot: lot.instrument.symbol)
    seller_id = fields.Integer()
    price_fen = fields.Integer()
    lots = fields.Integer()
    open_lots = fields.Integer()
    min_lots = fields.Integer()
    status = fields.String()
    note = fields.String()
    created_at = fields.DateTime()


class BidOutSchema(Schema):
    """A bid as anyone sees it: its place, price and time; who made it only to that bidder."""

    seq = fields.Integer()
    price_fen = fields.Integer()
    placed_at = fields.DateTime()
    yours = fields.Function(lambda bid: bid.bidder_id == current_actor().organisation_id)


class AuctionSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    symbol = fields.Function(lambda auction: auction.instrument.symbol)
    seller_id = fields.Integer()
    lots = fields.Integer()
    open_lots = fields.Integer()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    status = fields.String()
    start_fen = fields.Integer()
    increment_fen = fields.Integer()
    reserve_met = fields.Function(
        lambda auction: (
            auction.leading_fen is not None and auction.leading_fen >= auction.reserve_fen
        )
    )
    extend_seconds = fields.Integer()
    step_fen = fields.Integer()
    interval_seconds = fields.Integer()
    floor_fen = fields.Integer()
    leading_fen = fields.Integer(allow_none=True)
    you_lead = fields.Function(
        lambda auction: (
            auction.leader_id is not None and auction.leader_id == current_actor().organisation_id
        ),
        metadata={
            "description": "Whether the caller's organisation leads (bidders stay anonymous)."
        },
    )
    bid_count = fields.Integer()
    price_now_fen = fields.Function(
        lambda auction: auction.price_at(utcnow()) if auction.kind == TradingMode.dutch else None,
        metadata={"description": "Dutch: the clock's price now."},
    )


class TenderSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    buyer_id = fields.Integer()
    product_id = fields.Integer()
    grade_id = fields.Integer()
    kg = fields.Integer()
    max_price_fen = fields.Integer()
    delivery_on = fields.Date()
    window_start = fields.Time()
    window_end = fields.Time()
    delivery_point = fields.String()
    note = fields.String()
    closes_at = fields.DateTime()
    status = fields.String()
    bid_count = fields.Integer()
    lowest_fen = fields.Integer(
        allow_none=True, metadata={"description": "The best bid so far, per kg."}
    )
    contract_id = fields.Integer(
        allow_none=True, metadata={"description": "The award's order contract."}
    )


class TenderBidOutSchema(Schema):
    id = fields.Integer()
    tender_id = fields.Integer()
    listing_id = fields.Integer()
    price_fen = fields.Integer()
    won = fields.Boolean()
    placed_at = fields.DateTime()


class IndexPointSchema(Schema):
    day = fields.Date()
    vwap_fen = fields.Integer(
        metadata={"description": "Volume-weighted average price per kg that day."}
    )
    kg = fields.Integer()
    points = fields.Function(
        lambda row: row.points / 100, metadata={"description": "100.00 on base_day."}
    )
    base_day = fields.Date()


class AuctionDetailSchema(AuctionSchema):
    bids = fields.List(fields.Nested(BidOutSchema), metadata={"description": "Newest first."})

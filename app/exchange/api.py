"""JSON API for the tea exchange: market data (instruments, book, trades, candles), limit orders, the
member's deposit and warehouse receipts. The venues (lots, auctions, tenders, the index) are in venue_api."""

from flask_babel import gettext as _

from app.auth import (
    EXCHANGE_MEMBERS,
    MEMBER,
    PUBLIC,
    WAREHOUSE_STAFF,
    OrgKind,
    current_actor,
    requires,
)
from app.db import get_session, local_date, transaction, utcnow
from app.errors import NotFound
from app.exchange import (
    deposits,
    grouped,
    instruments,
    pledges,
    queries,
    receipts,
    settlement,
    trading,
)
from app.exchange.models import ExchangeOrder, Receipt, Trade
from app.exchange.schemas import (
    AmountSchema,
    BookSchema,
    CandleQuery,
    CandleSchema,
    ClosedDaySchema,
    DepositSchema,
    ExchangeOrderListQuery,
    ExchangeOrderSchema,
    InstrumentSchema,
    IssueReceiptSchema,
    MergeSchema,
    PlacedSchema,
    PlaceExchangeOrderSchema,
    PledgeSchema,
    PublicTradeSchema,
    ReceiptSchema,
    SplitSchema,
    TradeListQuery,
    TradeSchema,
)
from app.orders.api import IDEMPOTENCY_KEY, idempotency_key
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "exchange_api",
    __name__,
    url_prefix="/api/v1/exchange",
    description="The tea exchange (遵义茶叶交易中心): market data, orders, deposits, warehouse receipts.",
)


def as_member(service, model, *, acting_as: str = "organisation_id", **values):
    """A member's step, in one transaction, as the signed-in person for their organisation (passed as
    `acting_as`: the member, the holder, the warehouse); what it made or changed, read afresh."""
    actor = current_actor()
    with transaction() as write:
        acting = {acting_as: actor.organisation_id}
        made = service(write, **acting, actor_id=actor.user_id, **values)
    return get_session().get(model, made.id)


@blp.route("/instruments", methods=["GET"])
@blp.response(200, InstrumentSchema(many=True))
@requires(PUBLIC)
def instruments_index():
    """Every instrument with its rules, last price and the price range an order may carry now."""
    return [row["instrument"] for row in queries.overview(get_session(), utcnow())]


@blp.route("/calendar", methods=["GET"])
@blp.response(200, ClosedDaySchema(many=True))
@requires(PUBLIC)
def calendar():
    """The days the exchange is closed from today on (no instrument trades on them)."""
    return instruments.closed_days(get_session(), after=local_date(utcnow()))


@blp.route("/instruments/<symbol>", methods=["GET"])
@blp.response(200, InstrumentSchema)
@requires(PUBLIC)
def instrument_detail(symbol: str):
    """One instrument's rules and state."""
    return instruments.instrument_by_symbol(get_session(), symbol)


@blp.route("/instruments/<symbol>/book", methods=["GET"])
@blp.response(200, BookSchema)
@requires(PUBLIC)
def book(symbol: str):
    """Order book depth: the best ten price levels of each side, with lots and orders at each."""
    reads = get_session()
    return queries.book(reads, instruments.instrument_by_symbol(reads, symbol))


@blp.route("/instruments/<symbol>/trades", methods=["GET"])
@blp.arguments(TradeListQuery, location="query")
@blp.response(200, PublicTradeSchema(many=True))
@requires(PUBLIC)
def trades(query, symbol: str):
    """The instrument's latest trades in every mode, newest first (no names)."""
    reads = get_session()
    instrument = instruments.instrument_by_symbol(reads, symbol)
    return queries.recent_trades(reads, instrument.id, query["limit"])


@blp.route("/instruments/<symbol>/candles", methods=["GET"])
@blp.arguments(CandleQuery, location="query")
@blp.response(200, CandleSchema(many=True))
@requires(PUBLIC)
def candles(query, symbol: str):
    """Open, high, low, close and volume per interval (5m, 1h, 1d; China time), oldest first."""
    reads = get_session()
    instrument = instruments.instrument_by_symbol(reads, symbol)
    return queries.candles(reads, instrument.id, now=utcnow(), **query)


# --- orders (continuous matching) --------------------------------------------------------------------


@blp.route("/orders", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(PlaceExchangeOrderSchema)
@blp.response(201, PlacedSchema)
@blp.alt_response(200, schema=PlacedSchema, description="A replay of an Idempotency-Key.")
@requires(EXCHANGE_MEMBERS)
def place(data):
    """Place a limit order: it trades at once at resting prices, and what is left rests (gtc) or is
    cancelled (ioc). A buy's money is reserved from the deposit; a sell offers part of a receipt."""
    key = idempotency_key()
    actor = current_actor()
    price_fen = data.pop("price_yuan")
    placed = grouped.place(actor, price_fen=price_fen, idempotency_key=key, **data)
    if placed is not None:
        return {"order": placed.order, "trades": placed.trades}, 201
    with transaction() as write:
        placed = trading.place_order(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            price_fen=price_fen,
            idempotency_key=key,
            **data,
        )
    reads = get_session()
    result = {
        "order": reads.get(ExchangeOrder, placed.order.id),
        "trades": [reads.get(Trade, trade.id) for trade in placed.trades],
    }
    return result, 200 if placed.replayed else 201


@blp.route("/orders", methods=["GET"])
@blp.arguments(ExchangeOrderListQuery, location="query")
@blp.response(200, ExchangeOrderSchema(many=True))
@requires(EXCHANGE_MEMBERS)
def orders_index(query):
    """Your orders: open ones (the default) or all, newest first."""
    actor = current_actor()
    return queries.orders_of(
        get_session(), actor.organisation_id, open_only=query["status"] == "open"
    )


@blp.route("/orders/<int:order_id>", methods=["GET"])
@blp.response(200, ExchangeOrderSchema)
@requires(EXCHANGE_MEMBERS)
def order_detail(order_id: int):
    """One of your orders."""
    order = get_session().get(ExchangeOrder, order_id)
    if order is None or order.organisation_id != current_actor().organisation_id:
        raise NotFound(_("You have no such order."))
    return order


@blp.route("/orders/<int:order_id>", methods=["DELETE"])
@blp.response(200, ExchangeOrderSchema)
@requires(EXCHANGE_MEMBERS)
def cancel(order_id: int):
    """Cancel an open order: what it still reserved, or its receipt, is free again."""
    return as_member(trading.cancel_order, ExchangeOrder, order_id=order_id)


@blp.route("/trades", methods=["GET"])
@blp.response(200, TradeSchema(many=True))
@requires(EXCHANGE_MEMBERS)
def my_trades():
    """Your trades in every mode, newest first, with when each settles."""
    return queries.trades_of(get_session(), current_actor().organisation_id)


# --- the deposit -------------------------------------------------------------------------------------


@blp.route("/deposit", methods=["GET"])
@blp.response(200, DepositSchema)
@requires(EXCHANGE_MEMBERS)
def deposit():
    """Your exchange deposit: what is free, what backs open bids and orders, and your wallet."""
    return deposits.deposit_of(get_session(), current_actor().organisation_id)


@blp.route("/deposit/fund", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(AmountSchema)
@blp.response(200, DepositSchema)
@requires(EXCHANGE_MEMBERS)
def fund(data):
    """Move money from your platform wallet into your exchange deposit."""
    return _deposit_step(deposits.fund_deposit, data)


@blp.route("/deposit/withdraw", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(AmountSchema)
@blp.response(200, DepositSchema)
@requires(EXCHANGE_MEMBERS)
def withdraw(data):
    """Move free deposit money back to your platform wallet."""
    return _deposit_step(deposits.withdraw_deposit, data)


def _deposit_step(step, data):
    actor = current_actor()
    with transaction() as write:
        return step(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            amount_fen=data["amount_yuan"],
            idempotency_key=idempotency_key(),
        )


# --- receipts ------------------------------------------------------------------------------------------


@blp.route("/receipts", methods=["GET"])
@blp.response(200, ReceiptSchema(many=True))
@requires(MEMBER)
def receipts_index():
    """Your live receipts; for a warehouse, every live receipt it issued."""
    actor = current_actor()
    warehouse = actor.kind == OrgKind.warehouse
    return queries.receipts_of(get_session(), actor.organisation_id, warehouse=warehouse)


@blp.route("/receipts", methods=["POST"])
@blp.arguments(IssueReceiptSchema)
@blp.response(201, ReceiptSchema)
@requires(WAREHOUSE_STAFF)
def issue(data):
    """Issue a warehouse receipt to a depositor for tea weighed and graded in."""
    return as_member(receipts.issue_receipt, Receipt, acting_as="warehouse_id", **data)


@blp.route("/receipts/<int:receipt_id>/split", methods=["POST"])
@blp.arguments(SplitSchema)
@blp.response(201, ReceiptSchema)
@requires(EXCHANGE_MEMBERS)
def split(data, receipt_id: int):
    """Split kilograms off a receipt you hold into a new receipt."""
    return as_member(
        receipts.split_receipt, Receipt, acting_as="holder_id", receipt_id=receipt_id, **data
    )


@blp.route("/receipts/merge", methods=["POST"])
@blp.arguments(MergeSchema)
@blp.response(200, ReceiptSchema)
@requires(EXCHANGE_MEMBERS)
def merge(data):
    """Merge receipts you hold of one product and grade in one warehouse into the first of them."""
    return as_member(receipts.merge_receipts, Receipt, acting_as="holder_id", **data)


@blp.route("/receipts/<int:receipt_id>/release", methods=["POST"])
@blp.response(200, ReceiptSchema)
@requires(WAREHOUSE_STAFF)
def release(receipt_id: int):
    """The holder has taken the tea out: the receipt is closed, and its trade pays the seller now."""
    return as_member(settlement.pick_up, Receipt, acting_as="warehouse_id", receipt_id=receipt_id)


@blp.route("/receipts/<int:receipt_id>/pledge", methods=["POST"])
@blp.arguments(PledgeSchema)
@blp.response(200, ReceiptSchema)
@requires(EXCHANGE_MEMBERS)
def pledge(data, receipt_id: int):
    """Pledge a receipt you hold, all of it, to a lender as security for a loan (仓单质押): until the
    warehouse discharges the pledge it cannot be offered, split, merged, taken out or pledged again."""
    return as_member(
        pledges.pledge_receipt,
        Receipt,
        acting_as="holder_id",
        receipt_id=receipt_id,
        amount_fen=data.pop("amount_yuan"),
        **data,
    )


@blp.route("/receipts/<int:receipt_id>/discharge", methods=["POST"])
@blp.response(200, ReceiptSchema)
@requires(WAREHOUSE_STAFF)
def discharge(receipt_id: int):
    """The lender has confirmed the loan repaid: the pledge ends and the receipt is its holder's again."""
    return as_member(
        pledges.discharge_pledge, Receipt, acting_as="warehouse_id", receipt_id=receipt_id
    )

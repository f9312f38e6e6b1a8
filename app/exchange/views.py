"""Exchange pages for traders and the public: the market overview, an instrument's page (chart, book,
trades, order entry, listed lots), the member's orders, trades and deposit."""

import json
import uuid

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import Schema

from app.auth import EXCHANGE_MEMBERS, PUBLIC, current_actor, requires
from app.db import get_session, local_date, utcnow
from app.exchange import deposits, index, instruments, lots, queries, trading
from app.exchange.models import MODE_LABELS, RECEIPT_LABELS, ReceiptStatus, TradingMode
from app.exchange.schemas import (
    AmountForm,
    AmountSchema,
    PlaceExchangeOrderSchema,
    PlaceOrderForm,
    TakeForm,
    instrument_name,
)
from app.forms import Form, post_step
from app.i18n import money

bp = Blueprint("exchange", __name__)


@bp.app_template_global()
def mode_label(mode: str) -> str:
    return _(MODE_LABELS[TradingMode(mode)])


@bp.app_template_global()
def receipt_status_label(status: str) -> str:
    return _(RECEIPT_LABELS[ReceiptStatus(status)])


bp.add_app_template_global(instrument_name, "instrument_name")


@bp.app_template_global()
def new_key() -> str:
    """A fresh idempotency key for a form that moves money or tea: a double click sends the same one."""
    return uuid.uuid4().hex


@bp.route("/exchange")
@requires(PUBLIC)
def market():
    """Every instrument with its last price, change and volume today; lots listed now; auctions."""
    reads = get_session()
    now = utcnow()
    actor = current_actor()
    member = EXCHANGE_MEMBERS.refusal(actor) is None
    return render_template(
        "exchange/market.html",
        overview=queries.overview(reads, now),
        lots=queries.open_lots(reads),
        auctions=[a for a in queries.auctions_list(reads, now=now) if a.status == "open"],
        deposit=deposits.deposit_of(reads, actor.organisation_id) if member else None,
    )


@bp.route("/exchange/<symbol>")
@requires(PUBLIC)
def instrument(symbol: str):
    """One instrument: price chart, book depth, latest trades, rules; order entry and lots to take."""
    reads = get_session()
    found = instruments.instrument_by_symbol(reads, symbol)
    now = utcnow()
    actor = current_actor()
    member = EXCHANGE_MEMBERS.refusal(actor) is None
    chart = queries.candles(reads, found.id, interval="1h", limit=72, now=now)
    history = index.index_history(reads, found.product_id, found.grade_id)
    return render_template(
        "exchange/instrument.html",
        instrument=found,
        book=queries.book(reads, found),
        trades=queries.recent_trades(reads, found.id, 20),
        lots=queries.open_lots(reads, found.id),
        price_range=instruments.price_range(found),
        in_session=instruments.in_session(found, now),
        days=instruments.days_text(found.trading_days),
        closed_days=instruments.closed_days(reads, after=local_date(now))[:3],
        chart_data=json.dumps(_chart(chart)),
        index_rows=list(reversed(history))[:7],
        index_data=json.dumps(
            {
                "labels": [row.day.isoformat() for row in history],
                "points": [row.points / 100 for row in history],
                "name": _("Price index (base day = 100)"),
            }
        ),
        mode_names=json.dumps({mode.value: _(label) for mode, label in MODE_LABELS.items()}),
        member=member,
        receipt_options=[
            (receipt.id, f"{receipt.number} · {receipt.net_kg} kg")
            for receipt in (_sellable(reads, actor.organisation_id, found) if member else [])
        ],
        deposit=deposits.deposit_of(reads, actor.organisation_id) if member else None,
        form=Form(PlaceExchangeOrderSchema(), values={"symbol": found.symbol, "lots": 1}),
        idempotency_key=uuid.uuid4().hex,
    )


def _chart(candles: list[dict]) -> dict:
    return {
        "labels": [candle["starts_at"].strftime("%m-%d %H:%M") for candle in candles],
        "close": [candle["close_fen"] / 100 for candle in candles],
        "high": [candle["high_fen"] / 100 for candle in candles],
        "low": [candle["low_fen"] / 100 for candle in candles],
        "kg": [candle["kg"] for candle in candles],
        "names": {"close": _("Close"), "range": _("High–low"), "kg": _("Volume (kg)")},
    }


def _sellable(reads, organisation_id, found) -> list:
    """The member's held receipts of the instrument's tea (what a sell order or a listing can use)."""
    return [
        receipt
        for receipt in queries.receipts_of(reads, organisation_id)
        if receipt.status == ReceiptStatus.held
        and (receipt.product_id, receipt.grade_id) == (found.product_id, found.grade_id)
    ]


@bp.route("/exchange/orders", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def place():
    """Order entry on the instrument page; the page says what traded, what rests, or why not."""
    actor = current_actor()
    post_step(
        PlaceOrderForm(),
        lambda write, data: trading.place_order(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            price_fen=data.pop("price_yuan"),
            **data,
        ),
        _placed_message,
    )
    symbol = request.form.get("symbol", "").strip()
    return redirect(
        url_for("exchange.instrument", symbol=symbol) if symbol else url_for("exchange.market")
    )


def _placed_message(placed) -> str:
    order = placed.order
    traded = sum(trade.lots for trade in placed.trades)
    text = _(
        "Order %(id)d: %(traded)d of %(lots)d lots traded, %(open)d resting on the book.",
        id=order.id,
        traded=traded,
        lots=order.lots,
        open=order.open_lots,
    )
    if order.status == "cancelled":
        text += " " + _(
            "The rest was cancelled (immediate-or-cancel, or it would have traded with your own order)."
        )
    return text


@bp.route("/exchange/orders/<int:order_id>/cancel", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def cancel(order_id: int):
    """Cancel an open order from the orders page."""
    actor = current_actor()
    post_step(
        Schema(),  # a button: nothing to read, only a refusal to report
        lambda write, _data: trading.cancel_order(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, order_id=order_id
        ),
        lambda _done: _("Order %(id)d cancelled; what it held is free again.", id=order_id),
    )
    return redirect(url_for("exchange.orders"))


@bp.route("/exchange/lots/<int:lot_id>/take", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def take(lot_id: int):
    """Take lots of a listing (摘牌) from the instrument or market page."""
    return buy_from_form(lots.take_lot, url_for("exchange.orders"), lot_id=lot_id)


def buy_from_form(service, back: str, **values):
    """A take or a clock stop from a page: the buyer is told what it bought, or why it could not."""
    actor = current_actor()
    post_step(
        TakeForm(),
        lambda write, data: service(
            write, organisation_id=actor.organisation_id, actor_id=actor.user_id, **values, **data
        ),
        lambda trade: _(
            "Bought %(kg)d kg at %(price)s per kg for %(total)s; the receipt is yours.",
            kg=trade.kg,
            price=money(trade.price_fen),
            total=money(trade.value_fen),
        ),
    )
    return redirect(back)


@bp.route("/exchange/mine")
@requires(EXCHANGE_MEMBERS)
def orders():
    """The member's deposit, open and past orders, and trades with when each settles."""
    reads = get_session()
    organisation_id = current_actor().organisation_id
    return render_template(
        "exchange/orders.html",
        deposit=deposits.deposit_of(reads, organisation_id),
        open_orders=queries.orders_of(reads, organisation_id, open_only=True),
        past_orders=[
            o
            for o in queries.orders_of(reads, organisation_id, open_only=False)
            if o.status != "open"
        ],
        trades=queries.trades_of(reads, organisation_id),
        organisation_id=organisation_id,
        form=Form(AmountSchema()),
    )


@bp.route("/exchange/deposit/<direction>", methods=["POST"])
@requires(EXCHANGE_MEMBERS)
def move_deposit(direction: str):
    """Fund the deposit from the wallet, or withdraw what is free back to it."""
    step = {"fund": deposits.fund_deposit, "withdraw": deposits.withdraw_deposit}.get(direction)
    if step is None:
        abort(404)
    actor = current_actor()
    post_step(
        AmountForm(),
        lambda write, data: step(
            write,
            organisation_id=actor.organisation_id,
            actor_id=actor.user_id,
            amount_fen=data["amount_yuan"],
            idempotency_key=data["idempotency_key"] or uuid.uuid4().hex,
        ),
        lambda done: _("Deposit updated: %(free)s free.", free=money(done.free_fen)),
    )
    return redirect(url_for("exchange.orders"))

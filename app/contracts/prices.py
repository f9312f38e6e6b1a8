"""The price of one instalment under its contract's price rule, and where that price came from.

The market price of a product and grade on a day is the last spot trade before the end of that day: the
price of the most recently accepted order line for the same product, grade and unit, not counting orders that
contracts made (their prices follow the market; counting them would make the market follow them). The tea
exchange's daily price index, when it exists for the grade, comes first.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import GradePriceIndex, Listing, Unit
from app.contracts.models import Instalment
from app.contracts.terms import PriceRule
from app.db import LOCAL_TIME
from app.i18n import money
from app.orders.models import Order, OrderLine, OrderStatus

_TRADED = (OrderStatus.accepted, OrderStatus.completed, OrderStatus.resolved)


@dataclass(frozen=True)
class Price:
    fen: int
    source: (
        str  # a code price_source_label() reads: "fixed", "floor", "trade:<order>:<fen>:<day>", ...
    )


@dataclass(frozen=True)
class Trade:
    order_id: int
    price_fen: int
    day: date


def last_trade(session: Session, listing: Listing, day: date) -> Trade | None:
    """The last spot trade of the listing's product, grade and unit accepted by the end of `day`."""
    end = datetime.combine(day + timedelta(days=1), time(), LOCAL_TIME)
    row = session.execute(
        select(Order.id, OrderLine.price_fen, Order.accepted_at)
        .join(OrderLine.order)
        .join(OrderLine.listing)
        .outerjoin(Instalment, Instalment.order_id == Order.id)
        .where(
            Listing.product_id == listing.product_id,
            Listing.grade_id == listing.grade_id,
            OrderLine.unit_code == listing.unit_code,
            Order.status.in_(_TRADED),
            Order.accepted_at < end,
            Instalment.id.is_(None),
        )
        .order_by(Order.accepted_at.desc(), Order.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Trade(row.id, row.price_fen, row.accepted_at.astimezone(LOCAL_TIME).date())


def index_price(session: Session, listing: Listing, day: date) -> tuple[int, date] | None:
    """The exchange's latest daily index price for the listing's product and grade up to `day`, per unit of
    the listing (the index is per kg), and the day it is of."""
    row = session.execute(
        select(GradePriceIndex.vwap_fen, GradePriceIndex.day, Unit.grams)
        .join(Unit, Unit.code == listing.unit_code)
        .where(
            GradePriceIndex.product_id == listing.product_id,
            GradePriceIndex.grade_id == listing.grade_id,
            GradePriceIndex.day <= day,
        )
        .order_by(GradePriceIndex.day.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return (row.vwap_fen * row.grams + 500) // 1000, row.day


def instalment_price(session: Session, terms: dict, listing: Listing, day: date) -> Price:
    """The price per unit for a delivery on `day` under `terms`: the exchange's index for the grade when
    there is one, else the last spot trade."""
    rule, floor = terms["price_rule"], terms["price_fen"]
    if rule == PriceRule.fixed:
        return Price(floor, "fixed")
    indexed = index_price(session, listing, day)
    if indexed is not None:
        market, kind = indexed[0], "index"
        source = f"{indexed[0]}:{indexed[1].isoformat()}"
    else:
        trade = last_trade(session, listing, day)
        if trade is None:
            return Price(floor, "floor:no_market")
        market, kind = trade.price_fen, "trade"
        source = f"{trade.order_id}:{trade.price_fen}:{trade.day.isoformat()}"
    if rule == PriceRule.market_linked:
        market = (market * (10_000 + terms["market_adjust_bps"]) + 5_000) // 10_000
    if market <= floor:
        return Price(floor, f"floor:above_{kind}:{source}")
    return Price(market, f"{kind}:{source}")


def price_source_label(code: str) -> str:
    """Where an instalment's price came from, for a person."""
    if not code:
        return ""
    kind, _sep, rest = code.partition(":")
    if kind == "fixed":
        return _("fixed price")
    if rest == "no_market":
        return _("floor price: no market trade yet")
    if kind == "index" or rest.startswith("above_index:"):
        price_fen, day = rest.removeprefix("above_index:").split(":")
        index = _(
            "the exchange's price index %(price)s on %(day)s", price=money(int(price_fen)), day=day
        )
        if kind == "floor":
            return _("floor price, above the market: %(trade)s", trade=index)
        return _("market price: %(trade)s", trade=index)
    order_id, price_fen, day = rest.removeprefix("above_trade:").split(":")
    trade = _(
        "last trade %(price)s on %(day)s (order #%(order)s)",
        price=money(int(price_fen)),
        day=day,
        order=order_id,
    )
    if kind == "floor":
        return _("floor price, above the market: %(trade)s", trade=trade)
    return _("market price: %(trade)s", trade=trade)

"""Demo tea exchange: China Tea City's warehouse has issued receipts to the Longfeng tea cooperative and the
Qianbei tea trader; spring Cuiya trades by listing and auction (a listed lot, an English auction with a bid,
a Dutch clock about to start); Zunyi Black grade 1 also matches continuously, with three days of trades
behind it and orders on its book."""

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Organisation
from app.catalog.models import Batch, Grade, Listing, Product
from app.db import LOCAL_TIME, local_date, utcnow
from app.demo.orders import SCHOOL, SUPERMARKET, owner
from app.exchange import (
    auctions,
    deposits,
    index,
    instruments,
    lots,
    pledges,
    receipts,
    tenders,
    trading,
)
from app.exchange.matching import TimeInForce
from app.exchange.models import DEFAULT_MODES, Instrument, Side, TradingMode

TEA_COOP, TRADER, WAREHOUSE, EXCHANGE = 2, 11, 12, 13
# Zunyi Black's last three days, ¥/kg at 10:00, 11:00, 13:00 and 14:00.
HISTORY = [
    (3, [358.0, 359.5, 361.0, 360.5]),
    (2, [361.5, 363.0, 362.0, 364.5]),
    (1, [365.0, 364.0, 366.5, 367.0]),
]


def seed_exchange(session: Session, organisations: dict[int, Organisation]) -> int:
    """The demo's exchange, once (nothing is added if any instrument exists); how many trades."""
    if session.scalar(select(Instrument.id).limit(1)) is not None:
        return 0
    now = utcnow()
    coop, trader, market = (
        organisations[TEA_COOP],
        organisations[TRADER],
        organisations[SUPERMARKET],
    )
    officer = owner(session, organisations[EXCHANGE])
    cuiya = _instrument(
        session, officer, "CUIYA-S", "meitan_cuiya", "special", 80_000, DEFAULT_MODES
    )
    black = _instrument(
        session,
        officer,
        "ZYH-1",
        "zunyi_hong",
        "first",
        35_800,
        [*DEFAULT_MODES, TradingMode.matching],
    )
    cuiya_receipt = _receipt(session, organisations[WAREHOUSE], coop, cuiya, 200, now)
    black_receipt = _receipt(session, organisations[WAREHOUSE], coop, black, 200, now)
    trader_receipt = _receipt(session, organisations[WAREHOUSE], trader, black, 300, now)
    for organisation, yuan in ((trader, 60_000), (market, 45_000)):
        deposits.fund_deposit(
            session,
            organisation_id=organisation.id,
            actor_id=owner(session, organisation),
            amount_fen=yuan * 100,
            idempotency_key="demo",
        )
    _cuiya_offers(session, coop, trader, cuiya, cuiya_receipt, now)
    _pledged(session, organisations[WAREHOUSE], coop, cuiya, now)
    _holidays(session, officer, now)
    _school_tender(session, organisations[SCHOOL], coop, cuiya, now)
    return _black_market(session, coop, trader, market, black, black_receipt, trader_receipt, now)


def _instrument(session, officer, symbol, product_code, grade_code, close_fen, modes) -> Instrument:
    product = session.scalar(select(Product).where(Product.code == product_code))
    grade = session.scalar(
        select(Grade).where(Grade.scale_id == product.grade_scale_id, Grade.code == grade_code)
    )
    return instruments.create_instrument(
        session,
        actor_id=officer,
        symbol=symbol,
        product_id=product.id,
        grade_id=grade.id,
        packaging="250 克罐装，每箱 20 罐（5 千克）",
        tick_fen=50,
        lot_kg=5,
        previous_close_fen=close_fen,
        modes=modes,
        trading_days="1234567",
        opens_at=time(8, 0),
        closes_at=time(22, 0),
    )


def _receipt(session, warehouse, holder, instrument, kg, now):
    batch = session.scalar(
        select(Batch.code)
        .where(Batch.organisation_id == holder.id, Batch.product_id == instrument.product_id)
        .limit(1)
    )
    return receipts.issue_receipt(
        session,
        warehouse_id=warehouse.id,
        actor_id=owner(session, warehouse),
        holder_id=holder.id,
        product_id=instrument.product_id,
        grade_id=instrument.grade_id,
        net_kg=kg,
        packages=kg // 5,
        batch_code=batch or "",
        inspection="感官审评 93 分；水分 5.6%；农药残留 62 项未检出（贵州省茶叶质检中心）",
        now=now - timedelta(days=5),
    )


# The exchange's public holidays ahead (Spring Festival 2027 falls on 6 February).
HOLIDAYS = [
    (date(2027, 1, 1), "元旦"),
    *[(date(2027, 2, 5) + timedelta(days=n), "春节") for n in range(7)],
]


def _holidays(session, officer: int, now: datetime) -> None:
    for day, name in HOLIDAYS:
        if day > local_date(now):
            instruments.close_day(session, actor_id=officer, day=day, name=name, now=now)


def _pledged(session, warehouse, coop, cuiya, now) -> None:
    """Last autumn's Cuiya, pledged to the county's rural bank for a working-capital loan."""
    receipt = _receipt(session, warehouse, coop, cuiya, 120, now)
    pledges.pledge_receipt(
        session,
        holder_id=coop.id,
        actor_id=owner(session, coop),
        receipt_id=receipt.id,
        lender="湄潭县农村商业银行",
        loan_reference="MTNS-2026-0318",
        amount_fen=6_000_000,
        until=local_date(now) + timedelta(days=180),
        now=now,
    )


def _cuiya_offers(session, coop, trader, cuiya, receipt, now) -> None:
    """A listed lot, an English auction with a bid on it, and a Dutch clock starting soon."""
    seller = {"organisation_id": coop.id, "actor_id": owner(session, coop)}
    in_session = _in_session(now)
    lots.list_lot(
        session,
        **seller,
        symbol=cuiya.symbol,
        receipt_id=receipt.id,
        price_fen=82_000,
        lots=10,
        min_lots=2,
        note="明前特级，龙凤村茶园",
        now=in_session,
    )
    english = auctions.create_english(
        session,
        **seller,
        symbol=cuiya.symbol,
        receipt_id=receipt.id,
        lots=4,
        start_fen=78_000,
        increment_fen=500,
        reserve_fen=80_000,
        starts_at=now,
        ends_at=now + timedelta(days=2),
        now=now,
    )
    auctions.place_bid(
        session,
        organisation_id=trader.id,
        actor_id=owner(session, trader),
        auction_id=english.id,
        price_fen=79_000,
        now=now,
    )
    auctions.create_dutch(
        session,
        **seller,
        symbol=cuiya.symbol,
        receipt_id=receipt.id,
        lots=4,
        start_fen=88_000,
        step_fen=500,
        interval_seconds=30,
        floor_fen=78_000,
        starts_at=now + timedelta(minutes=10),
        now=now,
    )


def _school_tender(session, school, coop, cuiya, now) -> None:
    """The school tenders for its teachers' spring tea; the cooperative has bid from its listing."""
    tender = tenders.post_tender(
        session,
        organisation_id=school.id,
        actor_id=owner(session, school),
        title="湄江中学教工春茶",
        product_id=cuiya.product_id,
        grade_id=cuiya.grade_id,
        kg=30,
        max_price_fen=85_000,
        delivery_on=(now + timedelta(days=7)).astimezone(LOCAL_TIME).date(),
        window_start=time(9, 0),
        window_end=time(11, 0),
        delivery_point="湄潭县湄江中学后勤处",
        closes_at=now + timedelta(days=2),
        note="明前特级，附检测报告",
        now=now,
    )
    listing = session.scalar(
        select(Listing.id).where(
            Listing.organisation_id == coop.id,
            Listing.product_id == cuiya.product_id,
            Listing.grade_id == cuiya.grade_id,
            Listing.unit_code == "kg",
        )
    )
    if listing is not None:
        tenders.place_tender_bid(
            session,
            organisation_id=coop.id,
            organisation_kind=coop.kind,
            actor_id=owner(session, coop),
            tender_id=tender.id,
            listing_id=listing,
            price_fen=83_000,
            now=now,
        )


def _black_market(session, coop, trader, market, black, coop_receipt, trader_receipt, now) -> int:
    """Three days of Zunyi Black trades between the cooperative and the supermarket, then a book."""
    trades = 0
    for days_ago, prices in HISTORY:
        day = (now.astimezone(LOCAL_TIME) - timedelta(days=days_ago)).date()
        for hour, yuan in zip((10, 11, 13, 14), prices, strict=True):
            moment = datetime.combine(day, time(hour, 5), LOCAL_TIME)
            fen = round(yuan * 100)
            _order(session, coop, black, Side.sell, fen, 1, moment, receipt_id=coop_receipt.id)
            trades += len(_order(session, market, black, Side.buy, fen, 1, moment).trades)
        index.compute_index(session, day=day)
    moment = _in_session(now)
    last = black.last_price_fen
    for step, lots_ in ((2, 4), (3, 6)):
        _order(
            session,
            trader,
            black,
            Side.sell,
            last + step * 50,
            lots_,
            moment,
            receipt_id=trader_receipt.id,
        )
        _order(session, market, black, Side.buy, last - step * 50, lots_, moment)
    # The trader's buy meets its own offer first: self-trade prevention cancels it, and the exchange's staff
    # see a self-trade alert on their console once the rule engine has run.
    _order(session, trader, black, Side.buy, last + 2 * 50, 1, moment)
    return trades


def _order(session, organisation, instrument, side, price_fen, lots_, now, receipt_id=None):
    return trading.place_order(
        session,
        organisation_id=organisation.id,
        actor_id=owner(session, organisation),
        symbol=instrument.symbol,
        side=side,
        price_fen=price_fen,
        lots=lots_,
        time_in_force=TimeInForce.gtc,
        receipt_id=receipt_id,
        now=now,
    )


def _in_session(now: datetime) -> datetime:
    """Now if the demo market is open, else 15:00 today (China time): the demo's moments to trade at."""
    local = now.astimezone(LOCAL_TIME)
    if time(8, 0) <= local.time() < time(22, 0):
        return now
    return datetime.combine(local.date(), time(15, 0), LOCAL_TIME)

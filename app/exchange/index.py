"""The daily price index per grade, and the close of a trading day.

After each day (China time) the exchange takes every trade of each product and grade, in every mode, and
records the volume-weighted average price per kg; the index is that price against the grade's first indexed
day (the base day, 100.00). Market-linked order contracts read it (app/contracts/prices.py). The close also
makes each instrument's last price its previous close, the base of the next day's daily limit.
"""

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import events
from app.catalog.models import GradePriceIndex
from app.db import LOCAL_TIME
from app.exchange.models import Instrument, Trade

BASE_POINTS = 10_000  # 100.00


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), LOCAL_TIME)
    return start, start + timedelta(days=1)


def compute_index(session: Session, *, day: date) -> list[GradePriceIndex]:
    """The day's index for every grade that traded (recomputed if it exists, so safe to run again)."""
    start, end = _day_bounds(day)
    rows = session.execute(
        select(
            Instrument.product_id,
            Instrument.grade_id,
            func.sum(Trade.value_fen),
            func.sum(Trade.kg),
        )
        .join(Instrument, Instrument.id == Trade.instrument_id)
        .where(Trade.executed_at >= start, Trade.executed_at < end)
        .group_by(Instrument.product_id, Instrument.grade_id)
    ).all()
    return [
        _record(session, day, product_id, grade_id, int(value), int(kg))
        for product_id, grade_id, value, kg in rows
    ]


def _record(
    session: Session, day: date, product_id: int, grade_id: int, value: int, kg: int
) -> GradePriceIndex:
    vwap = (value + kg // 2) // kg
    base = session.scalar(
        select(GradePriceIndex)
        .where(
            GradePriceIndex.product_id == product_id,
            GradePriceIndex.grade_id == grade_id,
            GradePriceIndex.day < day,
        )
        .order_by(GradePriceIndex.day)
        .limit(1)
    )
    base_day, base_vwap = (base.day, base.vwap_fen) if base else (day, vwap)
    points = (vwap * BASE_POINTS * 2 + base_vwap) // (2 * base_vwap)  # rounded half up
    found = session.scalar(
        select(GradePriceIndex).where(
            GradePriceIndex.product_id == product_id,
            GradePriceIndex.grade_id == grade_id,
            GradePriceIndex.day == day,
        )
    )
    if found is None:
        found = GradePriceIndex(product_id=product_id, grade_id=grade_id, day=day)
        session.add(found)
    found.vwap_fen, found.kg, found.value_fen, found.base_day, found.points = (
        vwap,
        kg,
        value,
        base_day,
        points,
    )
    events.record(
        session,
        "exchange.index",
        subject=f"grade:{product_id}:{grade_id}",
        payload={"day": day.isoformat(), "vwap_fen": vwap, "points": points, "kg": kg},
    )
    return found


def roll_day(session: Session, *, day: date) -> int:
    """Each instrument that traded by the end of `day` starts the next with its last price as its previous
    close; how many rolled (an instrument already trading the next day is left as it is)."""
    _start, end = _day_bounds(day)
    return session.execute(
        update(Instrument)
        .where(Instrument.last_price_fen.is_not(None), Instrument.last_traded_at < end)
        .values(previous_close_fen=Instrument.last_price_fen, last_price_fen=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def index_history(
    session: Session, product_id: int, grade_id: int, *, days: int = 90
) -> list[GradePriceIndex]:
    query = (
        select(GradePriceIndex)
        .where(GradePriceIndex.product_id == product_id, GradePriceIndex.grade_id == grade_id)
        .order_by(GradePriceIndex.day.desc())
        .limit(days)
    )
    return list(reversed(session.scalars(query).all()))

"""Instruments and the rules every offer, order and bid on one must pass: the mode is enabled, the market is
not halted and is in session, the price is on the tick and inside both the price band (around the
reference price) and the daily limit (around the previous close)."""

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from app import events
from app.catalog.models import Grade, Product
from app.db import LOCAL_TIME, local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange.models import DEFAULT_MODES, MODE_LABELS, ClosedDay, Instrument, TradingMode
from app.i18n import money


def create_instrument(
    session: Session,
    *,
    actor_id: int,
    symbol: str,
    product_id: int,
    grade_id: int,
    packaging: str,
    tick_fen: int,
    lot_kg: int,
    previous_close_fen: int,
    band_bps: int = 1000,
    daily_limit_bps: int = 1000,
    fee_bps: int = 30,
    modes: list[str] | None = None,
    trading_days: str = "12345",
    opens_at: time = time(9, 0),
    closes_at: time = time(15, 0),
) -> Instrument:
    """Open a new instrument for trading (exchange staff)."""
    symbol = symbol.upper()
    check_product_grade(session, product_id, grade_id)
    if session.scalar(select(Instrument.id).where(Instrument.symbol == symbol)):
        raise Conflict(_("The symbol %(symbol)s is taken.", symbol=symbol), field="symbol")
    if previous_close_fen % tick_fen:
        raise RuleViolation(
            _("The reference price must be a whole number of ticks."), field="previous_close_fen"
        )
    instrument = Instrument(
        symbol=symbol,
        product_id=product_id,
        grade_id=grade_id,
        packaging=packaging,
        modes=sorted(modes if modes is not None else DEFAULT_MODES),
        tick_fen=tick_fen,
        lot_kg=lot_kg,
        band_bps=band_bps,
        daily_limit_bps=daily_limit_bps,
        fee_bps=fee_bps,
        trading_days="".join(sorted(set(trading_days))),
        opens_at=opens_at,
        closes_at=closes_at,
        previous_close_fen=previous_close_fen,
    )
    session.add(instrument)
    session.flush()  # the event names the instrument
    events.record(
        session,
        "exchange.instrument_opened",
        actor_id=actor_id,
        subject=f"instrument:{instrument.id}",
        payload={"symbol": symbol},
    )
    return instrument


def check_product_grade(session: Session, product_id: int, grade_id: int) -> None:
    product = session.get(Product, product_id)
    if product is None:
        raise RuleViolation(_("No such product."), field="product_id")
    grade = session.get(Grade, grade_id)
    if grade is None or grade.scale_id != product.grade_scale_id:
        raise RuleViolation(_("That grade is not one of this product's grades."), field="grade_id")


def set_halt(
    session: Session, *, actor_id: int, symbol: str, halted: bool, reason: str = ""
) -> Instrument:
    """Halt trading in an instrument at once (every worker reads the flag from the database), or resume it."""
    instrument = instrument_by_symbol(session, symbol)
    session.execute(
        update(Instrument)
        .where(Instrument.id == instrument.id)
        .values(halted=halted, halt_reason=reason if halted else "")
    )
    session.refresh(instrument)
    events.record(
        session,
        "exchange.halted" if halted else "exchange.resumed",
        actor_id=actor_id,
        subject=f"instrument:{instrument.id}",
        payload={"symbol": instrument.symbol, "reason": reason},
    )
    return instrument


def instrument_by_symbol(session: Session, symbol: str) -> Instrument:
    found = session.scalar(select(Instrument).where(Instrument.symbol == symbol.upper()))
    if found is None:
        raise NotFound(_("No instrument has the symbol %(symbol)s.", symbol=symbol))
    return found


def check_open(instrument: Instrument, mode: TradingMode, now: datetime | None) -> None:
    """Refuse anything on an instrument that does not enable the mode, is halted, or is out of session
    (`now` None: the mode keeps its own hours, as an auction does)."""
    closed = None if now is None else closed_on(object_session(instrument), now)
    check_open_on(instrument, mode, now, closed)


def check_open_on(
    instrument: Instrument, mode: TradingMode, now: datetime | None, closed: ClosedDay | None
) -> None:
    """check_open with the exchange's closing of the day (None: open) read by the caller."""
    if not instrument.enables(mode):
        raise RuleViolation(
            _(
                "%(symbol)s does not trade by %(mode)s.",
                symbol=instrument.symbol,
                mode=_(MODE_LABELS[mode]),
            ),
            field="mode",
        )
    if instrument.halted:
        raise Conflict(
            _(
                "Trading in %(symbol)s is halted: %(reason)s",
                symbol=instrument.symbol,
                reason=instrument.halt_reason or _("by the exchange"),
            ),
            field="symbol",
        )
    if closed is not None:
        raise RuleViolation(
            _(
                "The exchange is closed today (%(day)s, %(name)s); %(symbol)s trades again on its "
                "next trading day.",
                day=closed.day.isoformat(),
                name=closed.name,
                symbol=instrument.symbol,
            ),
            field="symbol",
        )
    if now is not None and not _in_hours(instrument, now):
        raise RuleViolation(
            _(
                "%(symbol)s is out of session: it trades %(days)s, %(opens)s to %(closes)s China time.",
                symbol=instrument.symbol,
                days=days_text(instrument.trading_days),
                opens=instrument.opens_at.strftime("%H:%M"),
                closes=instrument.closes_at.strftime("%H:%M"),
            ),
            field="symbol",
        )


def in_session(instrument: Instrument, now: datetime) -> bool:
    """Whether the instrument trades at this moment: a trading day, within its hours, the exchange open."""
    return _in_hours(instrument, now) and closed_on(object_session(instrument), now) is None


def _in_hours(instrument: Instrument, now: datetime) -> bool:
    local = now.astimezone(LOCAL_TIME)
    return (
        str(local.isoweekday()) in instrument.trading_days
        and instrument.opens_at <= local.time() < instrument.closes_at
    )


def settlement_due(session: Session, instrument: Instrument, traded_at: datetime) -> datetime:
    """T+N: the moment N of the instrument's trading days after the trade (its weekdays, less the days the
    exchange is closed), at the trade's time of day."""
    closed = {row.day for row in closed_days(session, after=local_date(traded_at))}
    return due_after(instrument, traded_at, closed)


def due_after(instrument: Instrument, traded_at: datetime, closed: set[date]) -> datetime:
    """settlement_due with the days the exchange is closed read by the caller."""
    day = local_date(traded_at)
    days, counted = 0, 0
    while counted < instrument.settlement_days and days < 366:
        days += 1
        ahead = day + timedelta(days=days)
        if str(ahead.isoweekday()) in instrument.trading_days and ahead not in closed:
            counted += 1
    return traded_at + timedelta(days=days)


def closed_on(session: Session | None, now: datetime) -> ClosedDay | None:
    """The exchange's closed day this moment falls on in China, if it is one."""
    return None if session is None else session.get(ClosedDay, local_date(now))


def close_day(session: Session, *, actor_id: int, day: date, name: str, now=None) -> ClosedDay:
    """Close the exchange on a coming day (a public holiday): nothing trades on it."""
    if day <= local_date(now or utcnow()):
        raise RuleViolation(_("Only a day after today can be closed."), field="day")
    if session.get(ClosedDay, day) is not None:
        raise Conflict(_("The exchange is already closed on %(day)s.", day=day.isoformat()))
    closed = ClosedDay(day=day, name=name, created_by_id=actor_id, created_at=now or utcnow())
    session.add(closed)
    session.flush()  # a second closing of the same day at the same moment fails here, on the key
    return closed


def reopen_day(session: Session, *, day: date, now=None) -> ClosedDay:
    """Trade on a coming day that was closed after all."""
    closed = session.get(ClosedDay, day)
    if closed is None:
        raise NotFound(_("The exchange is not closed on %(day)s.", day=day.isoformat()))
    if day <= local_date(now or utcnow()):
        raise RuleViolation(_("Only a day after today can be reopened."), field="day")
    session.delete(closed)
    return closed


def closed_days(session: Session, *, after: date) -> list[ClosedDay]:
    """The days the exchange is closed from `after` on, soonest first."""
    return list(
        session.scalars(select(ClosedDay).where(ClosedDay.day >= after).order_by(ClosedDay.day))
    )


def days_text(trading_days: str) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    return " ".join(names[int(day) - 1] for day in trading_days)


def price_range(instrument: Instrument) -> tuple[int, int]:
    """The lowest and highest price an order may carry now: inside the band and the daily limit, on the tick."""
    tick = instrument.tick_fen
    reference, close = instrument.reference_fen, instrument.previous_close_fen
    band = reference * instrument.band_bps // 10_000
    limit = close * instrument.daily_limit_bps // 10_000
    low = max(reference - band, close - limit, tick)
    high = min(reference + band, close + limit)
    return -(-low // tick) * tick, high // tick * tick


def check_price(instrument: Instrument, price_fen: int, field: str = "price_yuan") -> None:
    """Refuse a price off the tick, or outside the price band or the daily limit."""
    if price_fen % instrument.tick_fen:
        raise RuleViolation(
            _(
                "The price must be a whole number of ticks of %(tick)s.",
                tick=money(instrument.tick_fen),
            ),
            field=field,
        )
    low, high = price_range(instrument)
    if not low <= price_fen <= high:
        raise RuleViolation(
            _(
                "The price must be between %(low)s and %(high)s per kg (the price band and daily limit).",
                low=money(low),
                high=money(high),
            ),
            field=field,
        )


def check_lots(instrument: Instrument, lots: int, field: str = "lots") -> None:
    if lots <= 0:
        raise RuleViolation(_("Trade at least one lot."), field=field)


def lock(session: Session, instrument_id: int) -> tuple[int, Instrument]:
    """Take the instrument's next order-log number, holding its row until commit: this serialises the book
    across every process and host. The instrument is read again under the lock (a halt may just have
    come in)."""
    seq = session.scalar(
        update(Instrument)
        .where(Instrument.id == instrument_id)
        .values(seq=Instrument.seq + 1)
        .returning(Instrument.seq)
        .execution_options(synchronize_session=False)
    )
    instrument = session.get(Instrument, instrument_id)
    session.refresh(instrument)
    return seq, instrument


def hold(session: Session, instrument_id: int) -> Instrument:
    """Lock the instrument's row before anything that may trade on it (a take, a clock, an auction's close),
    so every path locks the instrument first, then the venue, then money and receipts: never in a circle."""
    return session.get(Instrument, instrument_id, with_for_update=True, populate_existing=True)


def record_price(session: Session, instrument: Instrument, price_fen: int, now: datetime) -> None:
    """The last trade's price becomes the reference the band is measured from."""
    session.execute(
        update(Instrument)
        .where(Instrument.id == instrument.id)
        .values(last_price_fen=price_fen, last_traded_at=now)
        .execution_options(synchronize_session=False)
    )
    set_last_price(instrument, price_fen, now)


def set_last_price(instrument: Instrument, price_fen: int, now: datetime) -> None:
    """The instrument as loaded takes the last trade's price, as its row has or is about to."""
    set_committed_value(instrument, "last_price_fen", price_fen)
    set_committed_value(instrument, "last_traded_at", now)

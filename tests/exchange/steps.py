"""Exchange steps as tests take them: an instrument for spring Cuiya, the China Tea City warehouse issuing
receipts, and traders with money in their exchange deposits."""

from datetime import UTC, datetime, time, timedelta

from app.auth import OrgKind, Role
from app.exchange import auctions, deposits, instruments, lots, receipts
from app.exchange.matching import TimeInForce
from app.exchange.models import DEFAULT_MODES, Side, TradingMode
from app.exchange.trading import place_order
from tests.factories import member
from tests.factories.catalog import grade_of, product
from tests.orders.steps import credit

# An instrument that trades at any hour, for tests that run at the real time of day.
AROUND_THE_CLOCK = {"trading_days": "1234567", "opens_at": time.min, "closes_at": time.max}
# A Monday, 10:00 in Meitan: the market is in session.
MONDAY_10AM = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
SUNDAY_10AM = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def cuiya(session, *, modes=None, symbol: str = "CUIYA-S", **rules):
    """Premium Meitan Cuiya in 5 kg lots, ¥800.00/kg yesterday, on ¥0.10 ticks, ±10 %."""
    tea = product("meitan_cuiya")
    staff = member(kind=OrgKind.exchange, role=Role.officer)
    return instruments.create_instrument(
        session,
        actor_id=staff.user_id,
        symbol=symbol,
        product_id=tea.id,
        grade_id=grade_of(tea, "special").id,
        packaging="250 g tins, 20 to a 5 kg carton",
        tick_fen=10,
        lot_kg=5,
        previous_close_fen=80_000,
        modes=modes if modes is not None else [*DEFAULT_MODES, TradingMode.matching],
        **rules,
    )


def warehouse():
    return member(kind=OrgKind.warehouse, role=Role.manager)


def seller_with_receipt(session, instrument, *, kg: int = 100):
    """A cooperative holding a receipt for `kg` of the instrument's tea."""
    seller = member(kind=OrgKind.cooperative, role=Role.manager)
    return seller, receipt_for(session, instrument, seller, kg=kg)


def receipt_for(session, instrument, holder, *, kg: int = 100, store=None):
    """The warehouse weighs in `kg` of the instrument's tea for `holder` and issues it a receipt."""
    store = store or warehouse()
    return receipts.issue_receipt(
        session,
        warehouse_id=store.organisation_id,
        actor_id=store.user_id,
        holder_id=holder.organisation_id,
        product_id=instrument.product_id,
        grade_id=instrument.grade_id,
        net_kg=kg,
        packages=max(1, kg // 5),
        inspection="感官审评 93 分；水分 5.8%；农残未检出",
    )


def list_lots(
    session, seller, instrument, receipt, count: int, *, price_fen=80_000, now=None, **terms
):
    """`seller` lists `count` lots of `receipt` on `instrument` at `price_fen` a kg (挂牌)."""
    return lots.list_lot(
        session,
        organisation_id=seller.organisation_id,
        actor_id=seller.user_id,
        symbol=instrument.symbol,
        receipt_id=receipt.id,
        price_fen=price_fen,
        lots=count,
        now=now,
        **terms,
    )


def take_lots(session, buyer, lot, count: int, *, now=None):
    """`buyer` takes `count` lots of a listed lot (摘牌)."""
    return lots.take_lot(
        session,
        organisation_id=buyer.organisation_id,
        actor_id=buyer.user_id,
        lot_id=lot.id,
        lots=count,
        now=now,
    )


def trader_with_deposit(session, fen: int = 10_000_000, kind: OrgKind = OrgKind.trader):
    """A trader with `fen` in its exchange deposit (moved in from its wallet)."""
    trader = member(kind=kind, role=Role.staff)
    credit(session, trader.organisation_id, fen)
    deposits.fund_deposit(
        session, organisation_id=trader.organisation_id, actor_id=trader.user_id, amount_fen=fen
    )
    return trader


def order(
    session, who, instrument, side, price_fen, lots, *, receipt=None, ioc=False, now=MONDAY_10AM
):
    return place_order(
        session,
        organisation_id=who.organisation_id,
        actor_id=who.user_id,
        symbol=instrument.symbol,
        side=Side(side),
        price_fen=price_fen,
        lots=lots,
        time_in_force=TimeInForce.ioc if ioc else TimeInForce.gtc,
        receipt_id=receipt.id if receipt else None,
        now=now,
    )


def sell_new_tea(session, who, instrument, price_fen, lots, *, kg: int = 100, now=MONDAY_10AM):
    """`who` has `kg` of the instrument's tea weighed in and offers `lots` of it at `price_fen` a kg."""
    receipt = receipt_for(session, instrument, who, kg=kg)
    return order(session, who, instrument, "sell", price_fen, lots, receipt=receipt, now=now)


def english_auction(session, seller, instrument, receipt, *, now=MONDAY_10AM, **terms):
    """`seller` auctions 10 lots of `receipt` for an hour from `now`: ¥720.00 to start, ¥5.00 steps, a
    reserve of ¥750.00, unless `terms` say otherwise."""
    return auctions.create_english(
        session,
        organisation_id=seller.organisation_id,
        actor_id=seller.user_id,
        symbol=instrument.symbol,
        receipt_id=receipt.id,
        starts_at=now,
        now=now,
        **{
            "lots": 10,
            "start_fen": 72_000,
            "increment_fen": 500,
            "reserve_fen": 75_000,
            "ends_at": now + timedelta(hours=1),
            "extend_seconds": 120,
            **terms,
        },
    )


def dutch_clock(session, seller, instrument, receipt, *, start_fen, floor_fen, now=MONDAY_10AM):
    """`seller` puts 10 lots of `receipt` on a clock from `now`, down ¥10.00 every 30 seconds."""
    return auctions.create_dutch(
        session,
        organisation_id=seller.organisation_id,
        actor_id=seller.user_id,
        symbol=instrument.symbol,
        receipt_id=receipt.id,
        lots=10,
        start_fen=start_fen,
        step_fen=1_000,
        interval_seconds=30,
        floor_fen=floor_fen,
        starts_at=now,
        now=now,
    )

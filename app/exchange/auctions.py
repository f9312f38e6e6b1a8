"""Auctions of receipt-backed lots.

English (竞买): bids rise by at least the increment from the start price; a bid in the last `extend_seconds`
moves the close on by as much (anti-sniping); bids are never withdrawn; the leader's money stays reserved
from its deposit until it is outbid; at the close the leader wins if it reached the reserve.

Dutch clock: the price falls from the start by a step each interval down to the floor; the first buyer to
accept takes the lots it names at the price of that moment, paid from its deposit, and the clock goes on for
the rest; lots still unsold one interval after the floor is reached are withdrawn.

Each bid takes the auction's row lock (PostgreSQL) or the writer's turn (SQLite), so bids are numbered and
checked one at a time; closing is a conditional UPDATE from `open`, so a close runs exactly once however
many jobs try.
"""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.db import utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.exchange import deposits, instruments, members, receipts, settlement
from app.exchange.models import Auction, AuctionStatus, Bid, Receipt, Trade, TradingMode
from app.i18n import local_datetime, money
from app.payments import ledger

MIN_MINUTES, MAX_DAYS = 5, 14  # how long an English auction may run


def create_auction(session: Session, *, kind: TradingMode, **terms) -> Auction:
    """Open an English auction or a Dutch clock with the terms of its kind (the others are ignored)."""
    if kind == TradingMode.english:
        return create_english(session, **_without(terms, DUTCH_TERMS))
    return create_dutch(session, **_without(terms, ENGLISH_TERMS))


ENGLISH_TERMS = ("increment_fen", "reserve_fen", "ends_at", "extend_seconds")
DUTCH_TERMS = ("step_fen", "interval_seconds", "floor_fen")


def _without(terms: dict, names: tuple[str, ...]) -> dict:
    return {name: value for name, value in terms.items() if name not in names}


def create_english(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    symbol: str,
    receipt_id: int,
    lots: int,
    start_fen: int,
    increment_fen: int,
    starts_at: datetime,
    ends_at: datetime,
    reserve_fen: int = 0,
    extend_seconds: int = 120,
    now: datetime | None = None,
) -> Auction:
    """Put a whole lot up for an English auction (竞买)."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    instrument = _instrument(session, symbol, TradingMode.english, lots, start_fen)
    for field, fen in (("start_yuan", start_fen), ("increment_yuan", increment_fen)):
        if fen <= 0 or fen % instrument.tick_fen:
            raise RuleViolation(
                _("Prices are whole ticks of %(tick)s.", tick=money(instrument.tick_fen)),
                field=field,
            )
    if reserve_fen and reserve_fen < start_fen:
        raise RuleViolation(_("The reserve cannot be below the start price."), field="reserve_yuan")
    if ends_at - starts_at < timedelta(minutes=MIN_MINUTES) or ends_at - now > timedelta(
        days=MAX_DAYS
    ):
        raise RuleViolation(
            _(
                "An auction runs at least %(minutes)d minutes and closes within %(days)d days.",
                minutes=MIN_MINUTES,
                days=MAX_DAYS,
            ),
            field="ends_at",
        )
    return _open(
        session,
        instrument,
        organisation_id,
        actor_id,
        receipt_id,
        now,
        kind=TradingMode.english,
        lots=lots,
        start_fen=start_fen,
        increment_fen=increment_fen,
        reserve_fen=reserve_fen or start_fen,
        extend_seconds=extend_seconds,
        starts_at=max(starts_at, now),
        ends_at=ends_at,
    )


def create_dutch(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    symbol: str,
    receipt_id: int,
    lots: int,
    start_fen: int,
    step_fen: int,
    interval_seconds: int,
    floor_fen: int,
    starts_at: datetime,
    now: datetime | None = None,
) -> Auction:
    """Put lots on a Dutch clock: the price falls from the start by a step each interval to the floor."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    instrument = _instrument(session, symbol, TradingMode.dutch, lots, floor_fen)
    if not 0 < floor_fen < start_fen:
        raise RuleViolation(
            _("The floor must be above zero and below the start price."), field="floor_yuan"
        )
    for field, fen in (
        ("start_yuan", start_fen),
        ("step_yuan", step_fen),
        ("floor_yuan", floor_fen),
    ):
        if fen % instrument.tick_fen:
            raise RuleViolation(
                _("Prices are whole ticks of %(tick)s.", tick=money(instrument.tick_fen)),
                field=field,
            )
    if step_fen <= 0 or interval_seconds < 5:
        raise RuleViolation(
            _("The clock steps down at least one tick every 5 seconds or more."), field="step_yuan"
        )
    starts_at = max(starts_at, now)
    steps_to_floor = -(-(start_fen - floor_fen) // step_fen)
    return _open(
        session,
        instrument,
        organisation_id,
        actor_id,
        receipt_id,
        now,
        kind=TradingMode.dutch,
        lots=lots,
        start_fen=start_fen,
        step_fen=step_fen,
        interval_seconds=interval_seconds,
        floor_fen=floor_fen,
        starts_at=starts_at,
        # one interval at the floor, then the rest is withdrawn
        ends_at=starts_at + timedelta(seconds=(steps_to_floor + 1) * interval_seconds),
    )


def _instrument(session, symbol, mode, lots, start_fen):
    instrument = instruments.instrument_by_symbol(session, symbol)
    instruments.check_open(instrument, mode, None)
    instruments.check_lots(instrument, lots)
    instruments.check_price(instrument, start_fen, field="start_yuan")
    return instrument


def _open(session, instrument, organisation_id, actor_id, receipt_id, now, **terms) -> Auction:
    offered = receipts.offer_receipt(
        session,
        holder_id=organisation_id,
        receipt_id=receipt_id,
        instrument=instrument,
        kg=terms["lots"] * instrument.lot_kg,
        actor_id=actor_id,
        now=now,
    )
    auction = Auction(
        instrument_id=instrument.id,
        seller_id=organisation_id,
        receipt_id=offered.id,
        created_by_id=actor_id,
        created_at=now,
        open_lots=terms["lots"],  # all of them, until bids or the clock take some
        **terms,
    )
    session.add(auction)
    session.flush()  # the event names the auction
    _record(session, "exchange.auction_opened", auction, now, actor_id=actor_id)
    return auction


def place_bid(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    auction_id: int,
    price_fen: int,
    now: datetime | None = None,
) -> Bid:
    """Bid in an English auction: at least the increment above the leader; the money is reserved from the
    bidder's deposit and the outbid leader's is freed. A bid near the close moves the close on."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    auction = _locked(session, auction_id, TradingMode.english)
    _check_running(auction, organisation_id, now)
    if auction.leader_id == organisation_id:
        raise Conflict(_("You are already the highest bidder."), field="price_yuan")
    if price_fen < auction.least_bid():
        raise Conflict(
            _("A bid must be at least %(price)s per kg now.", price=money(auction.least_bid())),
            field="price_yuan",
        )
    instruments.check_price(auction.instrument, price_fen)  # the tick, the band and the daily limit
    kg = auction.lots * auction.instrument.lot_kg
    seq = auction.bid_count + 1
    deposits.reserve(
        session, organisation_id, price_fen * kg, key=f"exchange-bid:{auction.id}:{seq}"
    )
    if auction.leader_id is not None:
        deposits.release(
            session,
            auction.leader_id,
            auction.leading_fen * kg,
            key=f"exchange-bid:{auction.id}:{seq - 1}:outbid",
        )
    auction.leader_id, auction.leading_fen, auction.bid_count = organisation_id, price_fen, seq
    if auction.ends_at - now < timedelta(seconds=auction.extend_seconds):
        auction.ends_at = now + timedelta(seconds=auction.extend_seconds)
    bid = Bid(
        auction_id=auction.id,
        seq=seq,
        bidder_id=organisation_id,
        placed_by_id=actor_id,
        price_fen=price_fen,
        placed_at=now,
    )
    session.add(bid)
    session.flush()  # the event names the bid
    _record(
        session,
        "exchange.bid",
        auction,
        now,
        actor_id=actor_id,
        bid_id=bid.id,
        seq=seq,
        bidder_id=organisation_id,
        price_fen=price_fen,
    )
    return bid


def accept_clock(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    auction_id: int,
    lots: int,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Trade:
    """Stop the Dutch clock for `lots` at the price of this moment, paid from the buyer's deposit (once per
    idempotency key)."""
    now = now or utcnow()
    earlier = settlement.earlier_trade(session, organisation_id, idempotency_key)
    if earlier is not None:
        return earlier
    members.check_may_trade(session, organisation_id)
    auction = _locked(session, auction_id, TradingMode.dutch)
    _check_running(auction, organisation_id, now)
    if not 0 < lots <= auction.open_lots:
        raise Conflict(
            _("Only %(n)d lots are left on the clock.", n=auction.open_lots), field="lots"
        )
    price = auction.price_at(now)
    instruments.check_price(auction.instrument, price, field="lots")
    left = auction.open_lots - lots
    auction.open_lots = left
    if not left:
        auction.status, auction.closed_at = AuctionStatus.sold, now
    trade = settlement.execute_trade(
        session,
        instrument=auction.instrument,
        mode=TradingMode.dutch,
        buyer_id=organisation_id,
        seller_id=auction.seller_id,
        offered=session.get(Receipt, auction.receipt_id),
        price_fen=price,
        lots=lots,
        paid_from=ledger.exchange_deposit(organisation_id),
        now=now,
        auction_id=auction.id,
        idempotency_key=idempotency_key,
    )
    if not left:
        offered = session.get(Receipt, auction.receipt_id)
        receipts.withdraw_offer(session, offered, actor_id=actor_id, now=now)
    _record(
        session, "exchange.clock_taken", auction, now, actor_id=actor_id, lots=lots, price_fen=price
    )
    return trade


def _locked(session: Session, auction_id: int, kind: TradingMode | None = None) -> Auction | None:
    """The auction under its row lock, its instrument locked first (instruments.hold says why)."""
    instrument_id = session.scalar(select(Auction.instrument_id).where(Auction.id == auction_id))
    if instrument_id is not None:
        instruments.hold(session, instrument_id)
    auction = session.get(Auction, auction_id, with_for_update=True, populate_existing=True)
    if auction is None or (kind is not None and auction.kind != kind):
        raise NotFound(_("No such auction."))
    return auction


def _check_running(auction: Auction, organisation_id: int, now: datetime) -> None:
    instruments.check_open(auction.instrument, auction.kind, None)
    if auction.halted:
        raise Conflict(
            _("This auction is halted by the exchange: %(reason)s", reason=auction.halt_reason),
            field="auction_id",
        )
    if auction.seller_id == organisation_id:
        raise RuleViolation(_("You cannot bid in your own auction."), field="auction_id")
    if auction.status != AuctionStatus.open or now >= auction.ends_at:
        raise Conflict(_("This auction has closed."), field="auction_id")
    if now < auction.starts_at:
        raise Conflict(
            _("This auction opens at %(time)s.", time=local_datetime(auction.starts_at, "short")),
            field="auction_id",
        )


def close_auction(session: Session, *, auction_id: int, now: datetime | None = None) -> bool:
    """Close an auction whose time is up, exactly once: the English leader at or above the reserve wins;
    otherwise (and for a Dutch clock's unsold lots) the receipt is free again. False if not due or closed."""
    now = now or utcnow()
    auction = _locked(session, auction_id)
    if auction.status != AuctionStatus.open or auction.ends_at > now or auction.halted:
        return False
    offered = session.get(Receipt, auction.receipt_id)
    leader, leading = auction.leader_id, auction.leading_fen
    won = (
        auction.kind == TradingMode.english
        and leader is not None
        and leading >= auction.reserve_fen
    )
    if won:
        settlement.execute_trade(
            session,
            instrument=auction.instrument,
            mode=TradingMode.english,
            buyer_id=leader,
            seller_id=auction.seller_id,
            offered=offered,
            price_fen=leading,
            lots=auction.lots,
            paid_from=ledger.reserved(leader),
            now=now,
            auction_id=auction.id,
        )
        auction.open_lots = 0
    elif leader is not None:  # bids, but none reached the reserve
        deposits.release(
            session,
            leader,
            leading * auction.lots * auction.instrument.lot_kg,
            key=f"exchange-bid:{auction.id}:{auction.bid_count}:unsold",
        )
    sold = auction.open_lots < auction.lots
    auction.status = AuctionStatus.sold if sold else AuctionStatus.unsold
    auction.closed_at = now
    receipts.withdraw_offer(session, offered, actor_id=None, now=now)
    _record(session, "exchange.auction_closed", auction, now)
    return True


def set_auction_halt(
    session: Session,
    *,
    actor_id: int,
    auction_id: int,
    halted: bool,
    reason: str = "",
    now: datetime | None = None,
) -> Auction:
    """Halt an auction (no bids, no takes, no close) or resume it; a resumed auction whose time ran out
    while halted gets its anti-sniping window (at least five minutes) to finish."""
    now = now or utcnow()
    auction = _locked(session, auction_id)
    if auction.status != AuctionStatus.open:
        raise Conflict(_("This auction has closed."), field="auction_id")
    if halted == auction.halted:
        raise Conflict(
            _("This auction is halted already.") if halted else _("This auction is not halted.")
        )
    if halted:
        auction.halted_at = now
    elif auction.kind == TradingMode.dutch:  # the clock goes on from where it stood
        stood = now - auction.halted_at
        auction.starts_at, auction.ends_at = auction.starts_at + stood, auction.ends_at + stood
    elif auction.ends_at <= now:
        auction.ends_at = now + timedelta(seconds=max(auction.extend_seconds, 300))
    auction.halted, auction.halt_reason = halted, reason if halted else ""
    _record(
        session,
        "exchange.auction_halted" if halted else "exchange.auction_resumed",
        auction,
        now,
        actor_id=actor_id,
        reason=reason,
    )
    return auction


def auctions_due(session: Session, *, now: datetime) -> list[int]:
    """The open auctions whose time is up (halted ones wait)."""
    query = select(Auction.id).where(
        Auction.status == AuctionStatus.open, Auction.ends_at <= now, Auction.halted.is_(False)
    )
    return list(session.scalars(query.order_by(Auction.ends_at)))


def _record(session, kind, auction: Auction, now, *, actor_id=None, **extra) -> None:
    events.record(
        session,
        kind,
        organisation_id=auction.seller_id,
        actor_id=actor_id,
        subject=f"auction:{auction.id}",
        payload={
            "auction_id": auction.id,
            "kind": auction.kind.value,
            "status": auction.status.value,
            "leading_fen": auction.leading_fen,
            "bid_count": auction.bid_count,
            "ends_at": auction.ends_at.isoformat(),
            "open_lots": auction.open_lots,
            **extra,
        },
        now=now,
    )

"""Buying from a live session in one tap: the pinned listing at its price, or a flash deal at the deal
price from the deal's own stock; every line remembers the session, the deal and the host."""

from datetime import datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.accounts.models import Organisation
from app.auth import OrgKind
from app.catalog.models import Listing
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.live.models import DealStatus, FlashDeal, LiveSale, LiveSession, SessionStatus
from app.live.services import _record, public_session
from app.orders.models import PaymentMethod
from app.orders.services import Delivery, Placed, place_orders

DELIVERY_DAYS = 2  # a live order is delivered this many days later, in the day's usual window
WINDOW = (time(9), time(17))


def buy(
    session: Session,
    *,
    session_id: int,
    buyer_id: int,
    buyer_kind: OrgKind,
    actor_id: int,
    quantity: int,
    listing_id: int | None = None,
    deal_id: int | None = None,
    payment: PaymentMethod = PaymentMethod.wallet,
    idempotency_key: str | None = None,
    unpaid_minutes: int = 10,
    now: datetime | None = None,
) -> Placed:
    """Order from the session: a deal (from its stock, at its price, within its limit) or a featured
    listing; paid from the wallet at once, or left to pay within `unpaid_minutes`."""
    now = now or utcnow()
    live = public_session(session, session_id)
    _check_open(live)
    deal = _running_deal(session, live, deal_id, now) if deal_id is not None else None
    if deal is not None:
        listing_id = deal.listing_id
    elif all(featured.listing_id != listing_id for featured in live.featured):
        raise RuleViolation(_("That listing is not on this session."), field="listing_id")
    placed = place_orders(
        session,
        buyer_id=buyer_id,
        buyer_kind=buyer_kind,
        actor_id=actor_id,
        lines=[{"listing_id": listing_id, "quantity": quantity}],
        delivery=_delivery(session, live, buyer_id, now),
        payment=payment,
        idempotency_key=idempotency_key,
        unpaid_minutes=unpaid_minutes,
        agreed_prices={listing_id: deal.price_fen} if deal else None,
        reserves={listing_id: deal.reserve_id} if deal else None,
        now=now,
    )
    if not placed.replayed:
        _attribute(session, live, deal, placed, buyer_id, now)
    return placed


def _check_open(live: LiveSession) -> None:
    if live.status == SessionStatus.paused:
        raise Conflict(_("The session is paused; buying resumes when it does."))
    if live.status != SessionStatus.live:
        raise Conflict(_("The session is not live; buying opens when it goes live."))


def _running_deal(session: Session, live: LiveSession, deal_id: int, now) -> FlashDeal:
    deal = session.get(FlashDeal, deal_id)
    if deal is None or deal.live_session_id != live.id:
        raise NotFound(_("Deal %(id)s does not exist.", id=deal_id), field="deal_id")
    status = deal.status_at(now)
    if status == DealStatus.counting:
        seconds = int((deal.opens_at - now).total_seconds()) + 1
        raise Conflict(_("The deal opens in %(n)d seconds.", n=seconds), field="deal_id")
    if status == DealStatus.ended:
        raise Conflict(_("This deal has ended."), field="deal_id")
    return deal


def _delivery(session: Session, live: LiveSession, buyer_id: int, now: datetime) -> Delivery:
    """Where a one-tap order goes: the buyer's own address, in the usual window a few days on."""
    buyer = session.get(Organisation, buyer_id)
    return Delivery(
        point=buyer.address or buyer.name_zh,
        day=local_date(now) + timedelta(days=DELIVERY_DAYS),
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        note=_("Live session: %(title)s", title=live.title)[:500],
    )


def _attribute(session, live: LiveSession, deal, placed: Placed, buyer_id: int, now) -> None:
    """Each new line remembers the session, deal and host; viewers hear that something sold."""
    rows = [
        {
            "order_line_id": line.id,
            "order_id": order.id,
            "live_session_id": live.id,
            "deal_id": deal.id if deal else None,
            "host_id": live.host_id,
            "buyer_id": buyer_id,
            "created_at": now,
        }
        for order in placed.orders
        for line in order.lines
    ]
    session.execute(insert(LiveSale), rows)
    line = placed.orders[0].lines[0]
    left = None
    if deal is None:  # a deal's stock is followed through its reserve's own events
        left = session.scalar(select(Listing.quantity).where(Listing.id == line.listing_id))
    _record(
        session,
        "live.sale",
        live,
        None,
        now,
        listing_id=line.listing_id,
        deal_id=deal.id if deal else None,
        quantity=line.quantity,
        amount_fen=line.amount_fen,
        listing_left=left,
    )

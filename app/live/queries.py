"""Read-only views of live sessions: the viewer's state, the host's live figures, and the seller's report."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.catalog.models import Listing
from app.live.cards import deal_card, listing_card
from app.live.models import (
    FeaturedListing,
    FlashDeal,
    Follow,
    LiveSale,
    LiveSession,
    Presence,
    SessionStatus,
    Visit,
)
from app.orders.models import Order, OrderLine, OrderStatus

PRESENCE_SECONDS = 15  # a web process that has not reported for this long has no viewers any more
RECENT_DEALS = timedelta(minutes=5)  # ended deals viewers still see, marked ended


def state(session: Session, live: LiveSession, now: datetime) -> dict:
    """Everything a viewer's page shows, as the live events will keep it up to date."""
    featured = session.scalars(
        select(Listing)
        .join(FeaturedListing, FeaturedListing.listing_id == Listing.id)
        .where(FeaturedListing.live_session_id == live.id)
        .order_by(FeaturedListing.position)
    ).all()
    pinned = next((item for item in featured if item.id == live.pinned_listing_id), None)
    return {
        "session": {
            "id": live.id,
            "title": live.title,
            "status": str(live.status),
            "starts_at": live.starts_at.isoformat(),
            "stream_url": live.stream_url,
            "replay_url": live.replay_url,
        },
        "pinned": listing_card(pinned) if pinned else None,
        "featured": [listing_card(listing) for listing in featured],
        "deals": [
            deal_state(deal, now)
            for deal in live.deals
            if deal.ended_at is None or now - deal.ended_at < RECENT_DEALS
        ],
    }


def deal_state(deal: FlashDeal, now: datetime) -> dict:
    """A deal as viewers see it now, with what is left of its stock."""
    card = deal_card(deal, left=deal.reserve.left, version=deal.reserve.version, now=now)
    card["reserve_id"] = deal.reserve_id
    return card


@dataclass
class Figures:
    visitors: int = 0
    orders: int = 0
    buyers: int = 0
    units: int = 0
    sales_fen: int = 0

    @property
    def conversion(self) -> float:
        """Buyers per visitor, as a share (0.05 is 5%)."""
        return self.buyers / self.visitors if self.visitors else 0.0


def figures(session: Session, live: LiveSession) -> Figures:
    """What the session has sold so far (cancelled orders left out), and to how many of its visitors."""
    row = session.execute(
        _sold(live.id).with_only_columns(
            func.count(func.distinct(LiveSale.order_id)),
            func.count(func.distinct(LiveSale.buyer_id)),
            func.coalesce(func.sum(OrderLine.quantity), 0),
            func.coalesce(func.sum(OrderLine.quantity * OrderLine.price_fen), 0),
        )
    ).one()
    visitors = session.scalar(
        select(func.count()).select_from(Visit).where(Visit.live_session_id == live.id)
    )
    return Figures(visitors, *row)


def _sold(session_id: int):
    """Attributed lines of orders still standing."""
    return (
        select(LiveSale)
        .join(OrderLine, OrderLine.id == LiveSale.order_line_id)
        .join(Order, Order.id == LiveSale.order_id)
        .where(LiveSale.live_session_id == session_id, Order.status != OrderStatus.cancelled)
    )


def viewers_now(session: Session, session_id: int, now: datetime) -> int:
    """Viewers connected now, summed over the web processes streaming to them."""
    return session.scalar(
        select(func.coalesce(func.sum(Presence.viewers), 0)).where(
            Presence.live_session_id == session_id,
            Presence.seen_at > now - timedelta(seconds=PRESENCE_SECONDS),
        )
    )


def console_figures(session: Session, live: LiveSession, now: datetime) -> dict:
    """The host's live figures: viewers now and at the peak, orders, sales, conversion."""
    sold = figures(session, live)
    return {
        "viewers": viewers_now(session, live.id, now),
        "peak_viewers": live.peak_viewers,
        "visitors": sold.visitors,
        "orders": sold.orders,
        "buyers": sold.buyers,
        "units": sold.units,
        "sales_fen": sold.sales_fen,
        "conversion": round(sold.conversion, 4),
    }


@dataclass
class Report:
    live: LiveSession
    totals: Figures
    items: list[dict] = field(default_factory=list)
    deals: list[dict] = field(default_factory=list)
    minutes: list[dict] = field(default_factory=list)  # sales per minute, for the chart


def report(session: Session, live: LiveSession) -> Report:
    """The seller's report: totals, each item, each deal, and sales minute by minute."""
    rows = session.execute(
        _sold(live.id).with_only_columns(
            LiveSale.order_id,
            LiveSale.buyer_id,
            LiveSale.deal_id,
            LiveSale.created_at,
            OrderLine.listing_id,
            OrderLine.title,
            OrderLine.unit_code,
            OrderLine.quantity,
            OrderLine.price_fen,
        )
    ).all()
    return Report(
        live=live,
        totals=figures(session, live),
        items=_grouped(rows, lambda row: row.listing_id),
        deals=_deal_lines(live, _grouped(rows, lambda row: row.deal_id)),
        minutes=_per_minute(rows),
    )


def _grouped(rows, key) -> list[dict]:
    groups: dict = defaultdict(lambda: {"orders": set(), "buyers": set(), "units": 0, "sales": 0})
    for row in rows:
        group = groups[key(row)]
        group.update(key=key(row), title=row.title, unit=row.unit_code)
        group["orders"].add(row.order_id)
        group["buyers"].add(row.buyer_id)
        group["units"] += row.quantity
        group["sales"] += row.quantity * row.price_fen
    return [
        {**group, "orders": len(group["orders"]), "buyers": len(group["buyers"])}
        for group in sorted(groups.values(), key=lambda group: -group["sales"])
    ]


def _deal_lines(live: LiveSession, sold: list[dict]) -> list[dict]:
    by_deal = {line["key"]: line for line in sold}
    lines = []
    for deal in live.deals:
        line = by_deal.get(deal.id, {"orders": 0, "buyers": 0, "units": 0, "sales": 0})
        lines.append({**line, "deal": deal, "sell_through": line["units"] / deal.stock})
    return lines


def _per_minute(rows) -> list[dict]:
    minutes: dict[datetime, dict] = {}
    for row in sorted(rows, key=lambda row: row.created_at):
        minute = row.created_at.replace(second=0, microsecond=0)
        bucket = minutes.setdefault(minute, {"minute": minute, "orders": set(), "sales": 0})
        bucket["orders"].add(row.order_id)
        bucket["sales"] += row.quantity * row.price_fen
    return [{**bucket, "orders": len(bucket["orders"])} for bucket in minutes.values()]


def sessions_for_viewers(session: Session, now: datetime) -> dict[str, list[LiveSession]]:
    """Announced sessions: live now, coming up, and recently ended (with their replays)."""
    query = (
        select(LiveSession)
        .where(LiveSession.announced_at.is_not(None))
        .options(selectinload(LiveSession.seller))
    )
    open_now = session.scalars(
        query.where(LiveSession.status.in_([SessionStatus.live, SessionStatus.paused])).order_by(
            LiveSession.went_live_at.desc()
        )
    ).all()
    coming = session.scalars(
        query.where(LiveSession.status == SessionStatus.scheduled).order_by(LiveSession.starts_at)
    ).all()
    ended = session.scalars(
        query.where(LiveSession.status == SessionStatus.ended)
        .order_by(LiveSession.ended_at.desc())
        .limit(20)
    ).all()
    return {"live": list(open_now), "coming": list(coming), "ended": list(ended)}


def sessions_of(session: Session, organisation_id: int) -> list[LiveSession]:
    """A seller's sessions, the latest first."""
    return list(
        session.scalars(
            select(LiveSession)
            .where(LiveSession.organisation_id == organisation_id)
            .order_by(LiveSession.starts_at.desc())
        )
    )


def followed_ids(session: Session, user_id: int | None) -> set[int]:
    if user_id is None:
        return set()
    return set(session.scalars(select(Follow.live_session_id).where(Follow.user_id == user_id)))


def followers(session: Session, session_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Follow).where(Follow.live_session_id == session_id)
    )


def followed_sessions(session: Session, user_id: int) -> list[LiveSession]:
    """The sessions a person follows that have not ended: live ones first, then the next to start."""
    return list(
        session.scalars(
            select(LiveSession)
            .join(Follow, Follow.live_session_id == LiveSession.id)
            .where(Follow.user_id == user_id, LiveSession.status != SessionStatus.ended)
            .order_by(LiveSession.status != SessionStatus.live, LiveSession.starts_at)
            .limit(5)
        )
    )


def coming_sessions_of(session: Session, organisation_id: int) -> list[LiveSession]:
    """A seller's sessions not ended yet, the soonest first."""
    return list(
        session.scalars(
            select(LiveSession)
            .where(
                LiveSession.organisation_id == organisation_id,
                LiveSession.status != SessionStatus.ended,
            )
            .order_by(LiveSession.starts_at)
            .limit(5)
        )
    )

"""Flash deals: a deal price below the listing's lowest price of recent weeks, on stock set aside from the
listing, for a few minutes after a short countdown, at most so many per customer."""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.queries import lowest_price_since
from app.catalog.reserves import open_reserve
from app.catalog.services import own_listing
from app.db import utcnow
from app.errors import Conflict, NotFound, RuleViolation
from app.i18n import money
from app.live.models import FeaturedListing, FlashDeal, SessionStatus
from app.live.queries import deal_state
from app.live.services import _record, close_deal, own_session

COUNTDOWN_SECONDS = (10, 300)  # how long viewers are told "starting in ..."
DURATION_MINUTES = (1, 20)  # how long a deal runs
LOOKBACK_DAYS = 30  # a deal undercuts the lowest price of this many days (LIVE_PRICE_LOOKBACK_DAYS)


def start_deal(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    session_id: int,
    listing_id: int,
    price_fen: int,
    stock: int,
    per_customer_limit: int,
    countdown_seconds: int,
    duration_minutes: int,
    lookback_days: int = LOOKBACK_DAYS,
    now: datetime | None = None,
) -> FlashDeal:
    """Announce a deal: its stock is set aside from the listing now, and it opens when the countdown ends."""
    now = now or utcnow()
    live = own_session(session, session_id, organisation_id, lock=True)
    if live.status != SessionStatus.live:
        raise Conflict(_("Start deals while the session is live."), field="status")
    listing = own_listing(session, organisation_id, listing_id)
    _check_timing(countdown_seconds, duration_minutes)
    if any(deal.listing_id == listing.id and deal.ended_at is None for deal in _open(live, now)):
        raise Conflict(
            _("A deal on “%(title)s” is still on; end it first.", title=listing.title),
            field="listing_id",
        )
    was_fen = _lowest_recent_price(session, listing, now - timedelta(days=lookback_days))
    if price_fen >= was_fen:
        raise RuleViolation(
            _(
                "A deal price must be below %(price)s, the lowest price of the last %(days)d days.",
                price=money(was_fen),
                days=lookback_days,
            ),
            field="price",
        )
    if per_customer_limit > stock or per_customer_limit < listing.min_order:
        raise RuleViolation(
            _(
                "The limit per customer must be between the listing's minimum order (%(low)d) and "
                "the deal's stock (%(high)d).",
                low=listing.min_order,
                high=stock,
            ),
            field="per_customer_limit",
        )
    reserve = open_reserve(
        session,
        listing_id=listing.id,
        quantity=stock,
        channel=live.channel,
        per_buyer_limit=per_customer_limit,
        actor_id=actor_id,
        now=now,
    )
    opens_at = now + timedelta(seconds=countdown_seconds)
    deal = FlashDeal(
        live_session=live,
        listing=listing,
        reserve=reserve,
        price_fen=price_fen,
        was_fen=was_fen,
        stock=stock,
        per_customer_limit=per_customer_limit,
        opens_at=opens_at,
        closes_at=opens_at + timedelta(minutes=duration_minutes),
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(deal)
    if all(featured.listing_id != listing.id for featured in live.featured):
        live.featured.append(FeaturedListing(listing_id=listing.id, position=len(live.featured)))
    session.flush()  # the deal's id goes into the event viewers receive
    _record(session, "live.deal_started", live, actor_id, now, deal=deal_state(deal, now))
    return deal


def _check_timing(countdown_seconds: int, duration_minutes: int) -> None:
    low, high = COUNTDOWN_SECONDS
    if not low <= countdown_seconds <= high:
        raise RuleViolation(
            _("The countdown runs %(low)d to %(high)d seconds.", low=low, high=high),
            field="countdown_seconds",
        )
    low, high = DURATION_MINUTES
    if not low <= duration_minutes <= high:
        raise RuleViolation(
            _("A deal runs %(low)d to %(high)d minutes.", low=low, high=high),
            field="duration_minutes",
        )


def _open(live, now: datetime) -> list[FlashDeal]:
    return [deal for deal in live.deals if deal.ended_at is None and now < deal.closes_at]


def _lowest_recent_price(session: Session, listing, since: datetime) -> int:
    """The listing's lowest asking price since `since`, earlier deal prices included."""
    asked = lowest_price_since(session, listing, since)
    dealt = session.scalar(
        select(func.min(FlashDeal.price_fen)).where(
            FlashDeal.listing_id == listing.id, FlashDeal.created_at >= since
        )
    )
    return min(asked, dealt) if dealt is not None else asked


def end_deal(
    session: Session, *, organisation_id: int, actor_id: int, deal_id: int, now=None
) -> FlashDeal:
    """End a deal early: buying stops and what it did not sell goes back on the listing."""
    now = now or utcnow()
    deal = session.get(FlashDeal, deal_id)
    if deal is None:
        raise NotFound(_("Deal %(id)s does not exist.", id=deal_id))
    own_session(session, deal.live_session_id, organisation_id, lock=True)
    if deal.ended_at is not None:
        raise Conflict(_("This deal has already ended."))
    close_deal(session, deal, actor_id=actor_id, now=now)
    return deal


def deals_past_their_time(session: Session, *, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    query = select(FlashDeal.id).where(FlashDeal.ended_at.is_(None), FlashDeal.closes_at <= now)
    return list(session.scalars(query.order_by(FlashDeal.id)))


def close_deal_on_time(session: Session, *, deal_id: int, now: datetime | None = None) -> bool:
    """Close one deal whose time is up (the scheduler's work; exactly once however often it runs)."""
    now = now or utcnow()
    deal = session.scalar(
        select(FlashDeal).where(FlashDeal.id == deal_id).with_for_update(skip_locked=True)
    )
    if deal is None or deal.ended_at is not None or deal.closes_at > now:
        return False
    close_deal(session, deal, actor_id=None, now=now)
    return True

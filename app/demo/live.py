"""Demo live commerce: the tea cooperative's host live now with this spring's Cuiya pinned and a flash deal on
the gift tins, the chili cooperative's session announced for tomorrow evening, and one that has ended."""

from contextlib import suppress
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Membership, Organisation
from app.auth import Role
from app.catalog.models import Listing
from app.db import utcnow
from app.demo.orders import SUPERMARKET, owner
from app.errors import DomainError
from app.live import buying, deals, services
from app.live.models import LiveSession, SessionStatus

TEA, CHILI = 2, 4
STREAM = "https://live.douyin.com/meitan-cuiya"


def seed_live(session: Session, organisations: dict[int, Organisation]) -> int:
    """The demo's live sessions, once (nothing is added if any session exists)."""
    if session.scalar(select(LiveSession.id).limit(1)) is not None:
        return 0
    now = utcnow()
    tea, chili = organisations[TEA], organisations[CHILI]
    host = _host_of(session, tea)
    tins, special = _listing(session, tea, "250 克礼罐"), _listing(session, tea, "明前")
    ended = _session(session, tea, host, "上周翠芽品鉴直播", now - timedelta(days=7), [special])
    _step(session, tea, host, ended, SessionStatus.live, now - timedelta(days=7))
    _step(session, tea, host, ended, SessionStatus.ended, now - timedelta(days=7, hours=-2))
    ended.replay_url = f"{STREAM}/replay"
    on_air = _session(session, tea, host, "明前翠芽开春直播 · 龙凤村茶园", now, [special, tins])
    _step(session, tea, host, on_air, SessionStatus.live, now)
    services.pin_listing(
        session,
        organisation_id=tea.id,
        actor_id=host,
        session_id=on_air.id,
        listing_id=tins.id,
    )
    deal = deals.start_deal(
        session,
        organisation_id=tea.id,
        actor_id=host,
        session_id=on_air.id,
        listing_id=tins.id,
        price_fen=16800,
        stock=30,
        per_customer_limit=2,
        countdown_seconds=10,
        duration_minutes=20,
        now=now - timedelta(seconds=15),
    )
    _first_sale(session, organisations[SUPERMARKET], deal)
    chili_owner = owner(session, chili)
    tomorrow = (now + timedelta(days=1)).replace(hour=11, minute=30, second=0, microsecond=0)
    coming = _session(
        session,
        chili,
        chili_owner,
        "回龙村辣椒节 · 朝天椒产地直播",
        tomorrow,
        [_listing(session, chili, "")],
    )
    services.announce_session(
        session, organisation_id=chili.id, actor_id=chili_owner, session_id=coming.id
    )
    return 3


def _host_of(session: Session, organisation: Organisation) -> int:
    return session.scalar(
        select(Membership.user_id).where(
            Membership.organisation_id == organisation.id, Membership.role == Role.host
        )
    ) or owner(session, organisation)


def _listing(session: Session, seller: Organisation, words: str) -> Listing:
    return session.scalar(
        select(Listing)
        .where(Listing.organisation_id == seller.id, Listing.title.contains(words))
        .order_by(Listing.id)
        .limit(1)
    )


def _session(session, seller, host, title, starts_at, listings) -> LiveSession:
    """A session scheduled (in the past, for the demo's history, by scheduling it just before)."""
    return services.schedule_session(
        session,
        organisation_id=seller.id,
        actor_id=host,
        title=title,
        starts_at=starts_at + timedelta(minutes=1),
        listing_ids=[listing.id for listing in listings],
        stream_url=STREAM,
        description="茶园现场采摘、制茶演示，主播带你认识湄潭翠芽。",
        now=starts_at,
    )


def _step(session, seller, host, live, status, now) -> None:
    services.change_status(
        session,
        organisation_id=seller.id,
        actor_id=host,
        session_id=live.id,
        status=status,
        now=now,
    )


def _first_sale(session: Session, supermarket: Organisation, deal) -> None:
    """The supermarket's buyer takes two tins, so the console and the report have something to show."""
    # A wallet short of money refuses the purchase; the savepoint undoes only that, and the deal simply
    # has no sale yet.
    with suppress(DomainError), session.begin_nested():
        buying.buy(
            session,
            session_id=deal.live_session_id,
            buyer_id=supermarket.id,
            buyer_kind=supermarket.kind,
            actor_id=owner(session, supermarket),
            quantity=2,
            deal_id=deal.id,
        )

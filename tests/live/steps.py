"""Live-session steps as tests take them: a cooperative's host with chili on sale, a session gone live,
a flash deal, and buyers with money in their wallets."""

from datetime import timedelta

from app.auth import OrgKind, Role
from app.db import utcnow
from app.live import buying, deals, services
from app.live.models import SessionStatus
from app.orders.models import PaymentMethod
from tests.factories import ListingFactory, member
from tests.orders.steps import credit


def host_with_chili(session, quantity: int = 500, price_fen: int = 3000):
    """A cooperative's host, and its dried chili on sale at ¥30.00/kg."""
    host = member(kind=OrgKind.cooperative, role=Role.host)
    chili = ListingFactory(
        seller=host.organisation,
        product_code="meitan_cuiya",
        title="湄潭辣椒 干椒",
        quantity=quantity,
        price_fen=price_fen,
    )
    return host, chili


def buyer_with_money(session, fen: int = 1_000_000, kind: OrgKind = OrgKind.supermarket):
    buyer = member(kind=kind, role=Role.staff)
    credit(session, buyer.organisation_id, fen)
    return buyer


def live_session(session, host, listings, *, now=None, status=SessionStatus.live):
    """A session of `host`'s featuring `listings`, announced and (by default) live."""
    now = now or utcnow()
    live = services.schedule_session(
        session,
        organisation_id=host.organisation_id,
        actor_id=host.user_id,
        title="辣椒节直播",
        starts_at=now + timedelta(minutes=5),
        listing_ids=[listing.id for listing in listings],
        stream_url="https://live.example.cn/meitan",
        now=now,
    )
    services.announce_session(
        session, organisation_id=host.organisation_id, actor_id=host.user_id, session_id=live.id
    )
    if status != SessionStatus.scheduled:
        services.change_status(
            session,
            organisation_id=host.organisation_id,
            actor_id=host.user_id,
            session_id=live.id,
            status=SessionStatus.live,
            now=now,
        )
    return live


def flash_deal(session, host, live, listing, *, now=None, **changes):
    """100 kg at ¥19.90 (below ¥30.00), 2 per customer, opening after 10 s, for 5 minutes."""
    values = {
        "price_fen": 1990,
        "stock": 100,
        "per_customer_limit": 2,
        "countdown_seconds": 10,
        "duration_minutes": 5,
        **changes,
    }
    return deals.start_deal(
        session,
        organisation_id=host.organisation_id,
        actor_id=host.user_id,
        session_id=live.id,
        listing_id=listing.id,
        now=now or utcnow(),
        **values,
    )


def buy_deal(session, buyer, deal, quantity: int, *, now=None, **kwargs):
    """`buyer` (a Membership) buys from the deal once it is open."""
    return buying.buy(
        session,
        session_id=deal.live_session_id,
        buyer_id=buyer.organisation_id,
        buyer_kind=buyer.organisation.kind,
        actor_id=buyer.user_id,
        quantity=quantity,
        deal_id=deal.id,
        payment=kwargs.pop("payment", PaymentMethod.wallet),
        now=now or deal.opens_at + timedelta(seconds=1),
        **kwargs,
    )

"""Tenders (竞卖/招标): a school or a supermarket posts a need (product, grade, quantity, delivery day and
window, the most it will pay per kg, when bidding closes); sellers bid prices down; at the close the lowest
responsive bid wins (the earliest of equal bids), and the award becomes an order contract the buyer drafts
and sends to the winner, to sign as any contract is signed.

Each bid takes the tender's row lock (PostgreSQL) or the writer's turn (SQLite), so the lowest price shown
and the count are always those of the bids stored. Closing is checked under the same lock, so it runs once.
"""

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.auth import SELLER_KINDS
from app.catalog.models import Listing, ListingStatus, Unit
from app.contracts import services as contracts
from app.contracts.terms import Payment, PriceRule
from app.db import LOCAL_TIME, local_date, utcnow
from app.errors import Conflict, DomainError, NotFound, RuleViolation
from app.exchange import members
from app.exchange.instruments import check_product_grade
from app.exchange.models import Tender, TenderBid, TenderStatus
from app.i18n import money


def post_tender(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int,
    title: str,
    product_id: int,
    grade_id: int,
    kg: int,
    max_price_fen: int,
    delivery_on: date,
    window_start: time,
    window_end: time,
    delivery_point: str,
    closes_at: datetime,
    note: str = "",
    now: datetime | None = None,
) -> Tender:
    """Put a need out to tender; sellers may bid until `closes_at`."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    check_product_grade(session, product_id, grade_id)
    if closes_at <= now:
        raise RuleViolation(_("Bidding must close in the future."), field="closes_at")
    if delivery_on <= local_date(closes_at) + timedelta(days=1):
        # the award's contract needs a delivery day after the day it is drawn up, whenever the close runs
        raise RuleViolation(
            _("Delivery comes at least two days after bidding closes."), field="delivery_on"
        )
    if window_end <= window_start:
        raise RuleViolation(_("The delivery window must end after it starts."), field="window_end")
    tender = Tender(
        buyer_id=organisation_id,
        product_id=product_id,
        grade_id=grade_id,
        title=title,
        kg=kg,
        max_price_fen=max_price_fen,
        delivery_on=delivery_on,
        window_start=window_start,
        window_end=window_end,
        delivery_point=delivery_point,
        note=note,
        closes_at=closes_at,
        created_by_id=actor_id,
        created_at=now,
    )
    session.add(tender)
    session.flush()  # the event names the tender
    _record(session, "exchange.tender_posted", tender, actor_id, now)
    return tender


def place_tender_bid(
    session: Session,
    *,
    organisation_id: int,
    organisation_kind: str,
    actor_id: int,
    tender_id: int,
    listing_id: int,
    price_fen: int,
    now: datetime | None = None,
) -> TenderBid:
    """Offer to fill the tender at a price per kg from one of the seller's listings; a seller's next bid
    must undercut its last."""
    now = now or utcnow()
    members.check_may_trade(session, organisation_id)
    tender = _locked(session, tender_id)
    if organisation_kind not in SELLER_KINDS:
        raise RuleViolation(_("Only sellers bid in tenders."), field="tender_id")
    if tender.status != TenderStatus.open or now >= tender.closes_at:
        raise Conflict(_("Bidding on this tender has closed."), field="tender_id")
    grams = _check_listing(session, tender, organisation_id, listing_id)
    if price_fen * grams % 1000:
        raise RuleViolation(
            _(
                "At this price a unit of your listing would cost part of a fen; bid a price that divides."
            ),
            field="price_yuan",
        )
    if price_fen > tender.max_price_fen:
        raise RuleViolation(
            _("The buyer pays at most %(price)s per kg.", price=money(tender.max_price_fen)),
            field="price_yuan",
        )
    own = _latest_bid(session, tender.id, organisation_id)
    if own is not None and price_fen >= own.price_fen:
        raise Conflict(
            _(
                "Your bid stands at %(price)s per kg; a new bid must be lower.",
                price=money(own.price_fen),
            ),
            field="price_yuan",
        )
    bid = TenderBid(
        tender_id=tender.id,
        seller_id=organisation_id,
        listing_id=listing_id,
        placed_by_id=actor_id,
        price_fen=price_fen,
        placed_at=now,
    )
    session.add(bid)
    tender.bid_count += 1
    tender.lowest_fen = min(price_fen, tender.lowest_fen or price_fen)
    session.flush()  # the event names the bid
    _record(
        session,
        "exchange.tender_bid",
        tender,
        actor_id,
        now,
        bid_id=bid.id,
        seller_id=organisation_id,
    )
    return bid


def _check_listing(session: Session, tender: Tender, organisation_id: int, listing_id: int) -> int:
    """The listing is the seller's own, of the product and grade asked for; the grams in its unit."""
    listing = session.get(Listing, listing_id)
    if (
        listing is None
        or listing.organisation_id != organisation_id
        or listing.status == ListingStatus.draft
    ):
        raise RuleViolation(_("Bid from one of your listings."), field="listing_id")
    if (listing.product_id, listing.grade_id) != (tender.product_id, tender.grade_id):
        raise RuleViolation(
            _("That listing is not of the product and grade asked for."), field="listing_id"
        )
    grams = session.get(Unit, listing.unit_code).grams
    if (tender.kg * 1000) % grams:
        raise RuleViolation(
            _("The quantity asked for is not a whole number of this listing's units."),
            field="listing_id",
        )
    return grams


def _latest_bid(session: Session, tender_id: int, seller_id: int) -> TenderBid | None:
    return session.scalar(
        select(TenderBid)
        .where(TenderBid.tender_id == tender_id, TenderBid.seller_id == seller_id)
        .order_by(TenderBid.id.desc())
        .limit(1)
    )


def _locked(session: Session, tender_id: int) -> Tender:
    tender = session.get(Tender, tender_id, with_for_update=True, populate_existing=True)
    if tender is None:
        raise NotFound(_("No such tender."))
    return tender


def withdraw_tender(
    session: Session, *, organisation_id: int, actor_id: int, tender_id: int
) -> Tender:
    """Call a tender off, while nobody has bid."""
    tender = _locked(session, tender_id)
    if tender.buyer_id != organisation_id:
        raise NotFound(_("No such tender."))
    if tender.status != TenderStatus.open or tender.bid_count:
        raise Conflict(_("A tender with bids, or closed, cannot be withdrawn."), field="tender_id")
    tender.status, tender.closed_at = TenderStatus.withdrawn, utcnow()
    _record(session, "exchange.tender_withdrawn", tender, actor_id, tender.closed_at)
    return tender


def close_tender(session: Session, *, tender_id: int, now: datetime | None = None) -> bool:
    """Award a tender whose bidding has closed, exactly once: the lowest bid (the earliest of equals) wins
    and its order contract goes to the seller to sign. False if not due or already closed."""
    now = now or utcnow()
    tender = _locked(session, tender_id)
    if tender.status != TenderStatus.open or tender.closes_at > now:
        return False
    tender.closed_at = now
    bids = session.scalars(
        select(TenderBid)
        .where(TenderBid.tender_id == tender.id)
        .order_by(TenderBid.price_fen, TenderBid.id)
    ).all()
    for bid in bids:
        try:
            with session.begin_nested():  # a bid whose contract cannot be made passes to the next
                contract = _award(session, tender, bid, now)
        except DomainError:
            continue
        bid.won = True
        tender.status, tender.contract_id = TenderStatus.awarded, contract.id
        _record(
            session,
            "exchange.tender_closed",
            tender,
            None,
            now,
            bid_id=bid.id,
            seller_id=bid.seller_id,
        )
        return True
    tender.status = TenderStatus.unawarded
    _record(session, "exchange.tender_closed", tender, None, now)
    return True


def _award(session: Session, tender: Tender, winner: TenderBid, now: datetime):
    """The order contract the award becomes: the tender's terms at the winning price, drafted by the buyer
    and sent to the seller."""
    listing = session.get(Listing, winner.listing_id)
    grams = session.get(Unit, listing.unit_code).grams
    terms = {
        "quantity": tender.kg * 1000 // grams,
        "area_mu": None,
        "yield_per_mu": None,
        "follows_output": False,
        "quality_spec": tender.note,
        "price_rule": PriceRule.fixed.value,
        "price_fen": winner.price_fen * grams // 1000,
        "market_adjust_bps": 0,
        "deposit_bps": 0,
        "penalty_bps": 0,
        "payment": Payment.on_acceptance.value,
        "payment_days": 0,
        "instalments": [
            {"due_on": tender.delivery_on.isoformat(), "quantity": tender.kg * 1000 // grams}
        ],
        "delivery_point": tender.delivery_point,
        "window_start": tender.window_start.strftime("%H:%M"),
        "window_end": tender.window_end.strftime("%H:%M"),
        "tolerance_bps": 0,
        "order_days_ahead": 1,
        "force_majeure": "",
        "disputes": "",
    }
    buyer_actor = tender.created_by_id
    contract = contracts.create_contract(
        session,
        organisation_id=tender.buyer_id,
        actor_id=buyer_actor,
        listing_id=listing.id,
        buyer_id=tender.buyer_id,
        title=_("Tender %(id)d: %(title)s", id=tender.id, title=tender.title),
        terms=terms,
        note=_(
            "Awarded at %(price)s per kg, bidding closed %(time)s.",
            price=money(winner.price_fen),
            time=now.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M"),
        ),
        now=now,
    )
    contracts.send_contract(
        session,
        organisation_id=tender.buyer_id,
        actor_id=buyer_actor,
        contract_id=contract.id,
        now=now,
    )
    return contract


def tenders_due(session: Session, *, now: datetime) -> list[int]:
    """The open tenders whose bidding has closed."""
    query = select(Tender.id).where(Tender.status == TenderStatus.open, Tender.closes_at <= now)
    return list(session.scalars(query.order_by(Tender.closes_at)))


def _record(session, kind, tender: Tender, actor_id, now, **extra) -> None:
    events.record(
        session,
        kind,
        organisation_id=tender.buyer_id,
        actor_id=actor_id,
        subject=f"tender:{tender.id}",
        payload={
            "tender_id": tender.id,
            "status": tender.status.value,
            "bid_count": tender.bid_count,
            "lowest_fen": tender.lowest_fen,
            **extra,
        },
        now=now,
    )

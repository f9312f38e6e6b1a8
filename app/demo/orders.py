"""Demo money and orders: funded wallets, a school buying on account, and orders at every step, so each demo
account finds something to do (ship, accept at the gate, resolve a dispute, run a payout)."""

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Membership, Organisation, User
from app.catalog.models import Listing, ListingStatus
from app.db import local_date, utcnow
from app.orders import delivery, services
from app.orders.models import Order, PaymentMethod, TestOutcome
from app.payments.services import confirm_bank_transfer, set_credit_terms

# demo organisation serial -> (bank reference, yuan in its wallet)
WALLETS = {
    9: ("ICBC-20261120-0931", 50_000),
    10: ("ABC-20261121-1402", 20_000),
    11: ("CCB-20261119-0815", 100_000),
}
SCHOOL, SUPERMARKET = 7, 9


def seed_orders(session: Session, organisations: dict[int, Organisation], admin_id: int) -> int:
    """Money and orders for the demo, once (nothing is added if any order exists); how many orders."""
    if session.scalar(select(Order.id).limit(1)) is not None:
        return 0
    now = utcnow()
    for serial, (reference, yuan) in WALLETS.items():
        confirm_bank_transfer(
            session,
            actor_id=admin_id,
            organisation_id=organisations[serial].id,
            reference=reference,
            amount_fen=yuan * 100,
            received_on=local_date(now) - timedelta(days=3),
        )
    school = organisations[SCHOOL]
    set_credit_terms(
        session, actor_id=admin_id, organisation_id=school.id, limit_fen=2_000_000, days=30
    )
    sellers = [organisations[serial] for serial in (2, 3, 4)]
    supermarket_orders = _checkout(
        session, organisations[SUPERMARKET], sellers, PaymentMethod.wallet, now
    )
    school_orders = _checkout(session, school, sellers[:2], PaymentMethod.account, now)
    _move_along(session, supermarket_orders, school_orders, now)
    return len(supermarket_orders) + len(school_orders)


def _checkout(session, buyer, sellers, payment, now: datetime) -> list[Order]:
    listings = [_listing_of(session, seller) for seller in sellers]
    lines = [
        {"listing_id": listing.id, "quantity": max(listing.min_order, 2)} for listing in listings
    ]
    placed = services.place_orders(
        session,
        buyer_id=buyer.id,
        buyer_kind=buyer.kind,
        actor_id=owner(session, buyer),
        lines=lines,
        delivery=services.Delivery(
            buyer.address or buyer.name_zh,
            local_date(now) + timedelta(days=1),
            time(6),
            time(6, 30),
        ),
        payment=payment,
        now=now,
    )
    return placed.orders


def _move_along(session, supermarket_orders, school_orders, now) -> None:
    """One order accepted in part, one disputed, one left paid to ship; the school's at the gate."""
    accepted, disputed, _left_to_ship = supermarket_orders
    for order in (accepted, disputed, *school_orders):
        delivery.ship_order(
            session,
            seller_id=order.seller_id,
            actor_id=owner(session, order.seller),
            order_id=order.id,
            now=now,
        )
    line = accepted.lines[0]
    delivery.accept_order(
        session,
        buyer_id=accepted.buyer_id,
        actor_id=owner(session, accepted.buyer),
        order_id=accepted.id,
        accepted={line.id: line.quantity - 1},
        inspectors="马军、超市质检员",
        test_outcome=TestOutcome.passed,
        weights="电子秤复称",
        note="一件外包装破损，退回",
        now=now,
    )
    delivery.open_dispute(
        session,
        buyer_id=disputed.buyer_id,
        actor_id=owner(session, disputed.buyer),
        order_id=disputed.id,
        reason="到货时部分受潮，附照片",
        now=now,
    )
    delivery.mark_delivered(
        session,
        seller_id=school_orders[0].seller_id,
        actor_id=owner(session, school_orders[0].seller),
        order_id=school_orders[0].id,
        now=now,
    )


def _listing_of(session: Session, seller: Organisation) -> Listing:
    return session.scalar(
        select(Listing)
        .where(
            Listing.organisation_id == seller.id,
            Listing.status == ListingStatus.active,
            Listing.visible_to == 0,  # offered to every kind of buyer
        )
        .order_by(Listing.id)
        .limit(1)
    )


def owner(session: Session, organisation: Organisation) -> int:
    """The organisation's first member: who acts for it in the demo."""
    return session.scalar(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation.id)
        .order_by(Membership.id)
        .limit(1)
    )

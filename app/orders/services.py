"""Placing orders: a checkout becomes one order per seller, stock is taken at once, and money is held.

Stock is taken by one conditional UPDATE per line, so of two buyers racing for the last kilogram exactly one
gets it, on SQLite and PostgreSQL alike; if any line or the payment fails, the whole checkout rolls back.
"""

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from app import events
from app.accounts.models import Organisation
from app.auth import OrgKind
from app.catalog.models import Listing, ListingStatus, StockKind, StockMovement
from app.catalog.reserves import check_reserve, give_back, take_from_reserve
from app.db import local_date, utcnow
from app.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from app.i18n import money as yuan_with_sign
from app.orders import money
from app.orders.models import Checkout, Order, OrderLine, OrderStatus, PaymentMethod
from app.payments import card, ledger
from app.payments.ledger import InsufficientFunds
from app.payments.services import current_fee_bps
from app.payments.stripe_gateway import StripeGateway

UNPAID_MINUTES = 60  # how long a placed, unpaid order keeps its stock (ORDER_UNPAID_MINUTES)
# The checkout keys the platform gives its own orders ("contract:12:3", "standing:4:2026-12-07") contain
# ":", which a buyer's own Idempotency-Key may not: no buyer can take a key the scheduler will use.
PLATFORM_KEY_MARK = ":"


@dataclass(frozen=True)
class Delivery:
    point: str
    day: date
    window_start: time
    window_end: time
    note: str = ""


@dataclass(frozen=True)
class Placed:
    checkout_id: int
    orders: list[Order]
    replayed: bool  # True: this Idempotency-Key was seen before; these are the orders it made then


def place_orders(
    session: Session,
    *,
    buyer_id: int,
    buyer_kind: OrgKind,
    actor_id: int,
    lines: list[dict],
    delivery: Delivery,
    payment: PaymentMethod = PaymentMethod.wallet,
    idempotency_key: str | None = None,
    unpaid_minutes: int = UNPAID_MINUTES,
    takes_cards: bool = False,
    agreed_prices: dict[int, int] | None = None,
    payment_days: int | None = None,
    reserves: dict[int, int] | None = None,
    now: datetime | None = None,
) -> Placed:
    """Check out a cart: one order per seller, stock taken, the money held (or the order left to pay).
    `takes_cards`: the platform has a card provider (Stripe). `agreed_prices`: fen per unit by listing,
    in place of the listing's price, and `payment_days` to pay an invoice (an order contract's terms).
    `reserves`: the stock reserve (a flash deal's) to take each of these listings from instead."""
    now = now or utcnow()
    wanted = _merged(lines)
    _check_delivery(delivery, now)
    if payment == PaymentMethod.card and not takes_cards:
        raise RuleViolation(
            _("This platform does not take cards; pay from your wallet."), field="payment"
        )
    request_hash = _fingerprint(wanted, delivery, payment)
    checkout_id = _claim_checkout(session, buyer_id, idempotency_key, request_hash, now)
    if checkout_id is None:
        checkout = _replay(session, buyer_id, idempotency_key, request_hash)
        return Placed(checkout.id, list(checkout.orders), replayed=True)
    reserves = reserves or {}
    listings = _listings_for(session, wanted, buyer_id, buyer_kind, now, reserves)
    fee_bps = current_fee_bps(session)
    by_seller: dict[int, list[Listing]] = defaultdict(list)
    for listing in listings:
        by_seller[listing.organisation_id].append(listing)
    buyer = session.get(Organisation, buyer_id)
    holding = payment in (PaymentMethod.wallet, PaymentMethod.account)
    lines = _take_stock(session, listings, wanted, agreed_prices or {}, reserves)
    lines |= _reserved_lines(session, listings, wanted, agreed_prices or {}, reserves, buyer_id)
    orders = []
    for offered in by_seller.values():
        order = Order(
            checkout_id=checkout_id,
            buyer=buyer,
            seller=offered[0].seller,
            placed_by_id=actor_id,
            payment=payment,
            fee_bps=fee_bps,
            payment_days=payment_days,
            placed_at=now,
            lines=[lines[listing.id] for listing in offered],
            inspection=None,
            dispute=None,
            **_terms(delivery, holding, now, unpaid_minutes),
        )
        order.total_fen = sum(line.amount_fen for line in order.lines)
        session.add(order)
        session.flush()  # the order's id names its stock movements, its event and its escrow
        _move_stock(session, StockKind.ordered, order, actor_id, now)
        record_step(session, "order.placed", order, actor_id, now, total_fen=order.total_fen)
        orders.append(order)
    if holding:
        _hold_all(session, orders, actor_id)
    # Last, so that the deal's one row, which every buyer of the deal needs, stays locked only until the
    # commit that follows.
    _take_reserves(session, lines.values(), buyer_id)
    return Placed(checkout_id, orders, replayed=False)


def _terms(delivery: Delivery, holding: bool, now: datetime, unpaid_minutes: int) -> dict:
    """A new order's delivery and payment columns: paid now, or waiting for payment until it expires."""
    return {
        "delivery_point": delivery.point,
        "delivery_date": delivery.day,
        "window_start": delivery.window_start,
        "window_end": delivery.window_end,
        "note": delivery.note,
        "status": OrderStatus.paid if holding else OrderStatus.placed,
        "paid_at": now if holding else None,
        "expires_at": None if holding else now + timedelta(minutes=unpaid_minutes),
    }


def _merged(lines: list[dict]) -> dict[int, int]:
    """Quantities per listing, in the order first asked for (the same listing twice is one line)."""
    if not lines:
        raise RuleViolation(_("Add at least one item to the order."), field="lines")
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line["listing_id"]] = wanted.get(line["listing_id"], 0) + line["quantity"]
    return wanted


def _check_delivery(delivery: Delivery, now: datetime) -> None:
    if delivery.day < local_date(now):
        raise RuleViolation(_("The delivery date has passed."), field="delivery_date")
    if delivery.window_end <= delivery.window_start:
        raise RuleViolation(_("The delivery window must end after it starts."), field="window_end")


def _fingerprint(wanted: dict[int, int], delivery: Delivery, payment: PaymentMethod) -> str:
    request = {
        "lines": sorted(wanted.items()),
        "delivery": [delivery.point, str(delivery.day), str(delivery.window_start)],
        "window_end": str(delivery.window_end),
        "note": delivery.note,
        "payment": str(payment),
    }
    return hashlib.sha256(json.dumps(request, ensure_ascii=False).encode()).hexdigest()


def _claim_checkout(session, buyer_id, key, request_hash, now) -> int | None:
    """A new checkout's id, or None when this buyer used the key before (a concurrent twin waits here)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Checkout)
        .values(
            buyer_id=buyer_id,
            idempotency_key=key or uuid.uuid4().hex,
            request_hash=request_hash,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["buyer_id", "idempotency_key"])
        .returning(Checkout.id)
    )
    return session.scalar(statement)


def _replay(session: Session, buyer_id: int, key: str, request_hash: str) -> Checkout:
    checkout = session.scalar(
        select(Checkout).where(Checkout.buyer_id == buyer_id, Checkout.idempotency_key == key)
    )
    if checkout.request_hash != request_hash:
        raise Conflict(
            _(
                "This Idempotency-Key was already used for a different order. Use a new key for a "
                "new order."
            ),
            field="Idempotency-Key",
        )
    return checkout


def _listings_for(
    session: Session,
    wanted: dict[int, int],
    buyer_id: int,
    buyer_kind: OrgKind,
    now: datetime,
    reserves: dict[int, int],
) -> list[Listing]:
    """The listings asked for, each checked: on sale to this buyer, and at least its minimum order."""
    found = {
        listing.id: listing
        for listing in session.scalars(
            select(Listing)
            .where(Listing.id.in_(wanted))
            .options(selectinload(Listing.seller), selectinload(Listing.batch))
        )
    }
    for position, (listing_id, quantity) in enumerate(wanted.items()):
        check_orderable(
            found.get(listing_id),
            listing_id,
            quantity,
            buyer_id=buyer_id,
            buyer_kind=buyer_kind,
            now=now,
            field=f"lines.{position}",
            reserved=listing_id in reserves,
        )
    return [found[listing_id] for listing_id in wanted]


def check_orderable(
    listing: Listing | None,
    listing_id: int,
    quantity: int,
    *,
    buyer_id: int,
    buyer_kind: OrgKind,
    now: datetime,
    field: str,
    reserved: bool = False,
) -> None:
    """Refuse a line unless its listing is on sale to this buyer and the quantity is at least its minimum.
    `reserved`: the stock comes from a reserve, so the listing's own stock may well be sold out."""
    if listing is None or not listing.visible_to_kind(buyer_kind) or listing.status == "draft":
        raise NotFound(_("Listing %(id)s does not exist.", id=listing_id), field=field)
    if listing.organisation_id == buyer_id:
        raise RuleViolation(_("You cannot order your own produce."), field=field)
    if listing.status == ListingStatus.sold_out and not reserved:
        raise Conflict(_("“%(title)s” has sold out.", title=listing.title), field=field)
    set_aside = reserved and listing.status == ListingStatus.sold_out  # the listing's rest is gone
    if not (listing.is_on_sale(now) or (set_aside and not listing.is_expired(now))):
        raise Conflict(_("“%(title)s” is not on sale now.", title=listing.title), field=field)
    if quantity < listing.min_order:
        raise RuleViolation(
            _(
                "“%(title)s” sells at least %(n)d %(unit)s per order.",
                title=listing.title,
                n=listing.min_order,
                unit=listing.unit_code,
            ),
            field=f"{field}.quantity",
        )


def _take_stock(
    session: Session,
    listings: list[Listing],
    wanted: dict[int, int],
    agreed: dict[int, int],
    reserves: dict[int, int],
) -> dict[int, OrderLine]:
    """Take each listing's quantity at its price this moment (or the agreed price): the order lines.

    Listings are locked in id order, as every writer of stock does, so two checkouts (or a checkout and a
    cancellation) never each hold a row the other waits for."""
    lines = {}
    for listing in sorted(listings, key=lambda listing: listing.id):
        if listing.id in reserves:
            continue
        quantity = wanted[listing.id]
        price_fen = session.scalar(
            update(Listing)
            .where(
                Listing.id == listing.id,
                Listing.status == ListingStatus.active,
                Listing.quantity >= quantity,
            )
            .values(
                quantity=Listing.quantity - quantity,
                status=case(
                    (Listing.quantity == quantity, ListingStatus.sold_out),
                    else_=Listing.status,
                ),
            )
            .returning(Listing.price_fen)
            .execution_options(synchronize_session=False)
        )
        if price_fen is None:
            raise Conflict(_out_of_stock(session, listing), field="quantity")
        lines[listing.id] = OrderLine(
            listing_id=listing.id,
            batch=listing.batch,
            title=listing.title,
            unit_code=listing.unit_code,
            quantity=quantity,
            price_fen=agreed.get(listing.id, price_fen),
        )
    return lines


def _reserved_lines(session, listings, wanted, agreed, reserves, buyer_id) -> dict[int, OrderLine]:
    """The lines whose stock comes out of a reserve (a flash deal), at the agreed price; one that plainly
    cannot be had (sold out, over the limit) is refused before any work is done."""
    lines = {}
    for listing in listings:
        if listing.id not in reserves:
            continue
        check_reserve(
            session,
            reserve_id=reserves[listing.id],
            buyer_id=buyer_id,
            quantity=wanted[listing.id],
            unit=listing.unit_code,
        )
        lines[listing.id] = OrderLine(
            listing_id=listing.id,
            batch=listing.batch,
            title=listing.title,
            unit_code=listing.unit_code,
            quantity=wanted[listing.id],
            price_fen=agreed.get(listing.id, listing.price_fen),
            reserve_id=reserves[listing.id],
        )
    return lines


def _take_reserves(session, lines, buyer_id: int) -> None:
    for line in sorted(lines, key=lambda line: line.reserve_id or 0):
        if line.reserve_id is not None:
            take_from_reserve(
                session,
                reserve_id=line.reserve_id,
                buyer_id=buyer_id,
                quantity=line.quantity,
                unit=line.unit_code,
            )


def _out_of_stock(session: Session, listing: Listing) -> str:
    left = session.scalar(select(Listing.quantity).where(Listing.id == listing.id))
    if not left:
        return _("“%(title)s” has sold out.", title=listing.title)
    return _(
        "Only %(n)d %(unit)s of “%(title)s” is left; order that much or less.",
        n=left,
        unit=listing.unit_code,
        title=listing.title,
    )


def _move_stock(session, kind: StockKind, order: Order, actor_id, now) -> None:
    """Record each line's stock taken (or given back), with the order as the reason."""
    sign = -1 if kind == StockKind.ordered else 1
    for line in order.lines:
        if line.reserve_id is not None:  # the listing's stock moved when the reserve opened
            continue
        balance = select(Listing.quantity).where(Listing.id == line.listing_id).scalar_subquery()
        session.execute(
            insert(StockMovement).values(
                listing_id=line.listing_id,
                kind=kind,
                delta=sign * line.quantity,
                balance=balance,
                reason=f"order:{order.id}",
                actor_id=actor_id,
                created_at=now,
            )
        )


def _hold_all(session, orders: list[Order], actor_id) -> None:
    """Hold every order's money now; all of it or none."""
    source = money.buyer_account(orders[0])
    try:
        for order in orders:
            money.hold(session, order, actor_id=actor_id)
    except InsufficientFunds as short:
        total = sum(order.total_fen for order in orders)
        held = sum(order.total_fen for order in orders[: orders.index(order)])
        available = ledger.available(session, source) + held
        if source.startswith("wallet:"):
            message = _(
                "These orders come to %(total)s; your wallet holds %(yuan)s. Top it up by bank "
                "transfer first, or choose to pay later.",
                total=yuan_with_sign(total),
                yuan=yuan_with_sign(available),
            )
        else:
            message = _(
                "These orders come to %(total)s; %(yuan)s of your credit limit is left.",
                total=yuan_with_sign(total),
                yuan=yuan_with_sign(available),
            )
        raise InsufficientFunds(message, code=short.code) from short


def start_card_payment(
    session: Session,
    gateway: StripeGateway | None,
    *,
    checkout_id: int,
    now: datetime | None = None,
):
    """The card payment for a checkout's card orders still waiting for it (a PaymentIntent, made once)."""
    existing = card.card_payment_of(session, checkout_id)
    if existing is not None:
        return existing
    waiting = session.scalars(
        select(Order).where(
            Order.checkout_id == checkout_id,
            Order.payment == PaymentMethod.card,
            Order.status == OrderStatus.placed,
        )
    ).all()
    if not waiting:
        raise Conflict(_("Nothing in checkout %(id)s waits for a card payment.", id=checkout_id))
    return card.start_card_payment(
        session,
        gateway,
        checkout_id=checkout_id,
        buyer_id=waiting[0].buyer_id,
        amount_fen=sum(order.total_fen for order in waiting),
        now=now,
    )


def card_payment_succeeded(
    session: Session, *, intent_id: str, charge_id: str | None = None, now: datetime | None = None
) -> int:
    """Stripe confirmed a card payment: its orders are paid (one cancelled meanwhile is refunded)."""
    now = now or utcnow()
    payment = card.payment_by_intent(session, intent_id)
    if payment is None or payment.succeeded_at is not None:
        return 0
    payment.succeeded_at, payment.charge_id = now, charge_id
    orders = session.scalars(
        select(Order)
        .where(Order.checkout_id == payment.checkout_id)
        .order_by(Order.id)
        .with_for_update()
    ).all()
    for order in orders:
        if order.status == OrderStatus.placed:
            order.move_to(OrderStatus.paid)
            order.paid_at, order.expires_at = now, None
            money.card_paid(session, order, intent_id=intent_id)
            record_step(session, "order.paid", order, None, now, payment=str(order.payment))
        else:  # cancelled (or expired) before the money arrived: it goes straight back
            money.refund_late_card_payment(session, order)
            record_step(
                session, "order.refunded", order, None, now, reason="paid after cancellation"
            )
    return len(orders)


def pay_order(
    session: Session,
    *,
    buyer_id: int,
    actor_id: int,
    order_id: int,
    payment: PaymentMethod,
    now: datetime | None = None,
) -> Order:
    """Pay an order placed for later: from the wallet, or on account."""
    now = now or utcnow()
    order = order_of(session, order_id, buyer_id, side="buyer")
    if payment in (PaymentMethod.later, PaymentMethod.card):
        raise RuleViolation(_("Choose how to pay: wallet or on account."), field="payment")
    if (
        order.payment == PaymentMethod.card
    ):  # its card payment may still arrive: it would be paid twice
        raise Conflict(
            _("Order %(id)s is being paid by card; finish the card payment.", id=order.id),
            field="payment",
        )
    order.move_to(OrderStatus.paid)
    order.payment, order.paid_at, order.expires_at = payment, now, None
    money.hold(session, order, actor_id=actor_id)
    record_step(session, "order.paid", order, actor_id, now, payment=str(payment))
    return order


def cancel_order(
    session: Session,
    *,
    organisation_id: int,
    actor_id: int | None,
    order_id: int,
    reason: str = "",
    now: datetime | None = None,
) -> Order:
    """Cancel an order not yet shipped (buyer or seller): its stock goes back, any money held goes back."""
    now = now or utcnow()
    order = order_of(session, order_id, organisation_id)
    return _cancel(session, order, actor_id, reason, now)


def _cancel(session: Session, order: Order, actor_id: int | None, reason: str, now) -> Order:
    was_paid = order.holds_money
    order.move_to(OrderStatus.cancelled)
    order.cancelled_at, order.cancel_reason, order.expires_at = now, reason, None
    # Listings, then money, then reserves: the order in which a checkout takes its locks.
    for line in sorted(order.lines, key=lambda line: line.listing_id):
        if line.reserve_id is None:
            session.execute(
                update(Listing)
                .where(Listing.id == line.listing_id)
                .values(quantity=Listing.quantity + line.quantity)
                .execution_options(synchronize_session=False)
            )
            listing = session.get(Listing, line.listing_id)
            session.refresh(listing, ["quantity", "status"])
            listing.settle_status(now)
    _move_stock(session, StockKind.released, order, actor_id, now)
    if was_paid:
        money.release(session, order, step="cancel", actor_id=actor_id)
    for line in sorted(order.lines, key=lambda line: line.reserve_id or 0):
        if line.reserve_id is not None:
            give_back(
                session,
                reserve_id=line.reserve_id,
                buyer_id=order.buyer_id,
                quantity=line.quantity,
                now=now,
            )
    record_step(session, "order.cancelled", order, actor_id, now, reason=reason)
    return order


def unpaid_past_their_time(session: Session, *, now: datetime | None = None) -> list[int]:
    """Orders still unpaid after their time ran out."""
    now = now or utcnow()
    query = select(Order.id).where(Order.status == OrderStatus.placed, Order.expires_at <= now)
    return list(session.scalars(query.order_by(Order.id)))


def expire_unpaid_order(session: Session, *, order_id: int, now: datetime | None = None) -> bool:
    """Cancel one order left unpaid past its time, giving its stock back; False if it was paid (or
    cancelled) meanwhile."""
    now = now or utcnow()
    order = session.scalar(
        select(Order).where(Order.id == order_id).with_for_update(skip_locked=True)
    )
    if order is None or order.status != OrderStatus.placed or order.expires_at > now:
        return False
    _cancel(session, order, None, _("Not paid in time."), now)
    return True


def expire_unpaid_orders(session: Session, *, now: datetime | None = None) -> int:
    """Cancel every order left unpaid past its time (tests and one-off use; the job takes one per
    transaction); how many were cancelled."""
    now = now or utcnow()
    return sum(
        expire_unpaid_order(session, order_id=order_id, now=now)
        for order_id in unpaid_past_their_time(session, now=now)
    )


def order_of(session: Session, order_id: int, organisation_id: int, *, side: str = "") -> Order:
    """An order its buyer or seller may act on (locked until the transaction ends); `side` narrows who."""
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None or organisation_id not in (order.buyer_id, order.seller_id):
        raise NotFound(_("Order %(id)s does not exist.", id=order_id))
    if side == "buyer" and order.buyer_id != organisation_id:
        raise PermissionDenied(_("Only the buyer of order %(id)s can do this.", id=order_id))
    if side == "seller" and order.seller_id != organisation_id:
        raise PermissionDenied(_("Only the seller of order %(id)s can do this.", id=order_id))
    return order


def record_step(session, event_kind: str, order: Order, actor_id, now, /, **payload) -> None:
    """One event per step, under the seller (whose dashboard follows its orders), naming the buyer."""
    events.record(
        session,
        event_kind,
        organisation_id=order.seller_id,
        actor_id=actor_id,
        subject=f"order:{order.id}",
        payload={"status": str(order.status), "buyer_id": order.buyer_id, **payload},
        now=now,
    )

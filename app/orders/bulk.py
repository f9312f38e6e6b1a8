"""Many agreed orders at once, for the scheduler: each a single line at a price agreed beforehand (an order
contract's instalment, a standing order), paid by holding the buyer's money at once.

The rules are place_orders' own (check_orderable, the order's terms, the stock taken by a conditional UPDATE,
the hold in the ledger), applied to the whole batch in a few statements instead of about twenty per order.
A batch is all or nothing: the first refusal (a listing short of stock, a wallet short of money) is raised,
and the caller, having run the batch in a savepoint, places those orders one by one to learn which failed.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import bindparam, case, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation
from app.catalog.models import Listing, ListingStatus, StockKind, StockMovement
from app.db import utcnow
from app.errors import Conflict
from app.orders.models import Checkout, Order, OrderLine, OrderStatus, PaymentMethod
from app.orders.services import Delivery, _out_of_stock, _terms, check_orderable
from app.payments import ledger
from app.payments.services import current_fee_bps

AGREED = "agreed"  # the request hash of checkouts made here, where the key alone names the request


@dataclass(frozen=True)
class AgreedOrder:
    key: str  # the checkout's idempotency key: the same key again places nothing
    buyer_id: int
    actor_id: int
    listing_id: int
    quantity: int
    price_fen: int
    delivery: Delivery
    payment: PaymentMethod  # wallet or account: the money is held at once
    payment_days: int | None = None  # to pay the invoice, when agreed with the seller


def place_agreed_orders(
    session: Session, agreed: list[AgreedOrder], *, now: datetime | None = None
) -> dict[str, int]:
    """Place the batch's orders, stock taken and money held: order ids by key (keys seen before included)."""
    now = now or utcnow()
    checkouts = _claim_checkouts(session, agreed, now)
    placed = _placed_before(session, [item for item in agreed if item.key not in checkouts])
    fresh = [item for item in agreed if item.key in checkouts]
    if not fresh:
        return placed
    listings = _checked_listings(session, fresh, now)
    balances = _take_stock(session, fresh, listings)
    fee_bps = current_fee_bps(session)
    order_ids = _insert_orders(session, fresh, checkouts, listings, fee_bps, now)
    _insert_lines(session, fresh, order_ids, listings, balances, now)
    events.record_many(
        session, [_placed_event(item, order_ids[item.key], listings) for item in fresh], now=now
    )
    ledger.post_many(session, [_hold(item, order_ids[item.key]) for item in fresh])
    return {**placed, **order_ids}


def _claim_checkouts(session: Session, agreed: list[AgreedOrder], now) -> dict[str, int]:
    """New checkouts' ids by key; keys a buyer used before are left out."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Checkout.__table__)
        .values(
            [
                {
                    "buyer_id": item.buyer_id,
                    "idempotency_key": item.key,
                    "request_hash": AGREED,
                    "created_at": now,
                }
                for item in agreed
            ]
        )
        .on_conflict_do_nothing(index_elements=["buyer_id", "idempotency_key"])
        .returning(Checkout.__table__.c.idempotency_key, Checkout.__table__.c.id)
    )
    return dict(session.execute(statement).all())


def _placed_before(session: Session, seen: list[AgreedOrder]) -> dict[str, int]:
    """The orders an earlier run placed under these keys. A key whose checkout was not made here (a
    buyer's own, though buyers' keys cannot have the platform's form) is refused."""
    if not seen:
        return {}
    rows = session.execute(
        select(Checkout.idempotency_key, Checkout.request_hash, Order.id)
        .outerjoin(Order, Order.checkout_id == Checkout.id)
        .where(
            tuple_(Checkout.buyer_id, Checkout.idempotency_key).in_(
                [(item.buyer_id, item.key) for item in seen]
            )
        )
    ).all()
    for key, request_hash, order_id in rows:
        if request_hash != AGREED or order_id is None:
            raise Conflict(_("Checkout key %(key)s is taken by another order.", key=key))
    return {key: order_id for key, _hash, order_id in rows}


def _checked_listings(session: Session, fresh: list[AgreedOrder], now) -> dict[int, Listing]:
    listings = {
        listing.id: listing
        for listing in session.scalars(
            select(Listing).where(Listing.id.in_({item.listing_id for item in fresh}))
        )
    }
    kinds = dict(
        session.execute(
            select(Organisation.id, Organisation.kind).where(
                Organisation.id.in_({item.buyer_id for item in fresh})
            )
        ).all()
    )
    for item in fresh:
        check_orderable(
            listings.get(item.listing_id),
            item.listing_id,
            item.quantity,
            buyer_id=item.buyer_id,
            buyer_kind=kinds[item.buyer_id],
            now=now,
            field="lines.0",
        )
    return listings


def _take_stock(session, fresh: list[AgreedOrder], listings) -> dict[int, int]:
    """Lock the listings in id order, refuse the batch if one is short, then take each listing's total in
    one statement for all: the stock left, by listing."""
    wanted: dict[int, int] = defaultdict(int)
    for item in fresh:
        wanted[item.listing_id] += item.quantity
    held = session.execute(
        select(Listing.id, Listing.quantity, Listing.status)
        .where(Listing.id.in_(wanted))
        .order_by(Listing.id)
        .with_for_update()
    ).all()
    for listing_id, quantity, status in held:
        if status != ListingStatus.active or quantity < wanted[listing_id]:
            raise Conflict(_out_of_stock(session, listings[listing_id]), field="quantity")
    table = Listing.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("listing"))
        .values(
            quantity=table.c.quantity - bindparam("taken"),
            status=case(
                (table.c.quantity == bindparam("taken"), ListingStatus.sold_out),
                else_=table.c.status,
            ),
        ),
        [{"listing": listing_id, "taken": wanted[listing_id]} for listing_id, *_rest in held],
    )
    return {listing_id: quantity - wanted[listing_id] for listing_id, quantity, _status in held}


def _insert_orders(session, fresh, checkouts, listings, fee_bps, now) -> dict[str, int]:
    rows = [
        {
            "checkout_id": checkouts[item.key],
            "buyer_id": item.buyer_id,
            "seller_id": listings[item.listing_id].organisation_id,
            "placed_by_id": item.actor_id,
            "payment": item.payment,
            "fee_bps": fee_bps,
            "payment_days": item.payment_days,
            "total_fen": item.quantity * item.price_fen,
            "refunded_fen": 0,
            "cancel_reason": "",
            "placed_at": now,
            **_terms(item.delivery, True, now, 0),
        }
        for item in fresh
    ]
    table = Order.__table__
    ids = session.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    ).all()
    return {item.key: order_id for item, order_id in zip(fresh, ids, strict=True)}


def _insert_lines(session, fresh, order_ids, listings, left, now) -> None:
    """The order lines, and a stock movement each whose balance counts back from the stock left."""
    lines, movements = [], []
    for item in reversed(fresh):
        listing = listings[item.listing_id]
        order_id = order_ids[item.key]
        lines.append(
            {
                "order_id": order_id,
                "listing_id": listing.id,
                "batch_id": listing.batch_id,
                "title": listing.title,
                "unit_code": listing.unit_code,
                "quantity": item.quantity,
                "price_fen": item.price_fen,
            }
        )
        movements.append(
            {
                "listing_id": listing.id,
                "kind": StockKind.ordered,
                "delta": -item.quantity,
                "balance": left[listing.id],
                "reason": f"order:{order_id}",
                "actor_id": item.actor_id,
                "created_at": now,
            }
        )
        left[listing.id] += item.quantity
    session.execute(insert(OrderLine.__table__), lines[::-1])
    session.execute(insert(StockMovement.__table__), movements[::-1])


def _placed_event(item: AgreedOrder, order_id: int, listings) -> dict:
    total = item.quantity * item.price_fen
    return {
        "kind": "order.placed",
        "organisation_id": listings[item.listing_id].organisation_id,
        "actor_id": item.actor_id,
        "subject": f"order:{order_id}",
        "payload": {"status": str(OrderStatus.paid), "buyer_id": item.buyer_id, "total_fen": total},
    }


def _hold(item: AgreedOrder, order_id: int) -> ledger.Posting:
    """The same posting as money.hold: the total from the buyer into the order's escrow."""
    source = (
        ledger.receivable(item.buyer_id)
        if item.payment == PaymentMethod.account
        else ledger.wallet(item.buyer_id)
    )
    total = item.quantity * item.price_fen
    return ledger.Posting(
        key=f"order:{order_id}:hold",
        kind="hold",
        order_id=order_id,
        moves={source: -total, ledger.escrow(order_id): total},
    )

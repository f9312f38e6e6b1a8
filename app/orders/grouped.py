"""Checkouts written in batches: under load, the checkouts that arrive together in a process are placed in
one transaction (app.batching.GroupCommit), in a dozen statements for the whole batch.

The rules are place_orders' own, applied in arrival order to rows locked for the batch: the listings (in id
order, as every writer of stock locks them) and the buyers' wallets or accounts. A checkout that passes every
rule takes its stock and holds its money here; any other (a rule refused, an Idempotency-Key seen before, a
card payment) is left to place_orders, which places it or refuses it with the reason in the buyer's
language, exactly as it would have without batching.
"""

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import events
from app.accounts.models import Organisation
from app.auth import Actor, OrgKind
from app.batching import GroupCommit
from app.catalog.models import Batch, Listing, ListingStatus, StockKind, StockMovement
from app.db import new_ids, pipelined, utcnow
from app.errors import DomainError
from app.orders import money
from app.orders.models import Checkout, Order, OrderLine, PaymentMethod
from app.orders.services import (
    Delivery,
    Placed,
    _check_delivery,
    _fingerprint,
    _merged,
    _terms,
    check_orderable,
)
from app.payments import ledger
from app.payments.models import CreditTerms
from app.payments.services import current_fee


@dataclass(frozen=True, eq=False)  # each request is itself, even when two ask for the same
class CheckoutRequest:
    buyer_id: int
    buyer_name: str  # as registered (Organisation.name_zh)
    buyer_kind: OrgKind
    actor_id: int
    wanted: dict[int, int]  # quantity by listing, in the order asked for
    delivery: Delivery
    payment: PaymentMethod  # wallet, account or later (cards go through place_orders)
    key: str
    request_hash: str
    unpaid_minutes: int


def place(
    actor: Actor, lines: list[dict], delivery: Delivery, payment, key: str | None
) -> Placed | None:
    """Place the checkout in a batch with whatever else this process is placing now; None: place it alone
    (services.place_orders), as a card payment is, or one a rule refuses, or a key seen before."""
    if payment == PaymentMethod.card:
        return None
    wanted = _merged(lines)
    _check_delivery(delivery, utcnow())
    return checkouts.submit(
        CheckoutRequest(
            buyer_id=actor.organisation_id,
            buyer_name=actor.organisation_name_zh,
            buyer_kind=actor.kind,
            actor_id=actor.user_id,
            wanted=wanted,
            delivery=delivery,
            payment=payment,
            key=key or uuid.uuid4().hex,
            request_hash=_fingerprint(wanted, delivery, payment),
            unpaid_minutes=current_app.config["ORDER_UNPAID_MINUTES"],
        )
    )


def place_checkouts(session: Session, requests: list[CheckoutRequest]) -> list[Placed | None]:
    """Place each checkout that passes every rule; None for the others (place_orders' to place or refuse)."""
    now = utcnow()
    checkouts = _claim_checkouts(session, requests, now)
    claimed = _first_of_each_key(
        request for request in requests if (request.buyer_id, request.key) in checkouts
    )
    if not claimed:
        return [None] * len(requests)
    # Ids for as many orders as lines at most, drawn before any row is locked: locks are held to the end.
    most = sum(len(request.wanted) for request in claimed)
    new_ids(session, {}, ahead={_ORDERS: most, _LINES: most, **ledger.ids_for(most, new=most)})
    listings, fee_bps = _locked_listings(session, claimed)
    held = _locked_money(session, claimed)
    placing = _passing(claimed, listings, held, now)
    refused = [
        checkouts[request.buyer_id, request.key] for request in claimed if request not in placing
    ]
    if refused:  # place_orders claims them again, in its own transaction
        session.execute(delete(Checkout).where(Checkout.id.in_(refused)))
    if not placing:
        return [None] * len(requests)
    orders = _write_orders(session, placing, checkouts, listings, held, fee_bps, now)
    return [
        Placed(checkouts[request.buyer_id, request.key], orders[request], replayed=False)
        if request in orders
        else None
        for request in requests
    ]


def _claim_checkouts(session, requests: list[CheckoutRequest], now) -> dict[tuple[int, str], int]:
    """Checkout ids by (buyer, key) for the keys new to their buyers."""
    rows = {}
    for request in requests:
        rows.setdefault(
            (request.buyer_id, request.key),
            {
                "buyer_id": request.buyer_id,
                "idempotency_key": request.key,
                "request_hash": request.request_hash,
                "created_at": now,
            },
        )
    connection = session.connection()
    claimed = connection.execute(_claim(connection.dialect.name), list(rows.values()))
    return {(buyer_id, key): checkout_id for buyer_id, key, checkout_id in claimed}


@functools.cache
def _claim(dialect_name: str):
    table = Checkout.__table__
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["buyer_id", "idempotency_key"])
        .returning(table.c.buyer_id, table.c.idempotency_key, table.c.id)
    )


# What the rules and the answer need of a listing (app.catalog.models.Listing's own columns).
_OFFER = (
    Listing.id,
    Listing.organisation_id,
    Listing.batch_id,
    Listing.title,
    Listing.unit_code,
    Listing.price_fen,
    Listing.quantity,
    Listing.min_order,
    Listing.expires_at,
    Listing.status,
    Listing.visible_to,
)


_LOCK_LISTINGS = (
    select(*_OFFER, Organisation.name_zh, Batch.code, current_fee())
    .join(Organisation, Organisation.id == Listing.organisation_id)
    .outerjoin(Batch, Batch.id == Listing.batch_id)
    .where(Listing.id.in_(bindparam("listings", expanding=True)))
    .order_by(Listing.id)
    .with_for_update(of=Listing)
)


def _first_of_each_key(requests) -> list[CheckoutRequest]:
    """A key sent twice in one batch is placed once; its twin replays it afterwards (place_orders)."""
    first = {}
    for request in requests:
        first.setdefault((request.buyer_id, request.key), request)
    return list(first.values())


def _locked_listings(
    session, requests: list[CheckoutRequest]
) -> tuple[dict[int, Listing], int | None]:
    """The listings asked for, locked in id order, each read into a Listing outside the session with its
    seller's name and its batch's code (in one statement, rows rather than the ORM's loading); and the fee
    orders are placed with now, read by the same statement."""
    wanted = {listing_id for request in requests for listing_id in request.wanted}
    rows = session.connection().execute(_LOCK_LISTINGS, {"listings": list(wanted)})
    listings, fee_bps = {}, None  # no listing, no order: the fee is not needed
    for *values, seller_name, batch_code, fee in rows:
        fee_bps = fee
        listing = Listing(
            **{column.key: value for column, value in zip(_OFFER, values, strict=True)}
        )
        listing.seller = Organisation(id=listing.organisation_id, name_zh=seller_name)
        listing.batch = None if batch_code is None else Batch(id=listing.batch_id, code=batch_code)
        listings[listing.id] = listing
    return listings, fee_bps


@dataclass
class _Money:
    accounts: dict[str, ledger.LockedAccount]  # by code, locked
    on_terms: set[int]  # buyers allowed to pay on account


def _locked_money(session, requests: list[CheckoutRequest]) -> _Money:
    accounts = ledger.lock_accounts(
        session, {_source(request) for request in requests if _source(request)}
    )
    on_account = {r.buyer_id for r in requests if r.payment == PaymentMethod.account}
    on_terms = (
        session.connection().scalars(_ON_TERMS, {"buyers": list(on_account)}) if on_account else []
    )
    return _Money(accounts, set(on_terms))


_ON_TERMS = select(CreditTerms.organisation_id).where(
    CreditTerms.organisation_id.in_(bindparam("buyers", expanding=True))
)


def _source(request: CheckoutRequest) -> str | None:
    """The account the checkout's money is held from at once; None when it is paid later."""
    if request.payment == PaymentMethod.wallet:
        return ledger.wallet(request.buyer_id)
    if request.payment == PaymentMethod.account:
        return ledger.receivable(request.buyer_id)
    return None


def _passing(claimed, listings: dict[int, Listing], held: _Money, now) -> list[CheckoutRequest]:
    """The checkouts that pass every rule, in arrival order, each taking its stock and money from what the
    ones before it left."""
    stock = {listing.id: listing.quantity for listing in listings.values()}
    available = {
        code: account.balance_fen - (account.floor_fen or 0)
        for code, account in held.accounts.items()
    }
    passing = []
    for request in claimed:
        try:
            for position, (listing_id, quantity) in enumerate(request.wanted.items()):
                check_orderable(
                    listings.get(listing_id),
                    listing_id,
                    quantity,
                    buyer_id=request.buyer_id,
                    buyer_kind=request.buyer_kind,
                    now=now,
                    field=f"lines.{position}",
                )
        except DomainError:
            continue
        if any(stock[listing_id] < quantity for listing_id, quantity in request.wanted.items()):
            continue
        total = sum(
            quantity * listings[listing_id].price_fen
            for listing_id, quantity in request.wanted.items()
        )
        source = _source(request)
        if source is not None and available.get(source, 0) < total:
            continue
        if request.payment == PaymentMethod.account and request.buyer_id not in held.on_terms:
            continue
        for listing_id, quantity in request.wanted.items():
            stock[listing_id] -= quantity
        if source is not None:
            available[source] -= total
        passing.append(request)
    return passing


def _write_orders(
    session, placing, checkouts, listings, held: _Money, fee_bps: int, now
) -> dict[CheckoutRequest, list[Order]]:
    """Insert the orders with their lines, take the stock, record the events and hold the money: each
    table's rows in one executemany."""
    buyers = {
        request.buyer_id: Organisation(id=request.buyer_id, name_zh=request.buyer_name)
        for request in placing
    }
    orders = {
        request: _orders_of(
            request, checkouts[request.buyer_id, request.key], buyers, listings, fee_bps, now
        )
        for request in placing
    }
    every = [order for placed in orders.values() for order in placed]
    lines = [line for order in every for line in order.lines]
    ids = new_ids(session, {_ORDERS: len(every), _LINES: len(lines)})
    for order, order_id in zip(every, ids[_ORDERS], strict=True):
        order.id = order_id
    for line, line_id in zip(lines, ids[_LINES], strict=True):
        line.id, line.order_id = line_id, line.order.id
    connection = session.connection()
    holds = [money.hold_posting(order) for order in every if order.paid_at is not None]
    with pipelined(session):
        connection.execute(insert(_ORDERS).inline(), [_row(order) for order in every])
        connection.execute(insert(_LINES).inline(), [_row(line) for line in lines])
        left = _take_stock(connection, lines, listings)
        connection.execute(insert(StockMovement.__table__).inline(), _movements(every, left, now))
        events.record_many(session, [_placed_event(order) for order in every], now=now)
    ledger.post_many(
        session,
        holds,
        new=[ledger.escrow(posting.order_id) for posting in holds],
        locked=held.accounts,
        unseen=True,  # the holds of orders just made
    )
    return orders


_ORDERS, _LINES = Order.__table__, OrderLine.__table__


def _orders_of(
    request: CheckoutRequest, checkout_id, buyers, listings, fee_bps, now
) -> list[Order]:
    """The checkout's orders, one per seller, at each listing's price now (not in the session: their rows
    are inserted by _write_orders, and they answer the request as they are)."""
    by_seller: dict[int, list[OrderLine]] = defaultdict(list)
    for listing_id, quantity in request.wanted.items():
        listing = listings[listing_id]
        by_seller[listing.organisation_id].append(
            OrderLine(
                listing_id=listing.id,
                batch_id=listing.batch_id,
                batch=listing.batch,
                title=listing.title,
                unit_code=listing.unit_code,
                quantity=quantity,
                price_fen=listing.price_fen,
                accepted_quantity=None,
                reserve_id=None,
            )
        )
    holding = request.payment != PaymentMethod.later
    return [
        Order(
            checkout_id=checkout_id,
            buyer_id=request.buyer_id,
            buyer=buyers[request.buyer_id],
            seller_id=listings[lines[0].listing_id].organisation_id,
            seller=listings[lines[0].listing_id].seller,
            placed_by_id=request.actor_id,
            payment=request.payment,
            fee_bps=fee_bps,
            payment_days=None,
            total_fen=sum(line.amount_fen for line in lines),
            accepted_fen=None,
            fee_fen=None,
            refunded_fen=0,
            cancel_reason="",
            placed_at=now,
            lines=lines,
            inspection=None,
            dispute=None,
            **_terms(request.delivery, holding, now, request.unpaid_minutes),
        )
        for lines in by_seller.values()
    ]


def _row(thing: Order | OrderLine) -> dict:
    """The row to insert for an order or a line built by _orders_of (every column it has set)."""
    return {
        column.key: getattr(thing, column.key)
        for column in thing.__table__.columns
        if column.key in thing.__dict__
    }


def _take_stock(connection, lines: list[OrderLine], listings: dict[int, Listing]) -> dict[int, int]:
    """Take every line's quantity from its locked listing (sold out at 0): the stock left, by listing."""
    left = {listing_id: listing.quantity for listing_id, listing in listings.items()}
    for line in lines:
        left[line.listing_id] -= line.quantity
    connection.execute(
        _SET_STOCK,
        [
            {
                "listing": listing_id,
                "left": quantity,
                "new_status": ListingStatus.sold_out
                if quantity == 0
                else listings[listing_id].status,
            }
            for listing_id, quantity in left.items()
            if quantity != listings[listing_id].quantity
        ],
    )
    return left


_SET_STOCK = (
    update(Listing.__table__)
    .where(Listing.__table__.c.id == bindparam("listing"))
    .values(quantity=bindparam("left"), status=bindparam("new_status"))
)


def _movements(orders: list[Order], left: dict[int, int], now) -> list[dict]:
    """A stock movement per line, each balance counting back from the stock left."""
    movements = []
    for order in reversed(orders):
        for line in reversed(order.lines):
            movements.append(
                {
                    "listing_id": line.listing_id,
                    "kind": StockKind.ordered,
                    "delta": -line.quantity,
                    "balance": left[line.listing_id],
                    "reason": f"order:{order.id}",
                    "actor_id": order.placed_by_id,
                    "created_at": order.placed_at,
                }
            )
            left[line.listing_id] += line.quantity
    return movements[::-1]


def _placed_event(order: Order) -> dict:
    """As services.record_step writes it."""
    return {
        "kind": "order.placed",
        "organisation_id": order.seller_id,
        "actor_id": order.placed_by_id,
        "subject": f"order:{order.id}",
        "payload": {
            "status": str(order.status),
            "buyer_id": order.buyer_id,
            "total_fen": order.total_fen,
        },
    }


checkouts = GroupCommit("checkouts", place_checkouts)

"""JSON API for orders: check out, list, pay, cancel, ship, deliver, accept, dispute; the wallet."""

import stripe
from flask import current_app, request
from flask_babel import gettext as _

from app.auth import (
    BUYERS,
    INSPECTORS,
    ORDER_STAFF,
    PUBLIC,
    SELLERS,
    TRADERS,
    current_actor,
    requires,
)
from app.db import get_session, transaction
from app.errors import DomainError, NotFound, RuleViolation
from app.orders import delivery, grouped, queries, services
from app.orders.models import PaymentMethod
from app.orders.schemas import (
    AcceptOrderSchema,
    CancelOrderSchema,
    CheckoutSchema,
    DisputeSchema,
    OrderPageSchema,
    OrderQuerySchema,
    OrderSchema,
    PayOrderSchema,
    PlaceOrderSchema,
    WalletSchema,
    WebhookReceiptSchema,
)
from app.orders.services import PLATFORM_KEY_MARK
from app.payments import card
from app.payments.outbox import make_waiting_stripe_calls
from app.payments.stripe_gateway import stripe_gateway
from app.web import ApiBlueprint

blp = ApiBlueprint(
    "orders_api",
    __name__,
    url_prefix="/api/v1",
    description="Orders from checkout to acceptance, and the money each organisation holds.",
)
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 100},
    "description": "Send the same key again (a retry) and get the same orders; a new order needs a new key.",
}


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, checked; None when it has none."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and (not 1 <= len(key.strip()) <= 100 or PLATFORM_KEY_MARK in key):
        raise RuleViolation(
            _("An Idempotency-Key has 1 to 100 characters, none of them “:”."),
            field="Idempotency-Key",
        )
    return key and key.strip()


@blp.route("/orders", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@blp.arguments(PlaceOrderSchema)
@blp.response(201, CheckoutSchema)
@blp.alt_response(200, schema=CheckoutSchema, description="A replay of an Idempotency-Key.")
@requires(BUYERS)
def create(data):
    """Check out: one order per seller, stock taken now, the money held (unless payment is later)."""
    key = idempotency_key()
    actor = current_actor()
    lines = data.pop("lines")
    drop_off = services.Delivery(
        point=data["delivery_point"],
        day=data["delivery_date"],
        window_start=data["window_start"],
        window_end=data["window_end"],
        note=data["note"],
    )
    placed = grouped.place(actor, lines, drop_off, data["payment"], key)
    if placed is None:  # not for a batch (a card payment, a rule refused, a key seen before)
        with transaction() as write:
            placed = services.place_orders(
                write,
                buyer_id=actor.organisation_id,
                buyer_kind=actor.kind,
                actor_id=actor.user_id,
                lines=lines,
                payment=data["payment"],
                delivery=drop_off,
                idempotency_key=key,
                unpaid_minutes=current_app.config["ORDER_UNPAID_MINUTES"],
                takes_cards=stripe_gateway() is not None,
            )
    checkout_id = placed.checkout_id
    orders = (
        placed.orders
        if not placed.replayed
        else queries.checkout_orders(get_session(), checkout_id)
    )
    body = {"id": checkout_id, "orders": orders}
    if data["payment"] == PaymentMethod.card:
        with transaction() as write:
            body["card_payment"] = services.start_card_payment(
                write, stripe_gateway(), checkout_id=checkout_id
            )
    return body, 200 if placed.replayed else 201


@blp.route("/orders", methods=["GET"])
@blp.arguments(OrderQuerySchema, location="query")
@blp.response(200, OrderPageSchema)
@requires(TRADERS)
def index(query):
    """Your organisation's orders, as buyer (side=buying) or as seller (side=selling), newest first."""
    found = queries.orders_of(get_session(), current_actor().organisation_id, **query)
    return {"items": found.items, "page": found.number, "size": found.size, "total": found.total}


@blp.route("/orders/<int:order_id>", methods=["GET"])
@blp.response(200, OrderSchema)
@requires(TRADERS)
def detail(order_id: int):
    """One order of yours, with its lines, inspection and dispute."""
    return queries.order_for(get_session(), order_id, current_actor().organisation_id)


def _step(service, order_id: int, **values):
    actor = current_actor()
    with transaction() as write:
        service(write, actor_id=actor.user_id, order_id=order_id, **values)
    make_waiting_stripe_calls()  # refunds and transfers the step queued, now that it stands
    return queries.order_for(get_session(), order_id, actor.organisation_id)


@blp.route("/orders/<int:order_id>/pay", methods=["POST"])
@blp.arguments(PayOrderSchema)
@blp.response(200, OrderSchema)
@requires(BUYERS)
def pay(data, order_id: int):
    """Pay an order placed to pay later: from the wallet, or on account."""
    return _step(services.pay_order, order_id, buyer_id=current_actor().organisation_id, **data)


@blp.route("/orders/<int:order_id>/cancel", methods=["POST"])
@blp.arguments(CancelOrderSchema)
@blp.response(200, OrderSchema)
@requires(ORDER_STAFF)
def cancel(data, order_id: int):
    """Cancel an order not yet shipped (buyer or seller): the stock and any money held go back."""
    return _step(
        services.cancel_order, order_id, organisation_id=current_actor().organisation_id, **data
    )


@blp.route("/orders/<int:order_id>/ship", methods=["POST"])
@blp.response(200, OrderSchema)
@requires(SELLERS)
def ship(order_id: int):
    """The seller sends a paid order."""
    return _step(delivery.ship_order, order_id, seller_id=current_actor().organisation_id)


@blp.route("/orders/<int:order_id>/deliver", methods=["POST"])
@blp.response(200, OrderSchema)
@requires(SELLERS)
def deliver(order_id: int):
    """The seller says the goods reached the delivery point."""
    return _step(delivery.mark_delivered, order_id, seller_id=current_actor().organisation_id)


@blp.route("/orders/<int:order_id>/accept", methods=["POST"])
@blp.arguments(AcceptOrderSchema)
@blp.response(200, OrderSchema)
@requires(INSPECTORS)
def accept(data, order_id: int):
    """Sign off the inspection: the seller is paid for what is accepted, the buyer gets the rest back."""
    accepted = {line["line_id"]: line["accepted_quantity"] for line in data.pop("lines")}
    return _step(
        delivery.accept_order,
        order_id,
        buyer_id=current_actor().organisation_id,
        accepted=accepted,
        **data,
    )


@blp.route("/orders/<int:order_id>/dispute", methods=["POST"])
@blp.arguments(DisputeSchema)
@blp.response(200, OrderSchema)
@requires(BUYERS)
def dispute(data, order_id: int):
    """Disagree with a delivery instead of accepting it: the money stays held until an admin decides."""
    return _step(delivery.open_dispute, order_id, buyer_id=current_actor().organisation_id, **data)


@blp.route("/payments/stripe/webhook", methods=["POST"])
@blp.doc(
    security=[], description="Stripe calls this; it is verified by the Stripe-Signature header."
)
@blp.response(200, WebhookReceiptSchema)
@requires(PUBLIC)
def stripe_webhook():
    """Stripe's events: a card payment succeeded, a seller's Connect account changed. Each is acted on once."""
    gateway = stripe_gateway()
    if gateway is None:
        raise NotFound(_("This platform does not use Stripe."))
    try:
        event = gateway.event(request.get_data(), request.headers.get("Stripe-Signature"))
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise DomainError(  # 400 Bad Request, what Stripe expects for a payload we refuse
            _("The webhook's signature does not match."), field="Stripe-Signature"
        ) from error
    with transaction() as write:
        first = card.first_delivery(write, event.id, event.type)
        if first:
            _act_on(write, event)
    make_waiting_stripe_calls()  # a late payment's refund
    return {"id": event.id, "duplicate": not first}


def _act_on(session, event) -> None:
    subject = event.data.object
    if event.type == "payment_intent.succeeded":
        services.card_payment_succeeded(
            session, intent_id=subject.id, charge_id=getattr(subject, "latest_charge", None)
        )
    elif event.type == "account.updated":
        card.update_connect_account(
            session,
            account_id=subject.id,
            payouts_enabled=bool(getattr(subject, "payouts_enabled", False)),
        )


@blp.route("/wallet", methods=["GET"])
@blp.response(200, WalletSchema)
@requires(TRADERS)
def wallet():
    """What your organisation holds on the platform, what it owes on account, and what it is owed."""
    return queries.money_of(get_session(), current_actor().organisation_id)

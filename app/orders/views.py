"""Buyers' and sellers' order pages: cart, checkout, orders, each step of an order, documents, wallet."""

import uuid

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from marshmallow import Schema

from app.auth import (
    BUYERS,
    INSPECTORS,
    ORDER_STAFF,
    SELLER_KINDS,
    SELLERS,
    TRADERS,
    current_actor,
    requires,
)
from app.db import get_session, transaction
from app.errors import NotFound
from app.forms import Form
from app.i18n import N_
from app.orders import cart, delivery, queries, services
from app.orders.models import (
    PaymentMethod,
    TestOutcome,
    outcome_label,
    outcome_options,
    payment_label,
    status_label,
)
from app.orders.schemas import (
    AcceptOrderForm,
    AddToCartForm,
    CancelOrderSchema,
    CheckoutForm,
    DisputeSchema,
    OrderQuerySchema,
    PayOrderSchema,
    accepted_quantities,
)
from app.payments import card
from app.payments.models import CreditTerms, StripeAccount
from app.payments.outbox import make_waiting_stripe_calls
from app.payments.stripe_gateway import ProviderUnavailable, stripe_gateway
from app.uploads import upload_folder
from app.web import back_url, query_args

bp = Blueprint("orders", __name__)
bp.add_app_template_global(status_label, "order_status_label")
bp.add_app_template_global(payment_label)
bp.add_app_template_global(outcome_label)
bp.add_app_template_global(outcome_options)

_MOVEMENTS = {
    "top_up": N_("Bank transfer in"),
    "hold": N_("Held for an order"),
    "refund": N_("Returned from a cancelled order"),
    "settle": N_("Returned: what was not accepted"),
    "payout": N_("Paid out"),
}
# A settlement reads differently on the seller's side of it.
_SELLER_MOVEMENTS = {"settle": N_("For goods the buyer accepted"), "payout": N_("Paid out to you")}
_ACCOUNTS = {
    "wallet": N_("Wallet"),
    "receivable": N_("On account"),
    "payable": N_("Owed to the seller"),
    "escrow": N_("Held for an order"),
    "fees": N_("Platform fees"),
    "bank": N_("Bank"),
}


@bp.app_template_global()
def movement_label(kind: str, account_kind: str = "") -> str:
    label = (account_kind == "payable" and _SELLER_MOVEMENTS.get(kind)) or _MOVEMENTS.get(kind)
    return _(label) if label else kind


@bp.app_template_global()
def account_label(kind: str) -> str:
    return _(_ACCOUNTS[kind]) if kind in _ACCOUNTS else kind


@bp.post("/cart/lines")
@requires(BUYERS)
def put_in_cart():
    """Put a listing in the cart with a quantity (0 takes it out)."""
    form = Form(AddToCartForm())
    if not form.validate_on_submit():
        flash(_("Enter how many units you want."), "error")
    else:
        cart.put(form.data["listing_id"], form.data["quantity"])
        flash(_("The cart is updated."), "success")
    return redirect(back_url(url_for("orders.show_cart")))


@bp.get("/cart")
@requires(BUYERS)
def show_cart(form: Form | None = None, status: int = 200):
    """What the buyer is about to order, one order per seller, and where and when to deliver it."""
    form = form or Form(
        CheckoutForm(),
        values={
            "idempotency_key": uuid.uuid4().hex,
            "window_start": "08:00",
            "window_end": "10:00",
        },
    )
    reads = get_session()
    grouped = cart.lines_by_seller(reads)
    on_account = reads.get(CreditTerms, current_actor().organisation_id) is not None
    return render_template(
        "orders/cart.html",
        grouped=grouped,
        form=form,
        on_account=on_account,
        takes_cards=stripe_gateway() is not None,
    ), status


@bp.post("/cart/checkout")
@requires(BUYERS)
def checkout():
    """Place the cart's orders: stock is taken and the money held (or left to pay later)."""
    form = Form(CheckoutForm())
    placed = None
    if form.validate_on_submit():
        placed = form.submit(lambda session: _place_cart(session, form.data))
    if placed is None:
        return show_cart(form, form.status or 422)
    cart.empty()
    if form.data["payment"] == PaymentMethod.card:
        try:
            return start_card_payment(placed.checkout_id)
        except ProviderUnavailable as unavailable:  # the orders stand; the card page retries
            flash(unavailable.message, "error")
            return redirect(url_for("orders.pay_by_card", checkout_id=placed.checkout_id))
    flash(_("%(n)d orders placed, one per seller.", n=len(placed.orders)), "success")
    return redirect(url_for("orders.index", side="buying"))


def _place_cart(session, data: dict) -> services.Placed:
    actor = current_actor()
    return services.place_orders(
        session,
        buyer_id=actor.organisation_id,
        buyer_kind=actor.kind,
        actor_id=actor.user_id,
        lines=[{"listing_id": key, "quantity": value} for key, value in cart.contents().items()],
        payment=data["payment"],
        delivery=services.Delivery(
            data["delivery_point"],
            data["delivery_date"],
            data["window_start"],
            data["window_end"],
            data["note"],
        ),
        idempotency_key=data["idempotency_key"],
        unpaid_minutes=current_app.config["ORDER_UNPAID_MINUTES"],
        takes_cards=stripe_gateway() is not None,
    )


@bp.get("/checkouts/<int:checkout_id>/card")
@requires(BUYERS)
def pay_by_card(checkout_id: int):
    """Pay a checkout's orders by card with Stripe.js; Stripe's webhook then marks them paid."""
    reads = get_session()
    orders = _own_checkout(reads, checkout_id)
    response = make_response(
        render_template(
            "orders/card.html",
            orders=orders,
            payment=card.card_payment_of(reads, checkout_id),
            publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        )
    )
    # Stripe.js must come from Stripe, and its card fields live in Stripe's own frames.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: https://*.stripe.com; style-src 'self'; "
        "script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com "
        "https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; object-src 'none'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    )
    return response


@bp.post("/checkouts/<int:checkout_id>/card")
@requires(BUYERS)
def start_card_payment(checkout_id: int):
    """Ask Stripe for the checkout's card payment (again, if it could not be reached at checkout)."""
    _own_checkout(get_session(), checkout_id)
    with transaction() as session:
        services.start_card_payment(session, stripe_gateway(), checkout_id=checkout_id)
    return redirect(url_for("orders.pay_by_card", checkout_id=checkout_id))


def _own_checkout(reads, checkout_id: int):
    orders = queries.checkout_orders(reads, checkout_id)
    if not orders or orders[0].buyer_id != current_actor().organisation_id:
        raise NotFound(_("Checkout %(id)s does not exist.", id=checkout_id))
    return orders


@bp.get("/orders")
@requires(TRADERS)
def index():
    """The organisation's orders, as buyer or as seller, newest first."""
    wanted = query_args(OrderQuerySchema())
    page = queries.orders_of(get_session(), current_actor().organisation_id, **wanted)
    return render_template(
        "orders/orders.html", page=page, side=wanted["side"], status=wanted["status"]
    )


@bp.get("/orders/<int:order_id>")
@requires(TRADERS)
def detail(order_id: int, forms: dict | None = None, status: int = 200):
    """One order: its lines, its steps so far, and what this side may do next."""
    order = queries.order_for(get_session(), order_id, current_actor().organisation_id)
    forms = forms or {}
    accept_form = forms.get("accept") or Form(
        AcceptOrderForm(),
        values={"test_outcome": TestOutcome.passed.value},
    )
    return render_template(
        "orders/order.html",
        order=order,
        accept_form=accept_form,
        dispute_form=forms.get("dispute") or Form(DisputeSchema()),
        cancel_form=forms.get("cancel") or Form(CancelOrderSchema()),
        pay_form=forms.get("pay") or Form(PayOrderSchema(), values={"payment": "wallet"}),
    ), status


def _step(order_id: int, name: str, schema: Schema, service, party: str, done: str):
    """Run one step of an order for this side (`party` names the service's keyword for it: buyer_id,
    seller_id or organisation_id) with the form's values; on a refusal, show the order again with it."""
    actor = current_actor()
    form = Form(schema)
    if form.validate_on_submit() and form.submit(
        lambda session: service(
            session,
            actor_id=actor.user_id,
            order_id=order_id,
            **{party: actor.organisation_id},
            **form.data,
        )
    ):
        make_waiting_stripe_calls()  # refunds and transfers the step queued, now that it stands
        flash(done, "success")
        return redirect(url_for("orders.detail", order_id=order_id))
    return detail(order_id, {name: form}, 422)


@bp.post("/orders/<int:order_id>/pay")
@requires(BUYERS)
def pay(order_id: int):
    """Pay an order placed to pay later."""
    done = _("Paid: the money is held until you accept the delivery.")
    return _step(order_id, "pay", PayOrderSchema(), services.pay_order, "buyer_id", done)


@bp.post("/orders/<int:order_id>/cancel")
@requires(ORDER_STAFF)
def cancel(order_id: int):
    """Cancel an order not yet shipped."""
    done = _("The order is cancelled; its stock and any money held went back.")
    return _step(
        order_id, "cancel", CancelOrderSchema(), services.cancel_order, "organisation_id", done
    )


@bp.post("/orders/<int:order_id>/ship")
@requires(SELLERS)
def ship(order_id: int):
    """The seller ships a paid order."""
    done = _("Marked as shipped. Print the delivery note to go with the goods.")
    return _step(order_id, "ship", Schema(), delivery.ship_order, "seller_id", done)


@bp.post("/orders/<int:order_id>/deliver")
@requires(SELLERS)
def deliver(order_id: int):
    """The seller says the goods reached the delivery point."""
    done = _("Marked as delivered; the buyer's inspectors can now accept it.")
    return _step(order_id, "deliver", Schema(), delivery.mark_delivered, "seller_id", done)


@bp.post("/orders/<int:order_id>/accept")
@requires(INSPECTORS)
def accept(order_id: int):
    """The buyer's inspectors sign off what they accept, with weights, the test and photos."""
    photos = [
        (file.filename, file.read()) for file in request.files.getlist("photos") if file.filename
    ]

    def sign_off(session, *, buyer_id: int, order_id: int, **values):
        order = queries.order_for(session, order_id, buyer_id)
        return delivery.accept_order(
            session,
            buyer_id=buyer_id,
            order_id=order_id,
            accepted=accepted_quantities(request.form, [line.id for line in order.lines]),
            photos=photos,
            folder=upload_folder(),
            **values,
        )

    done = _("Accepted. The seller is paid for what you accepted; the rest of your money is back.")
    return _step(order_id, "accept", AcceptOrderForm(), sign_off, "buyer_id", done)


@bp.post("/orders/<int:order_id>/dispute")
@requires(BUYERS)
def dispute(order_id: int):
    """Disagree with a delivery: the money stays held until the platform decides."""
    done = _("Dispute opened. The platform will look at it; the money stays held until then.")
    return _step(order_id, "dispute", DisputeSchema(), delivery.open_dispute, "buyer_id", done)


@bp.get("/orders/<int:order_id>/delivery-note")
@requires(TRADERS)
def delivery_note(order_id: int):
    """The printable note that travels with the goods: lines, quantities, batch codes with QR codes."""
    order = queries.order_for(get_session(), order_id, current_actor().organisation_id)
    return render_template("orders/delivery_note.html", order=order)


@bp.get("/orders/<int:order_id>/receipt")
@requires(TRADERS)
def receipt(order_id: int):
    """The printable receipt (or invoice, for an order on account): paid, accepted, refunded, fee."""
    reads = get_session()
    order = queries.order_for(reads, order_id, current_actor().organisation_id)
    return render_template(
        "orders/receipt.html", order=order, invoice=queries.invoice_of(reads, order.id)
    )


@bp.get("/wallet")
@requires(TRADERS)
def wallet():
    """What the organisation holds, owes and is owed on the platform, and the latest movements."""
    reads = get_session()
    organisation_id = current_actor().organisation_id
    return render_template(
        "orders/wallet.html",
        stripe_account=reads.get(StripeAccount, organisation_id),
        sells=current_actor().kind in SELLER_KINDS,
        takes_cards=stripe_gateway() is not None,
        money=queries.money_of(reads, organisation_id),
        movements=queries.movements_of(reads, organisation_id),
        invoices=queries.invoices_of(reads, organisation_id),
    )


@bp.post("/wallet/stripe")
@requires(SELLERS)
def connect_stripe():
    """Open (or finish setting up) the seller's Stripe Connect account, to be paid for card sales."""
    actor = current_actor()
    gateway = stripe_gateway()
    with transaction() as session:
        account = card.connect_account(
            session, gateway, organisation_id=actor.organisation_id, email=None
        )
        account_id = account.account_id
    here = url_for("orders.wallet", _external=True)
    return redirect(
        gateway.onboarding_link(account_id=account_id, return_url=here, refresh_url=here)
    )

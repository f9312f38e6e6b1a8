"""The Stripe provider, driven through the real stripe library with FakeStripe answering for Stripe."""

import socket
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import OrgKind, Role
from app.db import local_date, utcnow
from app.orders import delivery, services
from app.orders.models import Order, OrderStatus
from app.payments import ledger
from app.payments.models import CardPayment, LedgerEntry, StripeAccount, StripeCall, StripeEvent
from app.payments.outbox import make_waiting_stripe_calls
from tests.factories import ApiTokenFactory, ListingFactory, member
from tests.helpers import bearer, ledger_problems, post_form, sign_in
from tests.orders.steps import accept, checkout_form
from tests.stripe_fake import webhook

TOMORROW = (local_date(utcnow()) + timedelta(days=1)).isoformat()
WEBHOOK = "/api/v1/payments/stripe/webhook"


def card_checkout(client, buyer, *lines):
    ApiTokenFactory(user=buyer.user, organisation_id=buyer.organisation_id, secret="agl_card-buyer")
    response = client.post(
        "/api/v1/orders",
        json={
            "lines": [
                {"listing_id": listing.id, "quantity": quantity} for listing, quantity in lines
            ],
            "delivery_point": "超市收货区",
            "delivery_date": TOMORROW,
            "window_start": "08:00",
            "window_end": "10:00",
            "payment": "card",
        },
        headers=bearer("agl_card-buyer"),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def succeed(client, intent_id: str, event_id: str = "evt_paid_1"):
    payload, signature = webhook(
        event_id,
        "payment_intent.succeeded",
        {"id": intent_id, "object": "payment_intent", "latest_charge": "ch_test_1"},
    )
    return client.post(
        WEBHOOK,
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def test_a_card_checkout_charges_one_payment_intent_for_every_seller(client, session, fake_stripe):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    tea, chili = (
        ListingFactory(price_fen=68000),
        ListingFactory(product_code="chaotian_chili", price_fen=2500),
    )

    body = card_checkout(client, buyer, (tea, 2), (chili, 10))

    [(params, key)] = fake_stripe.posted("/v1/payment_intents")
    assert (params["amount"], params["currency"]) == ("161000", "cny")
    assert params["transfer_group"] == f"checkout_{body['checkout_id']}"
    assert key == f"agrilink-checkout-{body['checkout_id']}-intent"
    assert body["card_payment"]["client_secret"].startswith(body["card_payment"]["intent_id"])
    assert [order["status"] for order in body["orders"]] == ["placed", "placed"]


def test_the_signed_success_webhook_pays_the_orders_and_holds_the_money(
    client, session, fake_stripe
):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    tea = ListingFactory(price_fen=68000)
    body = card_checkout(client, buyer, (tea, 2))

    response = succeed(client, body["card_payment"]["intent_id"])

    order = session.get(Order, body["orders"][0]["id"])
    assert response.status_code == 200 and response.get_json()["duplicate"] is False
    assert order.status == OrderStatus.paid
    assert ledger.balance(session, ledger.escrow(order.id)) == 136000
    assert ledger.balance(session, ledger.STRIPE) == -136000
    assert ledger_problems(session) == []


def test_a_duplicate_event_moves_nothing(client, session, fake_stripe):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    body = card_checkout(client, buyer, (ListingFactory(), 1))
    succeed(client, body["card_payment"]["intent_id"])
    entries = session.scalar(select(func.count()).select_from(LedgerEntry))

    again = succeed(client, body["card_payment"]["intent_id"])

    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == entries


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    client, session, fake_stripe
):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    body = card_checkout(client, buyer, (ListingFactory(), 1))
    payload, _signature = webhook(
        "evt_forged", "payment_intent.succeeded", {"id": body["card_payment"]["intent_id"]}
    )
    _payload, forged = webhook("evt_forged", "payment_intent.succeeded", {}, secret="whsec_wrong")

    response = client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": forged})

    assert response.status_code == 400
    assert "Stripe-Signature" in response.get_json()["fields"]
    assert session.get(Order, body["orders"][0]["id"]).status == OrderStatus.placed
    assert session.scalar(select(func.count()).select_from(StripeEvent)) == 0


def test_acceptance_refunds_the_card_and_transfers_the_sellers_share(
    app, client, session, fake_stripe
):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    seller = member(role=Role.manager)
    session.add(
        StripeAccount(
            organisation_id=seller.organisation_id, account_id="acct_coop", payouts_enabled=True
        )
    )
    cabbage = ListingFactory(
        seller=seller.organisation, product_code="chinese_cabbage", price_fen=1234
    )
    body = card_checkout(client, buyer, (cabbage, 50))
    succeed(client, body["card_payment"]["intent_id"])
    order = session.get(Order, body["orders"][0]["id"])
    delivery.ship_order(
        session, seller_id=seller.organisation_id, actor_id=seller.user_id, order_id=order.id
    )

    with app.app_context():  # the provider is the app's
        accept(session, order, buyer.user_id, {order.lines[0].id: 48}, inspectors="张经理")

        session.flush()  # committed, as the request would have
        make_waiting_stripe_calls()

    [(refund, refund_key)] = fake_stripe.posted("/v1/refunds")
    [(transfer, transfer_key)] = fake_stripe.posted("/v1/transfers")
    assert (refund["amount"], refund_key) == ("2468", f"agrilink-order-{order.id}-accept-refund")
    net = 48 * 1234 - 48 * 1234 * 200 // 10_000
    assert (transfer["amount"], transfer["destination"]) == (str(net), "acct_coop")
    assert transfer["source_transaction"] == "ch_test_1"  # payable before the charge settles
    assert transfer["transfer_group"] == f"checkout_{body['checkout_id']}"
    assert transfer_key == f"agrilink-order-{order.id}-transfer"
    assert ledger.balance(session, ledger.payable(seller.organisation_id)) == 0
    assert ledger.balance(session, ledger.STRIPE) == -(48 * 1234 * 200 // 10_000)  # the fee stays
    assert order.status == OrderStatus.completed  # the seller has its money already
    assert ledger_problems(session) == []


def test_a_card_payment_arriving_after_the_order_expired_goes_back_to_the_card(
    client, session, fake_stripe
):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    tea = ListingFactory(quantity=5, price_fen=1000)
    body = card_checkout(client, buyer, (tea, 5))
    services.expire_unpaid_orders(session, now=utcnow() + timedelta(hours=2))
    session.flush()  # committed, as the job would have

    succeed(client, body["card_payment"]["intent_id"])

    [(refund, _key)] = fake_stripe.posted("/v1/refunds")
    session.refresh(tea)
    assert refund["amount"] == "5000"
    assert session.get(Order, body["orders"][0]["id"]).status == OrderStatus.cancelled
    assert tea.quantity == 5  # the stock went back on sale when the order expired
    assert ledger_problems(session) == []


def test_a_seller_onboards_to_stripe_connect_from_its_money_page(app, client, session, fake_stripe):
    seller = member(role=Role.manager)
    sign_in(client, seller.user, seller.organisation)

    first = post_form(client, "/wallet/stripe")
    again = post_form(client, "/wallet/stripe")
    account = session.get(StripeAccount, seller.organisation_id)
    payload, signature = webhook(
        "evt_acct",
        "account.updated",
        {"id": account.account_id, "object": "account", "payouts_enabled": True},
    )
    stripe_itself = app.test_client()  # Stripe calls with no session cookie
    updated = stripe_itself.post(WEBHOOK, data=payload, headers={"Stripe-Signature": signature})

    assert updated.status_code == 200, updated.get_json()
    assert first.status_code == 302 and first.headers["Location"].startswith(
        "https://connect.stripe.com/"
    )
    assert again.headers["Location"] == first.headers["Location"]
    assert len(fake_stripe.posted("/v1/accounts")) == 1
    session.refresh(account)
    assert account.payouts_enabled is True


def test_card_payments_are_refused_on_the_embedded_provider(client, session):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    ApiTokenFactory(user=buyer.user, organisation_id=buyer.organisation_id, secret="agl_nocard")
    response = client.post(
        "/api/v1/orders",
        json={
            "lines": [{"listing_id": ListingFactory().id, "quantity": 1}],
            "delivery_point": "收货区",
            "delivery_date": TOMORROW,
            "window_start": "08:00",
            "window_end": "10:00",
            "payment": "card",
        },
        headers=bearer("agl_nocard"),
    )
    assert response.status_code == 422 and "payment" in response.get_json()["fields"]
    assert session.scalar(select(func.count()).select_from(CardPayment)) == 0


def test_no_test_can_reach_outside_this_machine():
    with pytest.raises(ConnectionRefusedError, match="outside this machine"):
        socket.create_connection(("54.187.174.169", 443), timeout=1)  # api.stripe.com


def test_a_buyer_chooses_card_at_checkout_and_gets_stripes_payment_form(
    client, session, fake_stripe, app
):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    tea = ListingFactory(price_fen=68000)
    app.config["STRIPE_PUBLISHABLE_KEY"] = "pk_test_agrilink"
    sign_in(client, buyer.user, buyer.organisation)
    post_form(client, "/cart/lines", {"listing_id": tea.id, "quantity": 1})
    cart = client.get("/cart").get_data(as_text=True)
    placed = post_form(client, "/cart/checkout", checkout_form(client, payment="card"))
    page = client.get(placed.headers["Location"])
    app.config["STRIPE_PUBLISHABLE_KEY"] = ""

    [(intent, _key)] = fake_stripe.posted("/v1/payment_intents")
    assert "刷卡" in cart and intent["amount"] == "68000"
    assert 'data-secret="pi_' in page.get_data(as_text=True)
    assert "https://js.stripe.com" in page.headers["Content-Security-Policy"]


def test_a_refund_stripe_refuses_waits_in_the_books_and_is_made_later(
    app, client, session, fake_stripe
):
    buyer = member(kind=OrgKind.supermarket, role=Role.manager)
    tea = ListingFactory(quantity=5, price_fen=1000)
    body = card_checkout(client, buyer, (tea, 5))
    succeed(client, body["card_payment"]["intent_id"])
    fake_stripe.refuse_next("/v1/refunds", "Your account cannot refund right now.")

    cancelled = client.post(
        f"/api/v1/orders/{body['orders'][0]['id']}/cancel",
        json={},
        headers=bearer("agl_card-buyer"),
    )
    admin = member(kind=OrgKind.platform, role=Role.admin)
    sign_in(client, admin.user, admin.organisation, language="en")
    page = client.get("/admin/money").get_data(as_text=True)
    with app.app_context():
        again = make_waiting_stripe_calls()

    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert "Your account cannot refund right now." in page  # staff see what Stripe said
    assert again == {"made": 1, "refused": 0}
    [(refund, key)] = fake_stripe.posted("/v1/refunds")
    assert (refund["amount"], key) == (
        "5000",
        f"agrilink-order-{body['orders'][0]['id']}-cancel-refund",
    )
    call = session.scalar(select(StripeCall))
    assert call.done_at is not None and call.attempts == 2
    assert ledger_problems(session) == []

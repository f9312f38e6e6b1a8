"""One story told on both providers: the embedded one (a bank transfer into the wallet) and Stripe (a card
payment confirmed by webhook). The books must end the same way: same payables, same fees, nothing left in
escrow, and the buyer out of pocket by the same amount."""

from datetime import time, timedelta

from app.auth import OrgKind
from app.db import local_date, utcnow
from app.orders import delivery, services
from app.orders.models import PaymentMethod
from app.payments import ledger
from app.payments.outbox import make_waiting_stripe_calls
from app.payments.services import confirm_bank_transfer
from app.payments.stripe_gateway import stripe_gateway
from tests.factories import ListingFactory, OrganisationFactory, UserFactory
from tests.helpers import ledger_problems
from tests.orders.steps import accept
from tests.stripe_fake import webhook

TOMORROW = local_date(utcnow()) + timedelta(days=1)


def _story(session, client, provider: str) -> dict:
    buyer, person = OrganisationFactory(kind=OrgKind.supermarket), UserFactory()
    tea = ListingFactory(price_fen=68000)  # ¥680/kg
    cabbage = ListingFactory(product_code="chinese_cabbage", price_fen=300)
    chili = ListingFactory(product_code="chaotian_chili", price_fen=2500)
    if provider == "embedded":
        confirm_bank_transfer(
            session,
            actor_id=person.id,
            organisation_id=buyer.id,
            reference=f"S-{buyer.id}",
            amount_fen=1_000_000,
            received_on=local_date(utcnow()),
        )
    placed = services.place_orders(
        session,
        buyer_id=buyer.id,
        buyer_kind=buyer.kind,
        actor_id=person.id,
        lines=[
            {"listing_id": tea.id, "quantity": 2},
            {"listing_id": cabbage.id, "quantity": 50},
            {"listing_id": chili.id, "quantity": 10},
        ],
        delivery=services.Delivery("超市收货区", TOMORROW, time(8), time(10)),
        payment=PaymentMethod.wallet if provider == "embedded" else PaymentMethod.card,
        takes_cards=provider == "stripe",
    )
    tea_order, cabbage_order, chili_order = placed.orders
    if provider == "stripe":
        payment = services.start_card_payment(
            session, stripe_gateway(), checkout_id=placed.checkout_id
        )
        session.flush()  # the webhook's request reads through its own session
        payload, signature = webhook(
            f"evt_story_{buyer.id}", "payment_intent.succeeded", {"id": payment.intent_id}
        )
        assert (
            client.post(
                "/api/v1/payments/stripe/webhook",
                data=payload,
                headers={"Stripe-Signature": signature},
            ).status_code
            == 200
        )
        session.expire_all()  # the webhook paid the orders

    for order in (tea_order, cabbage_order):
        delivery.ship_order(
            session, seller_id=order.seller_id, actor_id=person.id, order_id=order.id
        )
    accept(session, cabbage_order, person.id, {cabbage_order.lines[0].id: 48}, inspectors="张经理")
    delivery.open_dispute(
        session, buyer_id=buyer.id, actor_id=person.id, order_id=tea_order.id, reason="受潮"
    )
    delivery.resolve_dispute(
        session, actor_id=person.id, order_id=tea_order.id, refund_fen=40800, resolution="三成受潮"
    )
    services.cancel_order(
        session, organisation_id=chili.organisation_id, actor_id=None, order_id=chili_order.id
    )

    session.flush()  # committed, as each request would have
    make_waiting_stripe_calls()
    source = ledger.wallet(buyer.id) if provider == "embedded" else ledger.STRIPE
    start = 1_000_000 if provider == "embedded" else 0
    assert ledger_problems(session) == []
    return {
        "tea seller is owed": ledger.balance(session, ledger.payable(tea.organisation_id)),
        "cabbage seller is owed": ledger.balance(session, ledger.payable(cabbage.organisation_id)),
        "chili seller is owed": ledger.balance(session, ledger.payable(chili.organisation_id)),
        "held": sum(ledger.balance(session, ledger.escrow(order.id)) for order in placed.orders),
        "buyer spent": start - ledger.balance(session, source),
    }


def test_both_providers_end_the_same_story_with_the_same_books(app, client, session, fake_stripe):
    with app.app_context():
        embedded = _story(session, client, "embedded")
        fees_after_embedded = ledger.balance(session, ledger.FEES)
        by_card = _story(session, client, "stripe")
        fees_by_card = ledger.balance(session, ledger.FEES) - fees_after_embedded

    assert (
        embedded
        == by_card
        == {
            "tea seller is owed": 95200 - 1904,  # ¥952 of ¥1,360 awarded, less the 2% fee
            "cabbage seller is owed": 14400 - 288,  # 48 kg of 50 at ¥3
            "chili seller is owed": 0,  # cancelled before shipping
            "held": 0,
            "buyer spent": 95200 + 14400,
        }
    )
    assert fees_after_embedded == fees_by_card == 1904 + 288
    [(refund, _key), *_rest] = fake_stripe.posted("/v1/refunds")
    assert refund["amount"] == "600"  # the card got back the 2 kg of cabbage not accepted

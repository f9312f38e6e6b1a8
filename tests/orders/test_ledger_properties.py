"""A Hypothesis state machine over an order's life with both providers: pay (wallet, or card through a signed
webhook), ship, accept in part, cancel, expire, dispute and resolve, duplicate and late webhooks. After every
step the ledger check must find nothing wrong, and each escrow must hold exactly what its order says."""

import itertools
from datetime import time, timedelta

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from app.auth import OrgKind
from app.db import local_date, utcnow
from app.errors import DomainError
from app.orders import delivery, services
from app.orders.models import Order, OrderStatus, PaymentMethod, TestOutcome
from app.payments.models import StripeAccount
from app.payments.services import confirm_bank_transfer
from app.payments.stripe_gateway import stripe_gateway
from tests.factories import ListingFactory, OrganisationFactory, UserFactory
from tests.helpers import ledger_problems
from tests.stripe_fake import webhook

WEBHOOK = "/api/v1/payments/stripe/webhook"
_WINDOW = (time(8), time(10))
_event_ids = itertools.count(1)


class OrderLife(RuleBasedStateMachine):
    session = None  # the test's session and client, set by the test before it runs
    client = None

    @initialize(seller_on_stripe=st.booleans())
    def set_up(self, seller_on_stripe):
        self.buyer = OrganisationFactory(kind=OrgKind.supermarket)
        self.person = UserFactory()
        self.listing = ListingFactory(quantity=10_000, price_fen=1234)
        if seller_on_stripe:
            self.session.add(
                StripeAccount(
                    organisation_id=self.listing.organisation_id,
                    account_id=f"acct_{self.listing.organisation_id}",
                    payouts_enabled=True,
                )
            )
        confirm_bank_transfer(
            self.session,
            actor_id=self.person.id,
            organisation_id=self.buyer.id,
            reference=f"PROP-{self.buyer.id}",
            amount_fen=10**9,
            received_on=local_date(utcnow()),
        )
        self.orders: list[int] = []
        self.intents: dict[int, str] = {}
        self.sent_events: list[tuple[str, str]] = []

    def attempt(self, action) -> None:
        """Run one step; a refused step (shipping a cancelled order...) must leave nothing behind."""
        savepoint = self.session.begin_nested()
        try:
            action()
        except DomainError:
            savepoint.rollback()
        else:
            savepoint.commit()

    def order(self, index: int) -> Order | None:
        return (
            self.session.get(Order, self.orders[index % len(self.orders)]) if self.orders else None
        )

    @rule(card=st.booleans(), quantity=st.integers(1, 20))
    def place(self, card, quantity):
        placed = services.place_orders(
            self.session,
            buyer_id=self.buyer.id,
            buyer_kind=self.buyer.kind,
            actor_id=self.person.id,
            lines=[{"listing_id": self.listing.id, "quantity": quantity}],
            delivery=services.Delivery(
                "收货区", local_date(utcnow()) + timedelta(days=1), *_WINDOW
            ),
            payment=PaymentMethod.card if card else PaymentMethod.wallet,
            takes_cards=True,
        )
        [order] = placed.orders
        self.orders.append(order.id)
        if card:
            payment = services.start_card_payment(
                self.session, stripe_gateway(), checkout_id=order.checkout_id
            )
            self.intents[order.id] = payment.intent_id
            self.session.flush()  # the webhook's request reads through its own session

    @rule(index=st.integers(0, 50), resend=st.booleans())
    def card_webhook(self, index, resend):
        order = self.order(index)
        if order is None or order.id not in self.intents:
            return
        if resend and self.sent_events:
            event_id, intent_id = self.sent_events[index % len(self.sent_events)]
        else:
            event_id, intent_id = f"evt_prop_{next(_event_ids)}", self.intents[order.id]
            self.sent_events.append((event_id, intent_id))
        payload, signature = webhook(event_id, "payment_intent.succeeded", {"id": intent_id})
        self.session.flush()  # what the steps so far changed, committed as each request would
        response = self.client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": signature})
        assert response.status_code == 200
        self.session.expire_all()  # the webhook may have paid or refunded orders

    @rule()
    def expire(self):
        services.expire_unpaid_orders(self.session, now=utcnow() + timedelta(days=1))

    @rule(index=st.integers(0, 50))
    def ship(self, index):
        order = self.order(index)
        if order is not None:
            self.attempt(
                lambda: delivery.ship_order(
                    self.session,
                    seller_id=order.seller_id,
                    actor_id=self.person.id,
                    order_id=order.id,
                )
            )

    @rule(index=st.integers(0, 50), share=st.floats(0, 1))
    def accept(self, index, share):
        order = self.order(index)
        if order is not None:
            line = order.lines[0]
            self.attempt(
                lambda: delivery.accept_order(
                    self.session,
                    buyer_id=self.buyer.id,
                    actor_id=self.person.id,
                    order_id=order.id,
                    accepted={line.id: int(line.quantity * share)},
                    inspectors="验收员",
                    test_outcome=TestOutcome.passed,
                )
            )

    @rule(index=st.integers(0, 50))
    def cancel(self, index):
        order = self.order(index)
        if order is not None:
            self.attempt(
                lambda: services.cancel_order(
                    self.session, organisation_id=self.buyer.id, actor_id=None, order_id=order.id
                )
            )

    @rule(index=st.integers(0, 50), share=st.floats(0, 1))
    def dispute_and_resolve(self, index, share):
        order = self.order(index)
        if order is None:
            return
        self.attempt(
            lambda: delivery.open_dispute(
                self.session,
                buyer_id=self.buyer.id,
                actor_id=self.person.id,
                order_id=order.id,
                reason="质量",
            )
        )
        self.attempt(
            lambda: delivery.resolve_dispute(
                self.session,
                actor_id=self.person.id,
                order_id=order.id,
                refund_fen=int(order.total_fen * share),
                resolution="按比例退款",
            )
        )

    @invariant()
    def books_balance(self):
        assert ledger_problems(self.session) == []

    @invariant()
    def a_settled_order_splits_exactly_what_was_paid(self):
        for order_id in self.orders:
            order = self.session.get(Order, order_id)
            if order.status in (OrderStatus.accepted, OrderStatus.resolved, OrderStatus.completed):
                assert order.accepted_fen + order.refunded_fen == order.total_fen
                assert 0 <= order.fee_fen <= order.accepted_fen


def test_the_books_balance_after_every_step_of_any_order_life(app, client, session, fake_stripe):
    OrderLife.session, OrderLife.client = session, client
    with app.app_context():
        run_state_machine_as_test(
            OrderLife,
            settings=settings(
                max_examples=30,
                stateful_step_count=25,
                deadline=None,
                derandomize=True,  # the same lives on every run, so CI never flickers
                suppress_health_check=[HealthCheck.too_slow],
                phases=[Phase.generate],
            ),
        )

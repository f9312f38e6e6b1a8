"""Order steps as tests take them, with everyday values: money into a wallet, a checkout, an acceptance."""

import itertools
import re
from datetime import time, timedelta

from app.db import local_date, utcnow
from app.orders import delivery, services
from app.orders.models import Order, PaymentMethod, TestOutcome
from app.payments.services import confirm_bank_transfer
from tests.factories import UserFactory

TOMORROW = (local_date(utcnow()) + timedelta(days=1)).isoformat()

_references = itertools.count(1)


def credit(session, organisation_id: int, amount_fen: int) -> None:
    """Money in a buyer's wallet: a bank transfer an admin confirmed today."""
    confirm_bank_transfer(
        session,
        actor_id=UserFactory().id,
        organisation_id=organisation_id,
        reference=f"TEST-{next(_references)}",
        amount_fen=amount_fen,
        received_on=local_date(utcnow()),
    )


def checkout(session, buyer, actor_id: int, lines, **kwargs) -> services.Placed:
    """`buyer` (an Organisation) orders [(listing, quantity), ...] for tomorrow 06:00-06:30."""
    return services.place_orders(
        session,
        buyer_id=buyer.id,
        buyer_kind=buyer.kind,
        actor_id=actor_id,
        lines=[{"listing_id": listing.id, "quantity": quantity} for listing, quantity in lines],
        delivery=kwargs.pop(
            "delivery",
            services.Delivery(
                "湄江中学食堂", local_date(utcnow()) + timedelta(days=1), time(6), time(6, 30)
            ),
        ),
        payment=kwargs.pop("payment", PaymentMethod.wallet),
        **kwargs,
    )


def accept(session, order: Order, actor_id: int, accepted=None, **values) -> Order:
    """The buyer's inspector signs off `accepted` ({line id: quantity}; all of it when not given)."""
    return delivery.accept_order(
        session,
        buyer_id=order.buyer_id,
        actor_id=actor_id,
        order_id=order.id,
        accepted=accepted or {},
        inspectors=values.pop("inspectors", "李老师"),
        test_outcome=values.pop("test_outcome", TestOutcome.passed),
        **values,
    )


def checkout_form(client, **fields) -> dict:
    """The cart page's checkout form, filled in, with the idempotency key the page gave it."""
    cart = client.get("/cart").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', cart).group(1)
    return {
        "idempotency_key": key,
        "delivery_point": "永辉超市湄潭店收货区",
        "delivery_date": TOMORROW,
        "window_start": "08:00",
        "window_end": "10:00",
        "payment": "wallet",
        **fields,
    }

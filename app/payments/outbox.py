"""Making the Stripe calls that committed transactions queued (refunds, transfers): after each request
that may have queued one, and every minute by the `payments.make_stripe_calls` job until Stripe confirms."""

from datetime import datetime

from app.db import get_session, transaction
from app.payments import card
from app.payments.stripe_gateway import stripe_gateway


def make_waiting_stripe_calls(now: datetime | None = None) -> dict[str, int]:
    """Make every waiting call, each in its own transaction; how many were made and how many refused."""
    gateway = stripe_gateway()
    made = refused = 0
    if gateway is None:
        return {"made": made, "refused": refused}
    for call_id in card.waiting_calls(get_session()):
        with transaction() as session:
            if card.make_call(session, gateway, call_id=call_id, now=now):
                made += 1
            else:
                refused += 1
    return {"made": made, "refused": refused}

"""Scheduled payment work: Stripe calls that could not be made when their step committed."""

from app.jobs import Job
from app.payments.outbox import make_waiting_stripe_calls

JOBS = [
    Job(
        name="payments.make_stripe_calls",
        description="Make the refunds and transfers Stripe has not confirmed yet.",
        run=make_waiting_stripe_calls,
        trigger={"trigger": "interval", "minutes": 1},
    ),
]

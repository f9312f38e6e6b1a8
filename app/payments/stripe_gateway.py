"""The Stripe provider's calls to Stripe, through the stripe library's own client.

Stripe has no escrow, so "held until accepted" is a charge into the platform's balance (a PaymentIntent per
checkout, its transfer group naming the checkout), then on acceptance a transfer of the seller's share to its
Connect account and a refund of the rest. Every call carries an idempotency key made from what it is for
(`agrilink-order-12-transfer`), so a retried step never pays twice. The client is built once per app from
STRIPE_API_KEY; tests hand it an HTTP client that answers as Stripe does (no network).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from flask import Flask, current_app
from flask_babel import gettext as _

from app.errors import DomainError

CURRENCY = "cny"


class ProviderUnavailable(DomainError):
    """Stripe could not be reached or refused the call: nothing was booked; try again later."""

    status = 502
    type = "payment_provider_unavailable"


def _calling_stripe(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except stripe.StripeError as error:
        raise ProviderUnavailable(
            _(
                "The card processor could not do this now (%(why)s). Try again in a moment.",
                why=error.user_message or type(error).__name__,
            )
        ) from error


@dataclass(frozen=True)
class Intent:
    id: str
    client_secret: str


class StripeGateway:
    def __init__(self, client: stripe.StripeClient, *, webhook_secret: str) -> None:
        self.client = client
        self.webhook_secret = webhook_secret

    def create_intent(self, *, checkout_id: int, buyer_id: int, amount_fen: int) -> Intent:
        """Charge a checkout's total into the platform's balance."""
        intent = _calling_stripe(
            lambda: self.client.v1.payment_intents.create(
                {
                    "amount": amount_fen,
                    "currency": CURRENCY,
                    "transfer_group": f"checkout_{checkout_id}",
                    "metadata": {"checkout_id": str(checkout_id), "buyer_id": str(buyer_id)},
                    "automatic_payment_methods": {"enabled": True},
                },
                {"idempotency_key": f"agrilink-checkout-{checkout_id}-intent"},
            )
        )
        return Intent(intent.id, intent.client_secret or "")

    def refund(self, *, intent_id: str, amount_fen: int, key: str) -> str:
        """Give `amount_fen` of a card payment back to the card."""
        refund = _calling_stripe(
            lambda: self.client.v1.refunds.create(
                {"payment_intent": intent_id, "amount": amount_fen},
                {"idempotency_key": f"agrilink-{key}"},
            )
        )
        return refund.id

    def transfer(
        self, *, account_id: str, amount_fen: int, checkout_id: int, charge_id: str | None, key: str
    ) -> str:
        """Send a seller its share of an accepted order. Tied to the charge (`source_transaction`), it
        goes through while the charged money is still pending in the platform's balance."""
        params: dict = {
            "amount": amount_fen,
            "currency": CURRENCY,
            "destination": account_id,
            "transfer_group": f"checkout_{checkout_id}",
        }
        if charge_id:
            params["source_transaction"] = charge_id
        transfer = _calling_stripe(
            lambda: self.client.v1.transfers.create(params, {"idempotency_key": f"agrilink-{key}"})
        )
        return transfer.id

    def create_account(self, *, organisation_id: int, email: str | None) -> str:
        """A Connect account for a seller, to be completed by the seller on Stripe's onboarding pages."""
        params: dict = {
            "type": "express",
            "country": "CN",
            "metadata": {"organisation_id": str(organisation_id)},
            "capabilities": {"transfers": {"requested": True}},
        }
        if email:
            params["email"] = email
        account = _calling_stripe(
            lambda: self.client.v1.accounts.create(
                params, {"idempotency_key": f"agrilink-organisation-{organisation_id}-account"}
            )
        )
        return account.id

    def onboarding_link(self, *, account_id: str, return_url: str, refresh_url: str) -> str:
        link = _calling_stripe(
            lambda: self.client.v1.account_links.create(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        )
        return link.url

    def event(self, payload: bytes, signature: str | None) -> stripe.Event:
        """The webhook's event, if Stripe signed it; stripe.SignatureVerificationError otherwise."""
        return self.client.construct_event(payload, signature, self.webhook_secret)


def init_app(app: Flask) -> None:
    """Use Stripe when STRIPE_API_KEY is set (STRIPE_HTTP_CLIENT lets tests answer in Stripe's place)."""
    key = app.config["STRIPE_API_KEY"]
    if not key:
        app.extensions["agrilink.stripe"] = None
        return
    client = stripe.StripeClient(
        key, http_client=app.config.get("STRIPE_HTTP_CLIENT"), max_network_retries=2
    )
    app.extensions["agrilink.stripe"] = StripeGateway(
        client, webhook_secret=app.config["STRIPE_WEBHOOK_SECRET"]
    )


def stripe_gateway() -> StripeGateway | None:
    """The Stripe provider if this platform uses it, else None (the embedded provider)."""
    return current_app.extensions.get("agrilink.stripe")

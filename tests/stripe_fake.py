"""Stripe, as far as the platform talks to it, answered in-process: an HTTP client for the real stripe library
(stripe.StripeClient(http_client=FakeStripe())) that keeps objects, honours idempotency keys and refuses what
Stripe refuses, and a signer for webhooks made the way Stripe signs them."""

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import parse_qsl, urlsplit

import stripe

WEBHOOK_SECRET = "whsec_test_agrilink"


class FakeStripe(stripe.HTTPClient):
    name = "agrilink-fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, dict, str | None]] = []
        self.objects: dict[str, dict] = {}
        self._replies: dict[str, tuple[str, int, dict]] = {}
        self._ids = itertools.count(1)
        self._refusals: dict[str, str] = {}

    def refuse_next(self, path: str, message: str) -> None:
        """The next call to `path` is refused as Stripe refuses a request it will not do (402)."""
        self._refusals[path] = message

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        path = urlsplit(url).path
        params = dict(parse_qsl(post_data or ""))
        key = (headers or {}).get("Idempotency-Key")
        self.calls.append((method, path, params, key))
        if key in self._replies:  # Stripe answers a retried key with the first answer
            return self._replies[key]
        if path in self._refusals:
            refusal = {
                "error": {"type": "invalid_request_error", "message": self._refusals.pop(path)}
            }
            return json.dumps(refusal), 402, {"Request-Id": f"req_{next(self._ids)}"}
        status, body = self._answer(method, path, params)
        reply = (json.dumps(body), status, {"Request-Id": f"req_{next(self._ids)}"})
        if key:
            self._replies[key] = reply
        return reply

    def close(self) -> None:
        pass

    def posted(self, path: str) -> list[tuple[dict, str | None]]:
        """What was sent to `path` (its parameters and idempotency key), each call once per key."""
        seen, found = set(), []
        for method, called, params, key in self.calls:
            if method == "post" and called == path and key not in seen:
                seen.add(key)
                found.append((params, key))
        return found

    def _answer(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        handlers = {
            "/v1/payment_intents": self._intent,
            "/v1/refunds": self._refund,
            "/v1/transfers": self._transfer,
            "/v1/accounts": self._account,
            "/v1/account_links": self._account_link,
        }
        handler = handlers.get(path) if method == "post" else None
        if handler is None:
            return 404, _error(f"Unrecognized request URL ({method.upper()}: {path})")
        return handler(params)

    def _keep(self, prefix: str, body: dict) -> tuple[int, dict]:
        body["id"] = f"{prefix}_{next(self._ids)}"
        self.objects[body["id"]] = body
        return 200, body

    def _intent(self, params: dict) -> tuple[int, dict]:
        status, body = self._keep(
            "pi",
            {
                "object": "payment_intent",
                "amount": int(params["amount"]),
                "amount_refunded": 0,
                "currency": params["currency"],
                "transfer_group": params.get("transfer_group"),
                "status": "requires_payment_method",
            },
        )
        body["client_secret"] = f"{body['id']}_secret_test"
        return status, body

    def _refund(self, params: dict) -> tuple[int, dict]:
        intent = self.objects.get(params.get("payment_intent", ""))
        amount = int(params["amount"])
        if intent is None:
            return 400, _error("No such payment_intent")
        if intent["amount_refunded"] + amount > intent["amount"]:
            return 400, _error("Refund amount is greater than the unrefunded charge.")
        intent["amount_refunded"] += amount
        return self._keep(
            "re",
            {
                "object": "refund",
                "amount": amount,
                "payment_intent": intent["id"],
                "status": "succeeded",
            },
        )

    def _transfer(self, params: dict) -> tuple[int, dict]:
        return self._keep(
            "tr",
            {
                "object": "transfer",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "destination": params["destination"],
                "transfer_group": params.get("transfer_group"),
            },
        )

    def _account(self, params: dict) -> tuple[int, dict]:
        return self._keep(
            "acct", {"object": "account", "type": params["type"], "payouts_enabled": False}
        )

    def _account_link(self, params: dict) -> tuple[int, dict]:
        return 200, {
            "object": "account_link",
            "url": f"https://connect.stripe.com/setup/e/{params['account']}/onboard",
            "expires_at": int(time.time()) + 300,
        }


def _error(message: str) -> dict:
    return {"error": {"type": "invalid_request_error", "message": message}}


def webhook(event_id: str, event_type: str, subject: dict, *, secret: str = WEBHOOK_SECRET):
    """A webhook body and the Stripe-Signature header Stripe would send with it."""
    payload = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "api_version": stripe.api_version,
            "created": int(time.time()),
            "data": {"object": subject},
        }
    )
    timestamp = int(time.time())
    signature = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return payload, f"t={timestamp},v1={signature}"

"""Card payments through Stripe: the checkout's PaymentIntent, webhook events stored once, sellers' Connect
accounts. The ledger postings they cause are made by the orders that own the money (app/orders/money.py)."""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import RuleViolation
from app.payments.models import CardPayment, StripeAccount, StripeCall, StripeEvent
from app.payments.stripe_gateway import ProviderUnavailable, StripeGateway


def start_card_payment(
    session: Session,
    gateway: StripeGateway | None,
    *,
    checkout_id: int,
    buyer_id: int,
    amount_fen: int,
    now: datetime | None = None,
) -> CardPayment:
    """The checkout's PaymentIntent (made once, however often this runs), for the buyer's card form."""
    if gateway is None:
        raise RuleViolation(
            _("This platform does not take cards; pay from your wallet."), field="payment"
        )
    existing = session.scalar(select(CardPayment).where(CardPayment.checkout_id == checkout_id))
    if existing is not None:
        return existing
    intent = gateway.create_intent(
        checkout_id=checkout_id, buyer_id=buyer_id, amount_fen=amount_fen
    )
    payment = CardPayment(
        checkout_id=checkout_id,
        intent_id=intent.id,
        client_secret=intent.client_secret,
        amount_fen=amount_fen,
        created_at=now or utcnow(),
    )
    session.add(payment)
    return payment


def card_payment_of(session: Session, checkout_id: int) -> CardPayment | None:
    return session.scalar(select(CardPayment).where(CardPayment.checkout_id == checkout_id))


def payment_by_intent(session: Session, intent_id: str) -> CardPayment | None:
    return session.scalar(
        select(CardPayment).where(CardPayment.intent_id == intent_id).with_for_update()
    )


def first_delivery(
    session: Session, event_id: str, event_type: str, now: datetime | None = None
) -> bool:
    """Store a webhook event's id; False if it was stored before (a duplicate delivery: do nothing)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stored = session.scalar(
        dialect.insert(StripeEvent)
        .values(id=event_id, type=event_type, received_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    return stored is not None


def connect_account(
    session: Session, gateway: StripeGateway | None, *, organisation_id: int, email: str | None
) -> StripeAccount:
    """The seller's Connect account, opened on Stripe the first time it is asked for."""
    if gateway is None:
        raise RuleViolation(_("This platform pays sellers by bank transfer only."))
    account = session.get(StripeAccount, organisation_id)
    if account is None:
        account_id = gateway.create_account(organisation_id=organisation_id, email=email)
        account = StripeAccount(organisation_id=organisation_id, account_id=account_id)
        session.add(account)
    return account


def update_connect_account(session: Session, *, account_id: str, payouts_enabled: bool) -> None:
    """Stripe told us a seller finished (or lost) onboarding."""
    account = session.scalar(select(StripeAccount).where(StripeAccount.account_id == account_id))
    if account is not None:
        account.payouts_enabled = payouts_enabled


def transfer_destination(session: Session, organisation_id: int) -> str | None:
    """Where a seller's card money goes: its Connect account, once it can receive payouts."""
    account = session.get(StripeAccount, organisation_id)
    return account.account_id if account and account.payouts_enabled else None


def queue_call(session: Session, *, key: str, kind: str, params: dict, order_id: int) -> None:
    """A refund or transfer to make once this transaction commits (the same key twice is one call)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(StripeCall)
        .values(key=key, kind=kind, params=params, order_id=order_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )


def waiting_calls(session: Session, *, limit: int = 50) -> list[int]:
    """Refunds and transfers not yet confirmed by Stripe, oldest first."""
    query = select(StripeCall.id).where(StripeCall.done_at.is_(None)).order_by(StripeCall.id)
    return list(session.scalars(query.limit(limit)))


def make_call(
    session: Session, gateway: StripeGateway, *, call_id: int, now: datetime | None = None
) -> bool:
    """Make one waiting call at Stripe (its key makes a repeat harmless); False if Stripe refused it,
    which is noted on the call for the next attempt and for the platform's staff."""
    call = session.scalar(
        select(StripeCall).where(StripeCall.id == call_id).with_for_update(skip_locked=True)
    )
    if call is None or call.done_at is not None:
        return True
    call.attempts += 1
    try:
        call.stripe_id = _make(gateway, call)
    except ProviderUnavailable as error:
        call.last_error = error.message[:500]
        return False
    call.done_at, call.last_error = now or utcnow(), ""
    return True


def _make(gateway: StripeGateway, call: StripeCall) -> str:
    params = call.params
    if call.kind == "refund":
        return gateway.refund(
            intent_id=params["intent_id"], amount_fen=params["amount_fen"], key=call.key
        )
    return gateway.transfer(
        account_id=params["account_id"],
        amount_fen=params["amount_fen"],
        checkout_id=params["checkout_id"],
        charge_id=params.get("charge_id"),
        key=call.key,
    )


def failed_calls(session: Session, *, limit: int = 50) -> list[StripeCall]:
    """Calls Stripe has refused at least once and not yet made, for the platform's staff."""
    query = select(StripeCall).where(StripeCall.done_at.is_(None), StripeCall.attempts > 0)
    return list(session.scalars(query.order_by(StripeCall.id).limit(limit)))

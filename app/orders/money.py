"""An order's money in the ledger: held at payment, shared out at acceptance, returned on cancellation.

Every posting's key names the order and the step, so a step retried (a double click, a replayed request, a job
run twice) moves the money once. The provider is chosen by how the order was paid: wallet and account money
stays on the platform's books (sellers are paid by the bank payout batch); card money came through Stripe, so
its refunds go back to the card and the seller's share is transferred to its Connect account. Those Stripe
calls are queued in the same transaction (card.queue_call) and made once it commits, with Stripe idempotency
keys named after the same order and step.
"""

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.db import local_date
from app.errors import RuleViolation
from app.orders.models import Order, PaymentMethod
from app.payments import card, ledger
from app.payments.models import CreditTerms, Invoice


def buyer_account(order: Order) -> str:
    """Where the buyer's money comes from and goes back to: its wallet, its account with us, or its card."""
    if order.payment == PaymentMethod.account:
        return ledger.receivable(order.buyer_id)
    if order.payment == PaymentMethod.card:
        return ledger.STRIPE
    return ledger.wallet(order.buyer_id)


def hold(session: Session, order: Order, *, actor_id: int | None) -> None:
    """Take the order's total from the buyer into the order's escrow."""
    if order.payment == PaymentMethod.account and session.get(CreditTerms, order.buyer_id) is None:
        raise RuleViolation(
            _(
                "Your organisation does not pay on account yet; ask the platform for credit terms, "
                "or pay from your wallet."
            ),
            field="payment",
        )
    _post(session, order, "hold", "hold", _held(order), actor_id=actor_id)


def hold_posting(order: Order) -> ledger.Posting:
    """What hold posts for the order (by the person who placed it), to post many holds at once."""
    return ledger.Posting(
        key=f"order:{order.id}:hold",
        kind="hold",
        order_id=order.id,
        actor_id=order.placed_by_id,
        moves=_held(order),
    )


def _held(order: Order) -> dict[str, int]:
    """The order's total, from where the buyer pays into the order's escrow."""
    return {buyer_account(order): -order.total_fen, ledger.escrow(order.id): order.total_fen}


def _post(session, order: Order, step: str, kind: str, moves, *, actor_id=None, memo="") -> None:
    """One of the order's postings, its key naming the order and the step."""
    ledger.post(
        session,
        key=f"order:{order.id}:{step}",
        kind=kind,
        order_id=order.id,
        actor_id=actor_id,
        memo=memo,
        moves=moves,
    )


def release(session: Session, order: Order, *, step: str, actor_id: int | None) -> None:
    """Give everything held back to the buyer (a cancelled order)."""
    returned = {account: -amount for account, amount in _held(order).items()}
    _post(session, order, step, "refund", returned, actor_id=actor_id)
    order.refunded_fen = order.total_fen
    _refund_card(session, order, order.total_fen, step)


def fee_of(seller_fen: int, fee_bps: int) -> int:
    """The platform's fee, rounded down: the fraction of a fen goes to the seller."""
    return seller_fen * fee_bps // 10_000


def share_out(
    session: Session, order: Order, *, seller_fen: int, step: str, actor_id: int | None
) -> bool:
    """Pay the seller `seller_fen` less the fee, and give the rest of what is held back to the buyer.
    True when the seller's share has already left the platform (a card sale transferred to its Connect
    account); otherwise it waits in the seller's payable for the next payout batch."""
    fee = fee_of(seller_fen, order.fee_bps)
    refund = order.total_fen - seller_fen
    shares = {
        ledger.escrow(order.id): -order.total_fen,
        ledger.payable(order.seller_id): seller_fen - fee,
        ledger.FEES: fee,
        buyer_account(order): refund,
    }
    _post(session, order, step, "settle", shares, actor_id=actor_id)
    order.accepted_fen, order.fee_fen, order.refunded_fen = seller_fen, fee, refund
    _refund_card(session, order, refund, step)
    return _transfer_card_money(session, order, seller_fen - fee)


def card_paid(session: Session, order: Order, *, intent_id: str) -> None:
    """Stripe says the checkout's card payment succeeded: the order's share is now held."""
    _post(session, order, "hold", "hold", _held(order), memo=intent_id)


def refund_late_card_payment(session: Session, order: Order) -> None:
    """A card payment that arrived after its order was cancelled goes straight back to the card."""
    _refund_card(session, order, order.total_fen, "late")


def _refund_card(session: Session, order: Order, amount_fen: int, step: str) -> None:
    if order.payment != PaymentMethod.card or amount_fen <= 0:
        return
    payment = card.card_payment_of(session, order.checkout_id)
    card.queue_call(
        session,
        key=f"order-{order.id}-{step}-refund",
        kind="refund",
        params={"intent_id": payment.intent_id, "amount_fen": amount_fen},
        order_id=order.id,
    )


def _transfer_card_money(session: Session, order: Order, amount_fen: int) -> bool:
    """Send a card order's seller share to the seller's Connect account, if it has one that can be paid;
    otherwise it waits in the payable for the next payout batch."""
    if order.payment != PaymentMethod.card or amount_fen <= 0:
        return False
    destination = card.transfer_destination(session, order.seller_id)
    if destination is None:
        return False
    payment = card.card_payment_of(session, order.checkout_id)
    card.queue_call(
        session,
        key=f"order-{order.id}-transfer",
        kind="transfer",
        params={
            "account_id": destination,
            "amount_fen": amount_fen,
            "checkout_id": order.checkout_id,
            "charge_id": payment.charge_id,
        },
        order_id=order.id,
    )
    moves = {ledger.payable(order.seller_id): -amount_fen, ledger.STRIPE: amount_fen}
    _post(session, order, "transfer", "payout", moves, memo=destination)
    return True


def invoice(session: Session, order: Order, *, now: datetime) -> Invoice | None:
    """For an order on account: the bill for what was accepted, due after the days agreed for this order
    (an order contract's), else after the buyer's payment terms."""
    if order.payment != PaymentMethod.account or not order.accepted_fen:
        return None
    terms = session.get(CreditTerms, order.buyer_id)
    days = order.payment_days or (terms.days if terms else 30)
    issued_on = local_date(now)
    bill = Invoice(
        order_id=order.id,
        buyer_id=order.buyer_id,
        amount_fen=order.accepted_fen,
        issued_on=issued_on,
        due_on=issued_on + timedelta(days=days),
    )
    session.add(bill)
    return bill

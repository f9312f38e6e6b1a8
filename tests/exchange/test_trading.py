"""Continuous matching through the service: funds and receipts back orders, trades settle into escrow and
move receipts, the rules refuse what they must, and the stored order log replays to the stored trades."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind, Role
from app.errors import Conflict, RuleViolation
from app.exchange import instruments, replay, settlement, trading
from app.exchange.models import (
    DEFAULT_MODES,
    ExchangeOrder,
    OrderStatus,
    Receipt,
    ReceiptStatus,
    Trade,
)
from app.payments import ledger
from app.payments.ledger import InsufficientFunds
from tests.exchange.steps import (
    MONDAY_10AM,
    SUNDAY_10AM,
    cuiya,
    order,
    sell_new_tea,
    seller_with_receipt,
    trader_with_deposit,
)
from tests.factories import member
from tests.helpers import ledger_problems


def test_a_buy_crossing_a_resting_sell_trades_at_the_sell_price_and_moves_the_tea(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=100)
    buyer = trader_with_deposit(session, fen=10_000_000)
    order(session, seller, tea, "sell", 79_000, 4, receipt=receipt)  # 20 kg of the 100 offered
    placed = order(session, buyer, tea, "buy", 80_000, 3)

    [trade] = placed.trades
    assert (trade.price_fen, trade.lots, trade.kg) == (79_000, 3, 15)
    assert trade.value_fen == 79_000 * 15
    assert placed.order.status == OrderStatus.filled
    bought = session.get(Receipt, trade.receipt_id)
    assert (bought.holder_id, bought.net_kg, bought.status) == (
        buyer.organisation_id,
        15,
        ReceiptStatus.held,
    )
    assert session.get(Receipt, receipt.id).net_kg == 80  # what was not offered stays the seller's
    # The buyer paid the trade price, not its limit: the difference is free again.
    assert ledger.balance(session, ledger.exchange_deposit(buyer.organisation_id)) == (
        10_000_000 - 79_000 * 15
    )
    assert ledger.balance(session, ledger.reserved(buyer.organisation_id)) == 0
    assert ledger.balance(session, ledger.trade_escrow(trade.id)) == 79_000 * 15
    assert ledger_problems(session) == []


def test_an_order_rests_what_it_cannot_fill_with_its_money_still_reserved(session):
    tea = cuiya(session)
    buyer = trader_with_deposit(session)
    placed = order(session, buyer, tea, "buy", 78_000, 2)
    assert placed.trades == []
    assert (placed.order.status, placed.order.open_lots) == (OrderStatus.open, 2)
    assert ledger.balance(session, ledger.reserved(buyer.organisation_id)) == 78_000 * 10
    trading.cancel_order(
        session,
        organisation_id=buyer.organisation_id,
        actor_id=buyer.user_id,
        order_id=placed.order.id,
    )
    assert ledger.balance(session, ledger.reserved(buyer.organisation_id)) == 0
    assert ledger_problems(session) == []


def test_an_unfunded_buy_is_refused_and_leaves_nothing_behind(session):
    tea = cuiya(session)
    poor = trader_with_deposit(session, fen=100_000)
    with pytest.raises(InsufficientFunds, match="exchange deposit"):
        order(session, poor, tea, "buy", 80_000, 1)


def test_a_sell_of_a_receipt_already_offered_is_refused(session):
    tea = cuiya(session)
    seller, receipt = seller_with_receipt(session, tea, kg=10)
    order(session, seller, tea, "sell", 81_000, 2, receipt=receipt)
    with pytest.raises(Conflict, match="not free"):
        order(session, seller, tea, "sell", 81_000, 2, receipt=receipt)


@pytest.mark.parametrize(
    ("change", "price", "now", "rule"),
    [
        ({}, 80_005, MONDAY_10AM, "ticks"),
        ({}, 89_000, MONDAY_10AM, "between ¥720.00 and ¥880.00"),
        ({}, 80_000, SUNDAY_10AM, "out of session"),
        ({}, 80_000, MONDAY_10AM + timedelta(hours=6), "out of session"),
        ({"modes": DEFAULT_MODES}, 80_000, MONDAY_10AM, "does not trade by"),
        ({"halted": True}, 80_000, MONDAY_10AM, "halted"),
    ],
)
def test_orders_outside_the_rules_are_refused_with_the_reason(session, change, price, now, rule):
    tea = cuiya(session, modes=change.get("modes"))
    if change.get("halted"):
        instruments.set_halt(
            session,
            actor_id=member(kind=OrgKind.exchange, role=Role.officer).user_id,
            symbol=tea.symbol,
            halted=True,
            reason="审查",
        )
    buyer = trader_with_deposit(session)
    with pytest.raises((RuleViolation, Conflict), match=rule):
        order(session, buyer, tea, "buy", price, 1, now=now)


def test_a_self_trade_cancels_the_rest_of_the_incoming_order(session):
    tea = cuiya(session)
    seller = trader_with_deposit(session)  # a trader reselling tea it bought earlier
    other, other_receipt = seller_with_receipt(session, tea, kg=100)
    order(session, other, tea, "sell", 79_000, 1, receipt=other_receipt)
    own = sell_new_tea(session, seller, tea, 79_500, 2).order
    placed = order(session, seller, tea, "buy", 79_500, 3)

    [trade] = (
        placed.trades
    )  # the other member's lot, then its own order is next: the rest is cancelled
    assert trade.sell_order_id != own.id
    assert (placed.order.status, placed.order.filled_lots) == (OrderStatus.cancelled, 1)
    assert session.get(ExchangeOrder, own.id).open_lots == 2  # its own resting order stays
    assert ledger.balance(session, ledger.reserved(seller.organisation_id)) == 0
    assert ledger_problems(session) == []


def test_replaying_the_stored_order_log_gives_exactly_the_stored_trades(session):
    tea = cuiya(session)
    sellers = [seller_with_receipt(session, tea, kg=200) for _ in range(3)]
    buyers = [trader_with_deposit(session) for _ in range(3)]
    placed = []
    for n, (seller, receipt) in enumerate(sellers):
        placed.append(order(session, seller, tea, "sell", 79_000 + 100 * n, 10, receipt=receipt))
    placed.append(order(session, buyers[0], tea, "buy", 79_100, 12))
    placed.append(order(session, buyers[1], tea, "buy", 79_100, 10, ioc=True))  # 8 fill
    placed.append(order(session, buyers[2], tea, "buy", 78_000, 3))
    trading.cancel_order(
        session,
        organisation_id=buyers[2].organisation_id,
        actor_id=buyers[2].user_id,
        order_id=placed[5].order.id,
    )
    placed.append(order(session, buyers[2], tea, "buy", 79_500, 20))

    log = io.StringIO()
    log.write(",".join(replay.INPUT_HEADER) + "\n")
    for row in trading.order_log(session, tea.id):
        log.write(",".join(str(field) for field in row) + "\n")
    log.seek(0)
    replayed = list(replay.replay(replay.read_log(log)))
    stored = session.scalars(
        select(Trade).where(Trade.instrument_id == tea.id).order_by(Trade.id)
    ).all()
    assert [(t.buy_order_id, t.sell_order_id, t.price, t.quantity) for t in replayed] == [
        (t.buy_order_id, t.sell_order_id, t.price_fen, t.lots) for t in stored
    ]
    assert len(stored) >= 4
    assert (
        session.get(ExchangeOrder, placed[4].order.id).status == OrderStatus.cancelled
    )  # the IOC's rest
    assert ledger_problems(session) == []


def test_a_trade_pays_the_seller_less_the_fee_at_t_plus_n_exactly_once(session):
    tea = cuiya(session, fee_bps=30)
    seller, receipt = seller_with_receipt(session, tea)
    buyer = trader_with_deposit(session)
    order(session, seller, tea, "sell", 80_000, 2, receipt=receipt)
    [trade] = order(session, buyer, tea, "buy", 80_000, 2).trades
    assert settlement.settle_due(session, now=MONDAY_10AM + timedelta(days=2)) == 0
    due = MONDAY_10AM + timedelta(days=3)
    assert settlement.settle_due(session, now=due) == 1
    assert settlement.settle_due(session, now=due) == 0
    fee = 80_000 * 10 * 30 // 10_000
    assert ledger.balance(session, ledger.payable(seller.organisation_id)) == 800_000 - fee
    assert ledger.balance(session, ledger.trade_escrow(trade.id)) == 0
    assert ledger_problems(session) == []

"""The tea exchange against a real server: granian workers on a database of the test's own, many traders at
once taking the last lot, bidding in one auction, offering or pledging one receipt twice and trading on one
book.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

import itertools
import re
from datetime import timedelta

from sqlalchemy import func, select

from app.db import get_session, transaction, utcnow
from app.exchange import auctions, lots
from app.exchange.models import (
    Auction,
    ExchangeOrder,
    Lot,
    LotStatus,
    Receipt,
    ReceiptPledge,
    ReceiptStatus,
    Trade,
)
from app.orders.cli import problems
from scripts.bench.common import Server
from tests.exchange.races import (
    CLOSE_FEN,
    LOT_KG,
    SYMBOL,
    Trader,
    at_once,
    call,
    exchange_with_traders,
    free_and_reserved,
    yuan,
)


def test_twenty_traders_taking_the_last_lot_at_once_make_one_trade_and_the_rest_hear_it_is_gone(
    empty_database_url,
):
    app, traders = exchange_with_traders(empty_database_url, traders=22, deposit_fen=1_000_000)
    seller, early, racers = traders[0], traders[1], traders[2:]
    with app.app_context(), transaction() as session:
        lot = lots.list_lot(
            session,
            organisation_id=seller.organisation_id,
            actor_id=seller.user_id,
            symbol=SYMBOL,
            receipt_id=seller.receipt_id,
            price_fen=CLOSE_FEN,
            lots=3,
        )
        lots.take_lot(
            session,
            organisation_id=early.organisation_id,
            actor_id=early.user_id,
            lot_id=lot.id,
            lots=2,
        )
        lot_id, offered_id = lot.id, lot.receipt_id
    # One lot is left; every 4th racer greedily asks for 2 of it.
    asks = [2 if n % 4 == 3 else 1 for n in range(len(racers))]
    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        answers = at_once(
            server.base,
            [
                (racer.token, "POST", f"/api/v1/exchange/lots/{lot_id}/take", {"lots": wanted})
                for racer, wanted in zip(racers, asks, strict=True)
            ],
        )
        listed = call(server.base, racers[0].token, "GET", "/api/v1/exchange/lots")[1]

    won = [n for n, (status, _) in enumerate(answers) if status == 201]
    assert len(won) == 1, answers
    winner = racers[won[0]]
    assert asks[won[0]] == 1 and answers[won[0]][1]["kg"] == LOT_KG
    for n, (status, body) in enumerate(answers):
        if n == won[0]:
            continue
        assert status == 409, body
        gone = "已被他人先行摘牌" in body["message"]
        assert gone or (asks[n] == 2 and "只剩 1 手" in body["message"]), body
    assert lot_id not in [listing["id"] for listing in listed]

    with app.app_context():
        reads = get_session()
        lot = reads.get(Lot, lot_id)
        assert (lot.open_lots, lot.status) == (0, LotStatus.sold)
        trades = reads.scalars(select(Trade).where(Trade.lot_id == lot_id).order_by(Trade.id))
        assert [(t.buyer_id, t.lots) for t in trades] == [
            (early.organisation_id, 2),
            (winner.organisation_id, 1),
        ]
        assert reads.get(Receipt, offered_id).status == ReceiptStatus.sold
        bought = reads.scalars(
            select(Receipt.net_kg).where(Receipt.holder_id == winner.organisation_id)
        )
        assert sorted(bought) == [LOT_KG, 500]  # its own receipt, and the lot it took
        for racer in racers:
            paid = CLOSE_FEN * LOT_KG if racer == winner else 0
            assert free_and_reserved(reads, racer.organisation_id) == (1_000_000 - paid, 0)
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def test_thirty_traders_bidding_at_once_round_after_round_leave_one_rising_line_of_bids(
    empty_database_url,
):
    app, traders = exchange_with_traders(empty_database_url, traders=31, deposit_fen=1_000_000)
    seller, bidders = traders[0], traders[1:]
    increment = 10
    with app.app_context(), transaction() as session:
        now = utcnow()
        auction_id = auctions.create_english(
            session,
            organisation_id=seller.organisation_id,
            actor_id=seller.user_id,
            symbol=SYMBOL,
            receipt_id=seller.receipt_id,
            lots=2,
            start_fen=CLOSE_FEN,
            increment_fen=increment,
            reserve_fen=0,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
        ).id
    kg = 2 * LOT_KG
    path = f"/api/v1/exchange/auctions/{auction_id}/bids"
    accepted, leading = [], CLOSE_FEN - increment
    with Server(empty_database_url, "wsgi:app", workers=2, threads=8) as server:
        for round_ in range(4):
            # Every bidder a different step above the price to beat, in a different order each round.
            prices = [leading + increment * (1 + (n * 7 + round_ * 11) % 30) for n in range(30)]
            answers = at_once(
                server.base,
                [
                    (bidder.token, "POST", path, {"price_yuan": yuan(price)})
                    for bidder, price in zip(bidders, prices, strict=True)
                ],
            )
            for bidder, price, (status, body) in zip(bidders, prices, answers, strict=True):
                if status == 201:
                    assert body["price_fen"] == price and body["yours"] is True
                    accepted.append({**body, "bidder_id": bidder.organisation_id})
                else:
                    assert status == 409, body
                    least = re.search(r"当前出价每千克至少 ¥([\d,]+\.\d\d)", body["message"])
                    assert least or body["message"] == "您已是最高出价者。", body
                    # Told the least it must bid now, which is above what it bid.
                    assert not least or price < int(re.sub(r"\D", "", least[1])), body
            leading = max(bid["price_fen"] for bid in accepted)
        shown = call(
            server.base, bidders[0].token, "GET", f"/api/v1/exchange/auctions/{auction_id}"
        )

    accepted.sort(key=lambda bid: bid["seq"])
    assert [bid["seq"] for bid in accepted] == list(range(1, len(accepted) + 1))
    prices = [bid["price_fen"] for bid in accepted]
    assert all(later >= earlier + increment for earlier, later in itertools.pairwise(prices))
    status, auction = shown
    assert status == 200
    seen = [(bid["seq"], bid["price_fen"]) for bid in auction["bids"]]
    assert seen == [(bid["seq"], bid["price_fen"]) for bid in accepted[::-1]]
    assert all(
        bid.keys() >= {"yours"} and "bidder_id" not in bid for bid in auction["bids"]
    )  # anonymous
    last = accepted[-1]
    asker_leads = last["bidder_id"] == bidders[0].organisation_id
    assert (auction["leading_fen"], auction["you_lead"]) == (last["price_fen"], asker_leads)
    assert auction["bid_count"] == len(accepted) >= 4  # at least one new leader a round

    with app.app_context():
        reads = get_session()
        assert reads.get(Auction, auction_id).leader_id == last["bidder_id"]
        for bidder in bidders:
            held = last["price_fen"] * kg if bidder.organisation_id == last["bidder_id"] else 0
            assert free_and_reserved(reads, bidder.organisation_id) == (1_000_000 - held, held)
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def _listing(trader: Trader, lots_: int, price_fen: int = CLOSE_FEN) -> tuple:
    body = {"symbol": SYMBOL, "receipt_id": trader.receipt_id, "price_yuan": yuan(price_fen)}
    return (trader.token, "POST", "/api/v1/exchange/lots", {**body, "lots": lots_})


def _sell_order(trader: Trader, lots_: int, price_fen: int = CLOSE_FEN) -> tuple:
    body = {"symbol": SYMBOL, "side": "sell", "receipt_id": trader.receipt_id}
    return (
        trader.token,
        "POST",
        "/api/v1/exchange/orders",
        {**body, "lots": lots_, "price_yuan": yuan(price_fen)},
    )


def test_a_receipt_offered_twice_at_once_backs_one_offer_and_the_other_hears_it_is_taken(
    empty_database_url,
):
    app, traders = exchange_with_traders(
        empty_database_url, traders=20, deposit_fen=0, receipt_kg=100
    )
    # Each holder offers its whole receipt (20 lots) twice at once: as two listings at different prices
    # (the first ten holders), or as a listing and a sell order on the book (the other ten).
    pairs = [
        (_listing(trader, 20), _listing(trader, 20, CLOSE_FEN + 10))
        if n < 10
        else (_listing(trader, 20), _sell_order(trader, 20))
        for n, trader in enumerate(traders)
    ]
    with Server(empty_database_url, "wsgi:app", workers=2, threads=16) as server:
        answers = at_once(server.base, [step for pair in pairs for step in pair])
        listed = call(server.base, traders[0].token, "GET", "/api/v1/exchange/lots")[1]
        book = call(
            server.base, traders[0].token, "GET", f"/api/v1/exchange/instruments/{SYMBOL}/book"
        )[1]

    listings, sell_orders = [], 0
    for n, trader in enumerate(traders):
        first, second = answers[2 * n], answers[2 * n + 1]
        assert sorted([first[0], second[0]]) == [201, 409], (first, second)
        (_, won), (_, lost) = sorted([first, second], key=lambda answer: answer[0])
        assert lost["message"] == f"仓单 {trader.receipt_number} 当前不可用：状态为挂出中。", lost
        if "order" in won:
            sell_orders += 1
        else:
            listings.append(won["id"])
    assert sorted(lot["id"] for lot in listed) == sorted(listings)
    assert sum(level["lots"] for level in book["asks"]) == 20 * sell_orders

    with app.app_context():
        reads = get_session()
        for trader in traders:
            assert reads.get(Receipt, trader.receipt_id).status == ReceiptStatus.offered
            backing = reads.scalar(
                select(func.count()).select_from(Lot).where(Lot.receipt_id == trader.receipt_id)
            ) + reads.scalar(
                select(func.count())
                .select_from(ExchangeOrder)
                .where(ExchangeOrder.receipt_id == trader.receipt_id)
            )
            assert backing == 1
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def _pledge(trader: Trader, lender: str) -> tuple:
    body = {
        "lender": lender,
        "loan_reference": "L-1",
        "amount_yuan": "20000",
        "until": "2099-12-31",
    }
    return (trader.token, "POST", f"/api/v1/exchange/receipts/{trader.receipt_id}/pledge", body)


def test_a_receipt_pledged_and_sold_or_pledged_twice_at_once_is_one_or_the_other(
    empty_database_url,
):
    app, traders = exchange_with_traders(
        empty_database_url, traders=20, deposit_fen=0, receipt_kg=100
    )
    # The first ten holders pledge their receipt and list it at the same moment; the others pledge it to
    # two lenders at once.
    pairs = [
        (
            _pledge(trader, "遵义农商银行"),
            _listing(trader, 20) if n < 10 else _pledge(trader, "贵州银行"),
        )
        for n, trader in enumerate(traders)
    ]
    with Server(empty_database_url, "wsgi:app", workers=2, threads=16) as server:
        answers = at_once(server.base, [step for pair in pairs for step in pair])

    with app.app_context():
        reads = get_session()
        for n, trader in enumerate(traders):
            pair = answers[2 * n : 2 * n + 2]
            assert sorted(code for code, _body in pair) in ([200, 409], [201, 409]), pair
            refused = next(body for code, body in pair if code == 409)
            assert refused["message"].startswith(f"仓单 {trader.receipt_number} 当前不可用"), (
                refused
            )
            receipt = reads.get(Receipt, trader.receipt_id)
            pledges_made = reads.scalar(
                select(func.count())
                .select_from(ReceiptPledge)
                .where(ReceiptPledge.receipt_id == receipt.id)
            )
            lots_made = reads.scalar(
                select(func.count()).select_from(Lot).where(Lot.receipt_id == receipt.id)
            )
            if receipt.status == ReceiptStatus.pledged:
                assert (pledges_made, lots_made) == (1, 0)
            else:
                assert (receipt.status, pledges_made, lots_made) == (ReceiptStatus.offered, 0, 1)
    app.extensions["agrilink.db"].dispose()


def test_a_receipt_offered_whole_and_in_part_at_once_never_lists_more_tea_than_it_holds(
    empty_database_url,
):
    app, traders = exchange_with_traders(
        empty_database_url, traders=30, deposit_fen=0, receipt_kg=100
    )
    # Each holder lists its whole receipt (20 lots) and half of it (10 lots) at the same moment.
    calls = [step for trader in traders for step in (_listing(trader, 20), _listing(trader, 10))]
    with Server(empty_database_url, "wsgi:app", workers=2, threads=16) as server:
        answers = at_once(server.base, calls)

    for n, trader in enumerate(traders):
        whole, half = answers[2 * n], answers[2 * n + 1]
        if whole[0] == 201:
            assert half[0] == 409, half
            assert f"仓单 {trader.receipt_number} 当前不可用" in half[1]["message"]
        else:
            assert half[0] == 201, (whole, half)
            assert whole[0] in (409, 422), whole  # the receipt is offered, or holds 50 kg now
    with app.app_context():
        reads = get_session()
        listed = reads.execute(select(Lot.lots, Receipt.net_kg).join(Lot.receipt)).all()
        assert len(listed) == len(traders)
        assert [kg for _, kg in listed] == [lots_ * LOT_KG for lots_, _ in listed]
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()


def test_a_trader_taking_lots_while_its_own_orders_trade_never_waits_on_itself(empty_database_url):
    """Taking a lot and placing an order lock the instrument first, then money and tea: a trader doing both
    at once is answered every time (no deadlock, no 500), and the books add up."""
    app, (seller, buyer) = exchange_with_traders(
        empty_database_url, traders=2, deposit_fen=100_000_000
    )
    with app.app_context(), transaction() as session:
        listed = [
            lots.list_lot(
                session,
                organisation_id=seller.organisation_id,
                actor_id=seller.user_id,
                symbol=SYMBOL,
                receipt_id=seller.receipt_id,
                price_fen=CLOSE_FEN,
                lots=1,
            ).id
            for _ in range(12)
        ]
    sell = {"symbol": SYMBOL, "side": "sell", "price_yuan": yuan(CLOSE_FEN), "lots": 1}
    buy = {"symbol": SYMBOL, "side": "buy", "price_yuan": yuan(CLOSE_FEN), "lots": 1}
    with Server(empty_database_url, "wsgi:app", workers=2, threads=16) as server:
        for _ in range(12):
            call(
                server.base,
                seller.token,
                "POST",
                "/api/v1/exchange/orders",
                {**sell, "receipt_id": seller.receipt_id},
            )
        calls = [
            step
            for lot_id in listed
            for step in (
                (buyer.token, "POST", f"/api/v1/exchange/lots/{lot_id}/take", {"lots": 1}),
                (buyer.token, "POST", "/api/v1/exchange/orders", buy),
            )
        ]
        answers = at_once(server.base, calls)
    assert [status for status, _body in answers] == [201] * len(calls), answers
    with app.app_context():
        reads = get_session()
        assert (
            reads.scalar(select(func.count()).where(Trade.buyer_id == buyer.organisation_id)) == 24
        )
        assert problems(reads) == []
    app.extensions["agrilink.db"].dispose()

"""Checkouts written together (app.orders.grouped): the rules of a lone checkout, in arrival order, and
everything a lone checkout writes; what a batch cannot settle is left to place_orders."""

from datetime import time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.auth import OrgKind, Role
from app.catalog.models import ListingStatus, StockKind, StockMovement
from app.db import local_date, utcnow
from app.events import Event
from app.orders import grouped, services
from app.orders.models import Checkout, Order, OrderStatus, PaymentMethod
from app.payments import ledger
from app.payments.services import DEFAULT_FEE_BPS, set_credit_terms, set_fee_rate
from tests.factories import BatchFactory, ListingFactory, OrganisationFactory, UserFactory, member
from tests.helpers import ledger_problems
from tests.orders.steps import credit
from tests.orders.test_api import token

GATE = services.Delivery(
    "湄江中学食堂", local_date(utcnow()) + timedelta(days=1), time(6), time(6, 30)
)


@pytest.fixture
def buyers(session):
    """Three schools, each with a user and ¥1,000 in its wallet."""
    schools = [OrganisationFactory(kind=OrgKind.school) for _ in range(3)]
    for school in schools:
        credit(session, school.id, 100_000)
    return [(school, UserFactory()) for school in schools]


def request(buyer, lines, *, key, payment=PaymentMethod.wallet) -> grouped.CheckoutRequest:
    school, user = buyer
    wanted = {listing.id: quantity for listing, quantity in lines}
    return grouped.CheckoutRequest(
        buyer_id=school.id,
        buyer_name=school.name_zh,
        buyer_kind=school.kind,
        actor_id=user.id,
        wanted=wanted,
        delivery=GATE,
        payment=payment,
        key=key,
        request_hash=services._fingerprint(wanted, GATE, payment),
        unpaid_minutes=60,
    )


def alone(session, buyer, listing, quantity: int, *, key: str) -> services.Placed:
    """The checkout as place_orders places it, on its own."""
    school, user = buyer
    return services.place_orders(
        session,
        buyer_id=school.id,
        buyer_kind=school.kind,
        actor_id=user.id,
        lines=[{"listing_id": listing.id, "quantity": quantity}],
        delivery=GATE,
        idempotency_key=key,
    )


def test_a_batch_places_each_checkout_as_a_lone_one_would(session, buyers):
    cabbage = ListingFactory(title="大白菜", price_fen=300, quantity=100, batch=BatchFactory())
    chili = ListingFactory(title="辣椒", price_fen=1500, quantity=40)
    batch = [
        request(buyers[0], [(cabbage, 10), (chili, 4)], key="a"),
        request(buyers[1], [(cabbage, 20)], key="b"),
        request(buyers[2], [(chili, 6)], key="c"),
    ]

    placed = grouped.place_checkouts(session, batch)

    first, second, third = placed
    assert [len(p.orders) for p in placed] == [2, 1, 1]  # one order per seller
    assert [o.total_fen for o in first.orders] == [3000, 6000]
    assert {o.status for p in placed for o in p.orders} == {OrderStatus.paid}
    assert first.orders[0].lines[0].batch.code == cabbage.batch.code
    assert first.orders[1].seller.name_zh == chili.seller.name_zh
    session.expire_all()
    assert (cabbage.quantity, chili.quantity) == (70, 30)
    stored = session.get(Order, second.orders[0].id)
    assert (stored.buyer_id, stored.seller_id, stored.total_fen) == (
        buyers[1][0].id,
        cabbage.organisation_id,
        6000,
    )
    assert stored.checkout_id == second.checkout_id
    # Each line's stock movement, its balance counting down in arrival order.
    balances = session.execute(
        select(StockMovement.listing_id, StockMovement.balance, StockMovement.reason)
        .where(StockMovement.kind == StockKind.ordered)
        .order_by(StockMovement.id)
    ).all()
    assert balances == [
        (cabbage.id, 90, f"order:{first.orders[0].id}"),
        (chili.id, 36, f"order:{first.orders[1].id}"),
        (cabbage.id, 70, f"order:{second.orders[0].id}"),
        (chili.id, 30, f"order:{third.orders[0].id}"),
    ]
    # The money is held in each order's escrow, the event log has each order, and the books balance.
    assert ledger.balance(session, ledger.wallet(buyers[0][0].id)) == 100_000 - 9000
    assert ledger.balance(session, ledger.escrow(first.orders[1].id)) == 6000
    placed_events = session.scalar(
        select(func.count()).where(Event.kind == "order.placed", Event.subject.like("order:%"))
    )
    assert placed_events == 4
    assert ledger_problems(session) == []


def test_a_batch_places_at_the_fee_in_force_and_names_the_buyer_as_registered(session, buyers):
    cabbage = ListingFactory(price_fen=300, quantity=100)
    before = grouped.place_checkouts(session, [request(buyers[0], [(cabbage, 1)], key="a")])
    set_fee_rate(session, actor_id=buyers[0][1].id, basis_points=350)
    session.flush()  # as its own transaction's commit would

    after = grouped.place_checkouts(session, [request(buyers[1], [(cabbage, 1)], key="b")])

    assert before[0].orders[0].fee_bps == DEFAULT_FEE_BPS
    assert after[0].orders[0].fee_bps == 350
    assert session.get(Order, after[0].orders[0].id).fee_bps == 350
    assert after[0].orders[0].buyer.name_zh == buyers[1][0].name_zh


def test_the_first_to_arrive_gets_the_last_kilograms_and_the_rest_are_left_to_place_orders(
    session, buyers
):
    greens = ListingFactory(title="青菜", price_fen=500, quantity=5)
    batch = [request(buyer, [(greens, 2)], key=f"k{n}") for n, buyer in enumerate(buyers)]
    batch.append(request(buyers[0], [(greens, 1)], key="k3"))

    placed = grouped.place_checkouts(session, batch)

    assert [p is not None for p in placed] == [True, True, False, True]
    session.expire_all()
    assert (greens.quantity, greens.status) == (0, ListingStatus.sold_out)
    # The refused checkout's key is free: place_orders claims it and refuses it with the reason.
    assert session.scalar(select(func.count()).where(Checkout.idempotency_key == "k2")) == 0
    with pytest.raises(services.Conflict, match="sold out"):
        alone(session, buyers[2], greens, 2, key="k2")


def test_a_wallet_is_spent_in_arrival_order_and_a_short_one_is_left_alone(session, buyers):
    tea = ListingFactory(title="翠芽", price_fen=40_000, quantity=10)  # ¥400 a kilogram
    batch = [
        request(buyers[0], [(tea, 2)], key="x"),  # ¥800 of ¥1,000
        request(buyers[0], [(tea, 1)], key="y"),  # ¥400 more: short
        request(buyers[1], [(tea, 1)], key="z"),
    ]

    placed = grouped.place_checkouts(session, batch)

    assert [p is not None for p in placed] == [True, False, True]
    session.expire_all()
    assert tea.quantity == 7  # the short checkout took nothing
    assert ledger.balance(session, ledger.wallet(buyers[0][0].id)) == 20_000
    assert ledger_problems(session) == []


def test_keys_seen_before_card_payments_and_broken_rules_are_left_to_place_orders(session, buyers):
    rice = ListingFactory(title="大米", price_fen=600, quantity=100, min_order=5)
    draft = ListingFactory(status=ListingStatus.draft)
    own = ListingFactory(seller=buyers[2][0])
    first = grouped.place_checkouts(session, [request(buyers[0], [(rice, 5)], key="seen")])[0]

    placed = grouped.place_checkouts(
        session,
        [
            request(buyers[0], [(rice, 5)], key="seen"),  # a replay: place_orders answers it
            request(buyers[1], [(rice, 5)], key="twice"),
            request(buyers[1], [(rice, 5)], key="twice"),  # the same key twice in one batch
            request(buyers[1], [(rice, 2)], key="small"),  # under the minimum order
            request(buyers[1], [(draft, 1)], key="draft"),
            request(buyers[2], [(own, 1)], key="own"),
            request(buyers[1], [(rice, 5)], key="later", payment=PaymentMethod.later),
        ],
    )

    assert [p is not None for p in placed] == [False, True, False, False, False, False, True]
    assert placed[6].orders[0].status == OrderStatus.placed  # to pay later, nothing held
    assert placed[6].orders[0].expires_at is not None
    session.expire_all()
    assert rice.quantity == 85
    replay = alone(session, buyers[0], rice, 5, key="seen")
    assert replay.replayed and [o.id for o in replay.orders] == [o.id for o in first.orders]


def test_paying_on_account_needs_credit_terms_and_keeps_within_the_limit(session, buyers):
    admin = UserFactory()
    set_credit_terms(
        session, actor_id=admin.id, organisation_id=buyers[0][0].id, limit_fen=5000, days=30
    )
    beans = ListingFactory(title="豆角", price_fen=1000, quantity=100)
    batch = [
        request(buyers[0], [(beans, 3)], key="on-terms", payment=PaymentMethod.account),
        request(buyers[0], [(beans, 3)], key="over", payment=PaymentMethod.account),
        request(buyers[1], [(beans, 1)], key="no-terms", payment=PaymentMethod.account),
    ]

    placed = grouped.place_checkouts(session, batch)

    assert [p is not None for p in placed] == [True, False, False]
    assert ledger.balance(session, ledger.receivable(buyers[0][0].id)) == -3000
    assert ledger_problems(session) == []


def test_the_api_answers_a_batched_checkout_as_it_shows_the_orders_afterwards(client, session):
    melon = ListingFactory(title="西瓜", price_fen=250, quantity=30, batch=BatchFactory())
    buyer = member(kind=OrgKind.school, role=Role.manager)
    credit(session, buyer.organisation_id, 10_000)
    headers = token(buyer, "agl_grouped")

    answer = client.post(
        "/api/v1/orders",
        json={
            "lines": [{"listing_id": melon.id, "quantity": 4}],
            "delivery_point": GATE.point,
            "delivery_date": GATE.day.isoformat(),
            "window_start": "06:00",
            "window_end": "06:30",
        },
        headers=headers,
    )

    assert answer.status_code == 201, answer.json
    (order,) = answer.json["orders"]
    assert order == client.get(f"/api/v1/orders/{order['id']}", headers=headers).json
    assert order["lines"][0]["batch_code"] == melon.batch.code
    session.refresh(melon)
    assert melon.quantity == 26


def test_a_batch_of_orders_all_to_pay_later_holds_no_money(session, buyers):
    peppers = ListingFactory(title="辣椒", price_fen=1200, quantity=10)

    (placed,) = grouped.place_checkouts(
        session, [request(buyers[0], [(peppers, 2)], key="later", payment=PaymentMethod.later)]
    )

    assert placed.orders[0].status == OrderStatus.placed
    assert ledger.balance(session, ledger.wallet(buyers[0][0].id)) == 100_000
    assert ledger.balance(session, ledger.escrow(placed.orders[0].id)) == 0


def test_a_key_posted_before_fails_a_batch_posted_as_unseen_whole(session, buyers):
    wallet = ledger.wallet(buyers[0][0].id)
    once = ledger.Posting(key="test:once", kind="test", moves={wallet: -100, ledger.BANK: 100})
    ledger.post_many(session, [once])

    with pytest.raises(IntegrityError), session.begin_nested():
        ledger.post_many(session, [once], unseen=True)

    assert ledger.balance(session, wallet) == 100_000 - 100  # moved once
    assert ledger_problems(session) == []
